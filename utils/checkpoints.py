"""Load a template checkpoint into an MInterface, with a clear error for every way a file can be wrong."""

import pickle
import zipfile
from typing import Any

import torch

from utils.errors import UserError

REQUIRED_HYPERPARAMETERS = ("model_name", "model_kwargs")


def read_checkpoint(path: str) -> dict[str, Any]:
    """Read a checkpoint with weights_only=True, refusing files that are not template checkpoints."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"checkpoint {path} cannot be read ({first_line}): pass a .ckpt written by this template"
        ) from None
    hyperparameters = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    if not isinstance(hyperparameters, dict) or any(key not in hyperparameters for key in REQUIRED_HYPERPARAMETERS):
        raise UserError(f"checkpoint {path} was not written by this template (no model_name and model_kwargs in its "
                        f"hyper_parameters): pass a .ckpt from a run's checkpoints/ folder")
    return checkpoint


def load_model(path: str, val_labels: list[str], test_labels: list[str]) -> Any:
    """Rebuild the checkpoint's net from its stored hyperparameters, with this run's dataset labels."""
    from model.model_interface import MInterface

    checkpoint = read_checkpoint(path)
    model = MInterface(**{**checkpoint["hyper_parameters"], "val_labels": val_labels, "test_labels": test_labels})
    state = {key: value for key, value in checkpoint["state_dict"].items() if key.startswith("net.")}
    try:
        model.load_state_dict(state, strict=False)
    except RuntimeError as error:
        raise UserError(f"checkpoint {path} does not fit {checkpoint['hyper_parameters']['model_name']} as it is now "
                        f"({str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else error}): "
                        f"use a checkpoint of the current net") from None
    return model
