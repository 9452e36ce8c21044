"""Read a template checkpoint and the config.yaml of the run folder that holds it."""

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from utils.loading.yaml_files import read_yaml_mapping
from utils.shared_names import CHECKPOINTS_FOLDER, CONFIG_FILE

# The key under which a checkpoint stores its run's resolved configuration (what config.yaml holds).
STORED_CONFIG = "template_config"


# What torch.load raises for a file that is not a checkpoint it will read.
LOAD_ERRORS = (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError)


def load_checkpoint_file(path: str) -> Any:
    """torch.load of a checkpoint as every reader here makes it: weights only, onto the CPU, memory-mapped (the checks
    read a checkpoint before the run loads it, and a large one is not copied twice)."""
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def exported_kind(path: str) -> str | None:
    """What --mode export wrote, when a zip file is one: a TorchScript archive or a torch.export program."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if any(name.endswith("/constants.pkl") for name in names):
        return "a TorchScript file (torch.jit.load reads it)"
    if any(name.endswith("/archive_format") for name in names):
        return "a torch.export program (torch.export.load reads it)"
    return None


def readable_checkpoint(path: str) -> dict[str, Any] | None:
    """The checkpoint's contents, or None where it cannot be read: the checkpoint's own check says why, later."""
    if not Path(path).is_file() or not zipfile.is_zipfile(path) or exported_kind(path):
        return None
    try:
        checkpoint = load_checkpoint_file(path)
    except LOAD_ERRORS:
        return None
    net = checkpoint.get("template_net") if isinstance(checkpoint, dict) else None
    return checkpoint if isinstance(net, dict) and isinstance(net.get("model_name"), str) else None


def run_folder_config(checkpoint: Path) -> dict[str, Any]:
    """The config.yaml of the run folder whose checkpoints/ holds the file, or nothing when it lies elsewhere."""
    config = checkpoint.parent.parent / CONFIG_FILE
    if checkpoint.parent.name != CHECKPOINTS_FOLDER or not config.is_file():
        return {}
    return read_yaml_mapping(str(config), "the checkpoint's run config")
