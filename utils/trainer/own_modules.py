"""The escape hatch: a class in model/ that is itself a LightningModule is trained as it is."""

import contextlib
import io
from functools import partial
from pathlib import Path
from typing import Any

import torch

from utils.config.command_line import Command
from utils.errors import UserError
from utils.lightning_package import Callback, LightningModule
from utils.loading.constructor_parameters import NET, OPTIMIZER
from utils.loading.instances import build_instance
from utils.loading.torch_optimizers import optimizer_class, scheduler_class
from utils.loading.user_classes import load_class
from utils.optimization import call_arguments
from utils.runs.checkpoints import check_net_arguments, read_checkpoint
from utils.trainer.dataset_labels import DatasetLabels
from utils.trainer.divergence import OwnModuleLossWatch
from utils.trainer.module_hooks import defines_hook
from utils.trainer.module_monitor import ModuleMonitor
from utils.trainer.own_module_sets import PerSetMetrics
from utils.trainer.run_state import RunState

COMPILED_NAME = "_orig_mod."  # what torch.compile's wrapper adds to the state dict keys of the module it wraps


def is_own_module(cls: type) -> bool:
    """Whether a model/ class is a LightningModule of its own (rather than a net MInterface wraps)."""
    return isinstance(cls, type) and issubclass(cls, LightningModule)


def check_module_defines_mode(cls: type, mode: str) -> None:
    """Refuse --mode fit, validate or test on an own module that lacks a method Lightning needs for it, and
    --mode export on any: what an own module's forward takes and gives is its own (a GAN's, several nets')."""
    if mode == "export":
        raise UserError(f"--mode export writes a net from model/ that MInterface wraps; {cls.__name__} is its own "
                        f"LightningModule: export it yourself, e.g. torch.export.export(module, (inputs,)) or "
                        f"module.to_onnx(path, inputs)")
    missing = [hook for hook in ("training_step", "configure_optimizers") if not defines_hook(cls, hook)]
    if mode == "fit" and missing:
        raise UserError(f"--mode fit: {cls.__name__} defines no {missing[0]}, which Lightning needs to train it: "
                        f"add {missing[0]} to it, or evaluate a checkpoint with --mode test --ckpt PATH")
    step = {"validate": "validation_step", "test": "test_step", "predict": "predict_step"}.get(mode)
    if step and not defines_hook(cls, step):
        # Lightning's own predict_step would hand the whole (inputs, target) batch to forward.
        raise UserError(f"--mode {mode}: {cls.__name__} defines no {step}, so there is nothing to {mode}: "
                        f"add {step} to it, or use another --mode")


def check_manual_optimization(module: LightningModule, options: dict[str, Any]) -> None:
    """Refuse --gradient_clip_val and --accumulate_grad_batches for a module that steps its optimizers itself,
    which Lightning cannot clip or accumulate for."""
    given = [name for name, off in (("gradient_clip_val", 0), ("accumulate_grad_batches", 1)) if options[name] != off]
    if given and not module.automatic_optimization:
        raise UserError(f"--{given[0]} {options[given[0]]}: {type(module).__name__} steps its optimizers itself "
                        f"(automatic_optimization is False), so Lightning cannot apply it: drop --{given[0]}, or "
                        f"clip and accumulate in its training_step (self.clip_gradients)")


def injected_objects(described: dict[str, Any]) -> dict[str, Any]:
    """The objects an own module is given, built from their plain description: nets, and optimizer and scheduler
    partials that the module calls with `params=...` and `optimizer=...`."""
    objects: dict[str, Any] = {}
    for name, item in described.items():
        if item is None:
            objects[name] = None
        elif item["kind"] == NET:
            objects[name] = build_instance(load_class("model", item["model_name"]), item["model_kwargs"])
        else:
            cls = optimizer_class(item["name"]) if item["kind"] == OPTIMIZER else scheduler_class(item["name"])
            objects[name] = partial(cls, **call_arguments(cls, item["arguments"]))
    return objects


def build_own_module(cls: type, arguments: dict[str, Any], described: dict[str, Any]) -> LightningModule:
    """A fresh own module, its plain arguments from the command line and its objects injected."""
    return cls(**arguments, **injected_objects(described))


def without_compiled_names(checkpoint: dict[str, Any]) -> io.BytesIO | None:
    """The checkpoint, as a file in memory, with the `_orig_mod.` torch.compile puts in its state dict's keys taken
    out (a module that compiles its net in `setup("fit")`, as lightning-hydra-template's do, builds it plain);
    None when no key holds it."""
    state = checkpoint["state_dict"]
    if not any(COMPILED_NAME in key for key in state):
        return None
    buffer = io.BytesIO()
    torch.save({**checkpoint, "state_dict": {key.replace(COMPILED_NAME, ""): value for key, value in state.items()}},
               buffer)
    buffer.seek(0)
    return buffer


def own_module_from_checkpoint(path: str | Path) -> LightningModule:
    """Load an own module through its own `load_from_checkpoint`, its arguments and objects rebuilt from what the
    checkpoint stores as plain values; the weights load strictly, a compiled net's into the plain one."""
    checkpoint = read_checkpoint(str(path))
    net = checkpoint["template_net"]
    cls = check_net_arguments(str(path), net["model_name"], net["model_kwargs"])
    objects = injected_objects(net.get("injected", {}))
    load = partial(cls.load_from_checkpoint, map_location="cpu", weights_only=True, strict=True,
                   **net["model_kwargs"], **objects)
    try:
        return load(str(path))
    except RuntimeError as error:
        plain = without_compiled_names(checkpoint)
        if plain is not None:
            with contextlib.suppress(RuntimeError):
                return load(plain)
        details = [line.strip() for line in str(error).splitlines()[1:] if line.strip()] or [str(error)]
        raise UserError(f"checkpoint {path} does not fit {cls.__name__} as model/{net['model_name']}.py defines it "
                        f"now ({details[0]}): use a checkpoint of the current module") from None


def module_callbacks(command: Command, run_dir: Path) -> list[Callback]:
    """The run-state recorder; for an own module also the callbacks that keep its keys per dataset, its monitor and
    watch its loss."""
    recorder = RunState(command.options["model_name"], command.net_arguments(), command.injected())
    if not is_own_module(command.model_class):
        return [recorder]
    labels = {"val": command.val_labels, "test": command.test_labels}
    stated_mode = command.options["monitor_mode"] if "monitor_mode" in command.stated else None
    monitor = ModuleMonitor(command.settings.trainer.monitor, run_dir, stated_mode)
    fitting = command.settings.run.mode == "fit"
    fit_only = [OwnModuleLossWatch(), monitor] if fitting else []
    return [PerSetMetrics(labels), DatasetLabels(labels), *fit_only, recorder]
