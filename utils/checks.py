"""Checks of the options as a whole, run before anything is created under Logs/."""

from pathlib import Path
from typing import Any

import torch

from utils.errors import UserError
from utils.losses import check_loss_fits_task
from utils.metrics import logged_keys

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")


def monitorable_keys(options: dict[str, Any], val_labels: list[str]) -> list[str]:
    """The keys a fit logs at validation time, so ModelCheckpoint and EarlyStopping can follow them."""
    keys = logged_keys(options["task"], val_labels, [])
    return [key for key in keys if key.startswith(("val/", "train/"))]


def check_monitor(options: dict[str, Any], val_labels: list[str]) -> None:
    """Refuse a monitor key the run will not log, listing the keys it will."""
    keys = monitorable_keys(options, val_labels)
    if options["monitor"] not in keys:
        raise UserError(f"--monitor {options['monitor']} is not a key this run logs: choose one of {', '.join(keys)}")


def check_hardware(options: dict[str, Any]) -> None:
    """Refuse an accelerator, precision or strategy this machine cannot run."""
    accelerator = options["accelerator"]
    if accelerator not in ACCELERATORS:
        raise UserError(f"--accelerator {accelerator} is unknown: use one of {', '.join(ACCELERATORS)}")
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise UserError(f"--accelerator {accelerator} asked for, but no CUDA GPU is visible: use --accelerator cpu")
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    if on_cpu and options["precision"] in ("16-mixed", "16-true"):
        raise UserError(f"--precision {options['precision']} needs a GPU: on CPU use 32-true or bf16-mixed")
    if on_cpu and options["strategy"] == "fsdp":
        raise UserError("--strategy fsdp needs GPUs: on CPU use --strategy ddp")


def check_mode(options: dict[str, Any]) -> None:
    """Require a readable checkpoint for the modes that evaluate one, and none for fit."""
    checkpoint = options["ckpt"]
    if options["mode"] == "fit":
        if checkpoint:
            raise UserError("--ckpt is for --mode validate, test or predict: drop it to train from scratch")
        return
    if not checkpoint:
        raise UserError(f"--mode {options['mode']} needs --ckpt PATH: a checkpoint from a run's checkpoints/ folder")
    if not Path(checkpoint).is_file():
        raise UserError(f"checkpoint {checkpoint} does not exist: pass a .ckpt file from a run's checkpoints/ folder")


def check_options(options: dict[str, Any], val_labels: list[str]) -> None:
    """Every whole-run check, in the order a user would fix them."""
    check_loss_fits_task(options["loss"], options["task"])
    check_mode(options)
    check_hardware(options)
    if options["mode"] == "fit":
        check_monitor(options, val_labels)
    if options["min_epochs"] > options["max_epochs"]:
        raise UserError(f"--min_epochs {options['min_epochs']} is above --max_epochs {options['max_epochs']}")
