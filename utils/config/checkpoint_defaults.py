"""The defaults of --mode validate, test and predict: what the run that wrote the checkpoint chose."""

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from utils.config.config_files import REPLACED_KEYS, load_config, without_replaced_keys
from utils.config.dataset_entries import parse_entry
from utils.config.framework_options import names_where
from utils.errors import UserError
from utils.shared_names import CHECKPOINTS_FOLDER, CONFIG_FILE

# The key under which a checkpoint stores its run's resolved configuration (what config.yaml holds).
STORED_CONFIG = "template_config"
# What the checkpoint's run was: its net, its datasets, how they were split and what its task means. How this
# command runs (hardware, loop lengths, loggers, where runs go) stays its own. The net's and the datasets'
# constructor arguments follow too (parse_command_line).
RUN_OPTIONS = names_where(from_checkpoint=True)


def _read(path: str) -> dict[str, Any] | None:
    """The checkpoint's contents, or None where it cannot be read: the checkpoint's own check says why, later."""
    if not Path(path).is_file() or not zipfile.is_zipfile(path):
        return None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError):
        return None
    net = checkpoint.get("template_net") if isinstance(checkpoint, dict) else None
    return checkpoint if isinstance(net, dict) and isinstance(net.get("model_name"), str) else None


def _run_folder_config(checkpoint: Path) -> dict[str, Any]:
    """The config.yaml of the run folder whose checkpoints/ holds the file, or nothing when it lies elsewhere."""
    config = checkpoint.parent.parent / CONFIG_FILE
    if checkpoint.parent.name != CHECKPOINTS_FOLDER or not config.is_file():
        return {}
    return load_config(str(config), "the checkpoint's run config")


def checkpoint_run(path: str) -> dict[str, Any]:
    """The options of the run that wrote a checkpoint: those it stores, else its run folder's config.yaml (older
    checkpoints), else its net's name alone. Empty for a file that is no readable template checkpoint."""
    checkpoint = _read(path)
    if checkpoint is None:
        return {}
    stored = checkpoint.get(STORED_CONFIG)
    if not isinstance(stored, dict):
        stored = _run_folder_config(Path(path))
    # The net is the one whose weights the file holds, whatever a config beside it says.
    stored = {**stored, "model_name": checkpoint["template_net"]["model_name"]}
    if stored.get("train_dataset") and not stored.get("val_datasets"):
        # A cross-validation validated on its held-out fold, which no other mode builds: its test sets stand in.
        stored["val_datasets"] = stored.get("test_datasets")
    return stored


def name_defaults(stored: dict[str, Any], given: list[str]) -> dict[str, Any]:
    """The run options of the checkpoint's run (its net, datasets, experiment and task), less those that options
    given (`--name` words of the command line and config file) replace."""
    defaults = {key: value for key, value in stored.items() if key in RUN_OPTIONS}
    return without_replaced_keys(defaults, given)


def stored_dataset_names(defaults: dict[str, Any]) -> set[str]:
    """The dataset files the checkpoint's run used that this run still uses by default."""
    texts = [defaults.get(key) for key in REPLACED_KEYS]  # the options of dataset entries
    flat = [text for value in texts if value for text in ([value] if isinstance(value, str) else value)]
    return {parse_entry(text).name for text in flat}


def check_same_net(path: str, stored: dict[str, Any], model_name: str) -> None:
    """Refuse a --model_name other than the net whose weights the checkpoint holds."""
    if stored and stored["model_name"] != model_name:
        raise UserError(f"--ckpt {path} holds the weights of {stored['model_name']}, not of --model_name "
                        f"{model_name}: drop --model_name (the checkpoint's net is the default), or pass a "
                        f"checkpoint of {model_name}")
