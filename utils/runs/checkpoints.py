"""Read a template checkpoint back, with a clear error for every way a file can be wrong."""

import hashlib
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import torch

from utils.config.signature_options import check_required
from utils.errors import UserError
from utils.loading.constructor_parameters import unknown_keywords
from utils.loading.user_classes import load_class
from utils.stored_runs.checkpoint_files import LOAD_ERRORS, exported_kind, load_checkpoint_file

# Raised when what a checkpoint stores, or how, changes; a checkpoint of another format is refused by name.
CHECKPOINT_FORMAT = 4


# Where a checkpoint keeps the digest of its weights, written with them and checked whenever it is read.
WEIGHTS_DIGEST = "template_weights_digest"


HOLDS_TENSORS = (torch.Tensor, dict, list, tuple)


def named_tensors(value: Any, name: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor in a checkpoint's dicts, lists and tuples, with its path of keys, in stored order."""
    if isinstance(value, torch.Tensor):
        yield name, value
        return
    # Only entries that are or hold tensors are visited: the random states are tuples of hundreds of numbers.
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for key, item in items:
        if isinstance(item, HOLDS_TENSORS) and key != WEIGHTS_DIGEST:
            yield from named_tensors(item, f"{name}/{key}")


def weights_digest(checkpoint: dict[str, Any]) -> str:
    """A SHA-256 over every tensor's path, dtype, shape and bytes (weights, optimizer states, buffers): any altered
    byte of them changes it."""
    digest = hashlib.sha256()
    for name, tensor in named_tensors(checkpoint):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{tensor.dtype}:{list(tensor.shape)}\0".encode())
        if flat.numel():
            digest.update(flat.view(torch.uint8).numpy())  # read in place: no copy of the bytes
    return digest.hexdigest()


def check_weights_digest(path: str, checkpoint: dict[str, Any]) -> None:
    """Refuse a checkpoint whose weights differ from the digest saved with them (one without a digest passes)."""
    stored = checkpoint.get(WEIGHTS_DIGEST)
    if stored is not None and stored != weights_digest(checkpoint):
        raise UserError(f"checkpoint {path}: its weights do not match the digest saved with them, so the file was "
                        f"altered or damaged after it was written: use another checkpoint of the run, or retrain")


def _is_template_checkpoint(checkpoint: Any) -> bool:
    net = checkpoint.get("template_net") if isinstance(checkpoint, dict) else None
    return (isinstance(net, dict) and isinstance(net.get("model_name"), str)
            and isinstance(net.get("model_kwargs"), dict) and isinstance(checkpoint.get("state_dict"), dict))


# Pickled objects a LightningModule's save_hyperparameters keeps: the classes of nets, optimizers and their partials.
OBJECT_GLOBALS = re.compile(r"(?:[\w.]+\.)?[A-Z]\w*|functools\.partial")
KEEP_OBJECTS_OUT = ("a LightningModule's save_hyperparameters() keeps the objects passed to its __init__ (a net, an "
                    "optimizer, a scheduler): write save_hyperparameters(ignore=[...]) naming those parameters, then "
                    "retrain; the template itself stores plain values only")


def _load_failure(error: Exception) -> str:
    """Say in one phrase why torch.load refused a file."""
    text = str(error)
    unsafe = re.search(r"GLOBAL ([\w.]+)", text)
    if unsafe and OBJECT_GLOBALS.fullmatch(unsafe.group(1)):
        return (f"it holds a pickled {unsafe.group(1)} object, which torch reads only by running code from the file: "
                f"{KEEP_OBJECTS_OUT}")
    if unsafe:
        return (f"it asks to load the global {unsafe.group(1)}, which no checkpoint of this template holds: do not "
                f"trust this file, a pickle can run code when it loads")
    if "Weights only load failed" in text:  # torch's own advice to turn weights_only off is never passed on
        return f"it holds objects that are not tensors or plain values: {KEEP_OBJECTS_OUT}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def read_checkpoint(path: str) -> dict[str, Any]:
    """Read a checkpoint with weights_only=True, refusing files that are not template checkpoints."""
    if not zipfile.is_zipfile(path):
        raise UserError(f"checkpoint {path} is not a readable checkpoint (not the zip archive torch.save writes: "
                        f"empty, truncated or another kind of file): pass a .ckpt from a run's checkpoints/ folder")
    exported = exported_kind(path)
    if exported:
        raise UserError(f"checkpoint {path} is {exported}, an exported net, not a checkpoint: pass a .ckpt from a "
                        f"run's checkpoints/ folder")
    try:
        checkpoint = load_checkpoint_file(path)
    except LOAD_ERRORS as error:
        raise UserError(
            f"checkpoint {path} cannot be read ({_load_failure(error)}): pass a .ckpt written by this template"
        ) from None
    if not _is_template_checkpoint(checkpoint):
        raise UserError(f"checkpoint {path} was not written by this template (it does not name its net): pass a "
                        f".ckpt from a run's checkpoints/ folder")
    check_weights_digest(path, checkpoint)
    written = checkpoint.get("template_format")
    if written != CHECKPOINT_FORMAT:
        raise UserError(f"checkpoint {path} was written by another version of this template (checkpoint format "
                        f"{written}, this version reads format {CHECKPOINT_FORMAT}): use the template version that "
                        f"wrote it, or retrain")
    return checkpoint


def check_net_arguments(path: str, model_name: str, model_kwargs: dict[str, Any]) -> type:
    """Return the checkpoint's net class, refusing stored arguments that its __init__ no longer takes."""
    try:
        net_class = load_class("model", model_name)
    except UserError as error:
        raise UserError(f"checkpoint {path} holds a {model_name} net, which cannot be loaded now: {error}") from None
    unknown = unknown_keywords(net_class, list(model_kwargs))
    if unknown:
        raise UserError(f"checkpoint {path} was trained with {net_class.__name__}({unknown[0]}="
                        f"{model_kwargs[unknown[0]]!r}), but model/{model_name}.py has no parameter {unknown[0]!r} "
                        f"now: restore that parameter or use a checkpoint of the current net")
    try:
        check_required(net_class, model_kwargs)
    except UserError as error:
        raise UserError(f"checkpoint {path} does not store every argument model/{model_name}.py needs now: "
                        f"{error}") from None
    return net_class


def check_checkpoint(path: str) -> None:
    """Refuse, before anything is built, a checkpoint that cannot be read or whose net no longer takes its arguments."""
    net = read_checkpoint(path)["template_net"]
    check_net_arguments(path, net["model_name"], net["model_kwargs"])


def stored_validation(checkpoint_path: str) -> tuple[int, dict[str, float]]:
    """The global step of a checkpoint and the val metrics the run reported at that step, read from the file."""
    checkpoint = read_checkpoint(checkpoint_path)
    return checkpoint["global_step"], checkpoint.get("validation_history", {}).get(checkpoint["global_step"], {})


def check_resume_fits(path: str, checkpoint: dict[str, Any], module_state: dict[str, Any]) -> None:
    """Refuse, before the run folder is touched, a checkpoint (read from `path`) whose tensors do not fit the module
    built now."""
    stored = checkpoint["state_dict"]
    missing, unexpected = sorted(set(module_state) - set(stored)), sorted(set(stored) - set(module_state))
    if missing or unexpected:
        which = f"the net now has {missing[0]!r}, which it lacks" if missing else f"it has {unexpected[0]!r}, " \
                f"which the net now lacks"
        raise UserError(f"checkpoint {path} does not fit the net built now ({which}): resume with the net and "
                        f"options the run was trained with, or start a new run")
    for key, tensor in module_state.items():
        if isinstance(tensor, torch.Tensor) and tuple(stored[key].shape) != tuple(tensor.shape):
            raise UserError(f"checkpoint {path} does not fit the net built now: {key} has shape "
                            f"{list(stored[key].shape)} in the checkpoint and {list(tensor.shape)} in the net: "
                            f"resume with the options the run was trained with, or start a new run")
