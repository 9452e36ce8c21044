"""The chosen torch.optim optimizer and scheduler, built with the run's arguments and what the run knows, and the
linear warm-up that scales whatever learning rate the scheduler gives."""

import inspect
import typing
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import torch
from torch.optim import lr_scheduler

from utils.config.settings import OptimizationSettings
from utils.errors import UserError
from utils.loading.torch_optimizers import FILLED_IN, PER_STEP_SCHEDULERS, optimizer_class, scheduler_class


def call_arguments(cls: type, arguments: dict[str, Any]) -> dict[str, Any]:
    """`arguments` as `cls` takes them: a list stored for a tuple parameter (such as betas) becomes a tuple again."""
    parameters = inspect.signature(cls.__init__).parameters
    converted = dict(arguments)
    for name, value in arguments.items():
        default = parameters[name].default
        annotation = parameters[name].annotation
        if isinstance(value, list) and (isinstance(default, tuple) or typing.get_origin(annotation) is tuple):
            converted[name] = tuple(value)
    return converted


def build_optimizer(parameters: Any, settings: OptimizationSettings) -> torch.optim.Optimizer:
    """The chosen optimizer over `parameters`, with the run's keyword arguments."""
    chosen = optimizer_class(settings.optimizer)
    return chosen(parameters, **call_arguments(chosen, settings.optimizer_arguments))


def group_rates(optimizer: torch.optim.Optimizer) -> float | list[float]:
    """The optimizer's learning rate, or one per parameter group when it has several (as one_cycle_lr's max_lr and
    cyclic_lr's base_lr take them)."""
    rates = [group["lr"] for group in optimizer.param_groups]
    return rates[0] if len(rates) == 1 else rates


def known_values(settings: OptimizationSettings, trainer: Any,
                 optimizer: torch.optim.Optimizer) -> dict[str | None, Callable[[], Any]]:
    """What the run knows, each read only when a scheduler asks for it."""
    return {"max_epochs": lambda: trainer.max_epochs or 1, "total_steps": lambda: trainer.estimated_stepping_batches,
            "lr": lambda: group_rates(optimizer), "monitor_mode": lambda: settings.monitor_mode}


def build_schedulers(optimizer: torch.optim.Optimizer, settings: OptimizationSettings, trainer: Any) -> list[dict]:
    """Lightning's configs for the chosen scheduler (none for `none`), after hooking the warm-up on the optimizer.

    `trainer` gives what the run knows: `max_epochs`, `estimated_stepping_batches` and `global_step`.
    """
    if settings.warmup_steps > 0:
        add_warm_up(optimizer, settings.warmup_steps, lambda: trainer.global_step)
    chosen = scheduler_class(settings.scheduler)
    if chosen is None:
        return []
    known = known_values(settings, trainer, optimizer)
    filled = {name: known[source]() for name, source in FILLED_IN.get(chosen.__name__, {}).items() if source}
    arguments = call_arguments(chosen, settings.scheduler_arguments)
    try:
        scheduler = chosen(optimizer, **arguments, **filled)
    except (ValueError, ZeroDivisionError) as error:
        given = ", ".join(f"{name}={value}" for name, value in filled.items())  # what the run filled in
        # OneCycleLR divides by the steps of its warm-up phase: pct_start x total_steps - 1 of them.
        hint = (": choose --pct_start so that it times the run's steps is not 1, or train more steps"
                if isinstance(error, ZeroDivisionError) else ": change the --scheduler options or the run's length")
        raise UserError(f"--scheduler {settings.scheduler} cannot schedule this run{f' ({given})' if given else ''}: "
                        f"{type(error).__name__}: {str(error).splitlines()[0]}{hint}") from None
    config = {"scheduler": scheduler, "interval": "step" if chosen.__name__ in PER_STEP_SCHEDULERS else "epoch",
              "name": "lr"}
    if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
        config["monitor"] = settings.monitor
    return [config]


def add_warm_up(optimizer: torch.optim.Optimizer, steps: int, steps_done: Callable[[], int]) -> None:
    """Scale every learning rate by (n + 1) / (steps + 1) for the n-th of the first `steps` optimizer steps.

    The factor is put on for the step alone and taken off after it, so any scheduler goes on from its own values.
    """
    scheduled: list[Any] = []

    def scale(stepped: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        factor = (steps_done() + 1) / (steps + 1)
        if factor < 1:
            scheduled[:] = [group["lr"] for group in stepped.param_groups]
            for group in stepped.param_groups:
                group["lr"] = group["lr"] * factor

    def restore(stepped: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if scheduled:
            for group, lr in zip(stepped.param_groups, scheduled, strict=True):
                group["lr"] = lr
            scheduled.clear()

    optimizer.register_step_pre_hook(scale)
    optimizer.register_step_post_hook(restore)


def check_optimization(settings: OptimizationSettings, max_epochs: int, on_cpu: bool = False) -> None:
    """Build the optimizer and the scheduler once on a stand-in parameter (and, for a run on the CPU, step the
    optimizer there once): values torch refuses are a UserError."""
    parameter = torch.nn.Parameter(torch.zeros(1, 1))
    try:
        optimizer = build_optimizer([parameter], settings)
    except (ValueError, TypeError) as error:
        raise UserError(f"--optimizer {settings.optimizer}: torch refused its arguments ({error})") from None
    if on_cpu:
        parameter.grad = torch.zeros_like(parameter)
        try:
            optimizer.step()
        except (RuntimeError, AssertionError, ValueError) as error:  # torch asserts on a CUDA-only flag
            raise UserError(f"--optimizer {settings.optimizer} cannot step on the CPU with these arguments "
                            f"({str(error).splitlines()[0]}): drop the GPU-only arguments, or train on a GPU") from None
    stand_in = SimpleNamespace(max_epochs=max_epochs, estimated_stepping_batches=max_epochs, global_step=0)
    try:
        build_schedulers(optimizer, settings, stand_in)
    except (ValueError, TypeError) as error:
        raise UserError(f"--scheduler {settings.scheduler}: torch refused its arguments ({error})") from None
