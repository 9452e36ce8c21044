"""Checks of the options as a whole (hardware, mode, loop lengths), run before anything is created under Logs/."""

import math
from pathlib import Path
from typing import Any

import torch

from utils.config.experiment_options import check_experiment_options
from utils.config.resources import check_resources, runs_on_cpu
from utils.config.signature_options import check_required
from utils.errors import UserError
from utils.loading.user_classes import load_class
from utils.shared_names import CHECKPOINTS_FOLDER, last_checkpoint

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")


def _devices_text(devices: Any) -> str:
    return ",".join(map(str, devices)) if isinstance(devices, list) else str(devices)


def check_devices(options: dict[str, Any], on_cpu: bool) -> None:
    """Refuse a --devices value the chosen accelerator cannot give."""
    devices = options["devices"]
    if devices == "auto" or options["accelerator"] == "mps":
        return
    if on_cpu:
        if isinstance(devices, list) or devices < 1:
            raise UserError(f"--devices {_devices_text(devices)} is for GPUs (indices, or -1 for all), but this run "
                            f"is on CPU: pass a number of processes (--devices 2) or auto")
        return
    available = torch.cuda.device_count()
    wanted = max(devices, default=-1) + 1 if isinstance(devices, list) else devices
    if wanted > available:
        raise UserError(f"--devices {_devices_text(devices)} asks for more GPUs than the {available} visible here: "
                        f"pass --devices {available}, -1 for all, or indices below {available}")


def check_hardware(options: dict[str, Any]) -> None:
    """Refuse an accelerator, device count, precision or strategy this machine cannot run."""
    accelerator = options["accelerator"]
    if accelerator not in ACCELERATORS:
        raise UserError(f"--accelerator {accelerator} is unknown: use one of {', '.join(ACCELERATORS)}")
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise UserError(f"--accelerator {accelerator} asked for, but no CUDA GPU is visible: use --accelerator cpu")
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise UserError("--accelerator mps asked for, but Apple's MPS is not available here: use --accelerator cpu")
    on_cpu = runs_on_cpu(options)
    check_devices(options, on_cpu)
    if on_cpu and options["precision"] in ("16-mixed", "16-true"):
        raise UserError(f"--precision {options['precision']} needs a GPU: on CPU use 32-true or bf16-mixed")
    if on_cpu and options["strategy"] == "fsdp":
        raise UserError("--strategy fsdp needs GPUs: on CPU use --strategy ddp")
    if on_cpu and options["sync_batchnorm"]:
        raise UserError("--sync_batchnorm needs GPUs (PyTorch's SyncBatchNorm runs on CUDA only): drop it on CPU")


def check_mode(options: dict[str, Any]) -> None:
    """Require --format with --mode export alone, and a readable checkpoint for the modes that evaluate one."""
    checkpoint = options["ckpt"]
    if options["mode"] == "export" and not options["format"]:
        raise UserError("--mode export needs --format onnx, exported_program or torchscript: the file it writes "
                        "beside --ckpt")
    if options["mode"] != "export" and options["format"]:
        raise UserError(f"--format {options['format']} is for --mode export: add --mode export --ckpt PATH, or "
                        f"drop --format")
    if options["mode"] == "fit":
        if checkpoint:
            raise UserError("--ckpt is for --mode validate, test, predict or export: drop it to train from scratch")
        return
    if not checkpoint:
        raise UserError(f"--mode {options['mode']} needs --ckpt PATH: a checkpoint from a run's checkpoints/ folder")
    if Path(checkpoint).is_dir():
        # A run's folder or its checkpoints/ folder: either way, the run's last.ckpt.
        run_dir = Path(checkpoint).parent if Path(checkpoint).name == CHECKPOINTS_FOLDER else Path(checkpoint)
        raise UserError(f"--ckpt {checkpoint} is a folder: pass a .ckpt file in it, such as {last_checkpoint(run_dir)}")
    if not Path(checkpoint).is_file():
        raise UserError(f"checkpoint {checkpoint} does not exist: pass a .ckpt file from a run's checkpoints/ folder")


def _processes(options: dict[str, Any]) -> int:
    devices = options["devices"]
    per_node = len(devices) if isinstance(devices, list) else devices if isinstance(devices, int) and devices > 0 else 1
    return per_node * options["num_nodes"]


def train_items_per_process(options: dict[str, Any], train_items: int) -> int:
    """The train items each process sees in an epoch (its sampler pads the set to a multiple of the processes)."""
    return math.ceil(train_items / _processes(options))


def check_val_check_interval(options: dict[str, Any], train_items: int) -> None:
    """Refuse a validation interval, in batches, longer than the training batches of an epoch."""
    interval, limit = options["val_check_interval"], options["limit_train_batches"]
    if not isinstance(interval, int) or options["fast_dev_run"] or options["mode"] != "fit":
        return
    per_process, size = train_items_per_process(options, train_items), options["batch_size"]
    batches = per_process // size if options["drop_last"] else math.ceil(per_process / size)
    batches = min(batches, limit) if isinstance(limit, int) else int(batches * limit)
    if interval > batches:
        raise UserError(f"--val_check_interval {interval} is more than the {batches} training batches of an epoch: "
                        f"pass at most {batches}, or a fraction of an epoch such as 0.5")


def check_options(options: dict[str, Any]) -> None:
    """Every whole-run check, in the order a user would fix them."""
    check_experiment_options(options)
    check_mode(options)
    check_hardware(options)
    check_resources(options)
    if options["mode"] == "predict" and _processes(options) > 1:
        raise UserError("--mode predict runs in one process, so predictions.pt holds every item in order: "
                        "pass --devices 1 --num_nodes 1")
    if options["min_epochs"] > options["max_epochs"]:
        raise UserError(f"--min_epochs {options['min_epochs']} is above --max_epochs {options['max_epochs']}")
    if options["mode"] == "fit":
        # The other modes rebuild the net from the checkpoint's own arguments.
        check_required(load_class("model", options["model_name"]), options)
