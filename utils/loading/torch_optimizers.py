"""torch.optim's optimizers and learning-rate schedulers by name, and what the template fills in for them."""

import argparse
import difflib
import inspect
import re

import torch
from torch.optim import lr_scheduler

from utils.errors import UserError

NO_SCHEDULER = "none"
# The schedulers' names before any torch.optim.lr_scheduler class could be chosen, kept as aliases.
SCHEDULER_ALIASES = {"step": "step_lr", "multistep": "multi_step_lr", "cosine": "cosine_annealing_lr",
                     "cosine_restarts": "cosine_annealing_warm_restarts", "exponential": "exponential_lr",
                     "plateau": "reduce_lr_on_plateau"}
# Schedules that count optimizer steps, so Lightning steps them after every batch rather than every epoch.
PER_STEP_SCHEDULERS = {"OneCycleLR", "CyclicLR"}
# What the run itself knows, by the scheduler parameter it fills in; None leaves the parameter at its default.
FILLED_IN = {
    "CosineAnnealingLR": {"T_max": "max_epochs"},
    "PolynomialLR": {"total_iters": "max_epochs"},
    "LinearLR": {"total_iters": "max_epochs"},
    "OneCycleLR": {"max_lr": "lr", "total_steps": "total_steps", "epochs": None, "steps_per_epoch": None},
    "CyclicLR": {"base_lr": "lr"},
    "ReduceLROnPlateau": {"mode": "monitor_mode"},
}
# Never options: the parameters to optimize, the optimizer to schedule, and the count a resumed run restores.
ALWAYS_FILLED = {"params", "optimizer", "last_epoch"}


def snake_case(name: str) -> str:
    """`ReduceLROnPlateau` -> `reduce_lr_on_plateau`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def optimizer_classes() -> dict[str, type]:
    """Every optimizer of torch.optim by its lower-case name."""
    return dict(sorted((name.lower(), cls) for name, cls in vars(torch.optim).items() if inspect.isclass(cls)
                       and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer))


def scheduler_classes() -> dict[str, type]:
    """Every scheduler of torch.optim.lr_scheduler that takes the optimizer first, by its snake_case name."""
    bases = (lr_scheduler.LRScheduler, lr_scheduler.ReduceLROnPlateau)
    return dict(sorted((snake_case(name), cls) for name, cls in vars(lr_scheduler).items()
                       if inspect.isclass(cls) and issubclass(cls, bases) and not name.startswith("_")
                       and cls is not lr_scheduler.LRScheduler and _takes_optimizer(cls)))


def _takes_optimizer(cls: type) -> bool:
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return bool(parameters) and parameters[0].name == "optimizer"


def unknown_choice(kind: str, text: str, names: list[str]) -> argparse.ArgumentTypeError:
    """The error for a name that is none of `names`, with the closest one."""
    close = difflib.get_close_matches(text.lower(), names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return argparse.ArgumentTypeError(f"unknown {kind} {text!r}: {hint}choose from {', '.join(names)}")


def optimizer_class(name: str) -> type:
    """The torch.optim class of an optimizer name."""
    return _class_of("optimizer", name, optimizer_classes())


def scheduler_class(name: str) -> type | None:
    """The torch.optim.lr_scheduler class of a scheduler name or alias, or None for none."""
    name = SCHEDULER_ALIASES.get(name, name)
    return None if name == NO_SCHEDULER else _class_of("scheduler", name, scheduler_classes())


def _class_of(kind: str, name: str, classes: dict[str, type]) -> type:
    if name not in classes:
        raise UserError(str(unknown_choice(kind, name, list(classes))))
    return classes[name]
