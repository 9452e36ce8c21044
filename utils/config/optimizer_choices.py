"""Which optimizers and schedulers the command line can choose, and the defaults it gives their parameters."""

import inspect

from utils.config.annotation_readers import reader_for
from utils.loading.constructor_parameters import UNRESOLVED, resolve_annotation
from utils.loading.torch_optimizers import (
    ALWAYS_FILLED,
    FILLED_IN,
    NO_SCHEDULER,
    SCHEDULER_ALIASES,
    optimizer_classes,
    scheduler_classes,
    unknown_choice,
)

SOURCES = {"max_epochs": "--max_epochs", "total_steps": "the run's optimizer steps", "lr": "the optimizer's lr",
           "monitor_mode": "--monitor_mode", None: "unused, total_steps is given"}
# The template's defaults where torch has none, and the two it has always set otherwise (kept, so runs repeat).
TEMPLATE_DEFAULTS = {
    "SGD": {"momentum": 0.9},  # torch's 0 is plain gradient descent
    "StepLR": {"step_size": 10},
    "MultiStepLR": {"milestones": [30, 60]},
    "ExponentialLR": {"gamma": 0.1},
    "CosineAnnealingWarmRestarts": {"T_0": 10},
    "ReduceLROnPlateau": {"patience": 2},  # torch's 10 would outlast early stopping's --patience 5
}


def _buildable(cls: type) -> bool:
    """Whether the command line can give every parameter of `cls` that has no default."""
    given = ALWAYS_FILLED | set(FILLED_IN.get(cls.__name__, {})) | set(TEMPLATE_DEFAULTS.get(cls.__name__, {}))
    for parameter in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if parameter.name in given or parameter.default is not inspect.Parameter.empty:
            continue
        annotation = resolve_annotation(cls, parameter)
        if annotation is UNRESOLVED or reader_for(annotation) is None:
            return False
    return True


def optimizer_name(text: str) -> str:
    """The lower-case name of a torch.optim optimizer (an argparse type)."""
    names = list(optimizer_classes())
    if text.lower() not in names:
        raise unknown_choice("optimizer", text, names)
    return text.lower()


def scheduler_name(text: str) -> str:
    """The snake_case name of a torch.optim.lr_scheduler scheduler, an alias of one, or none (an argparse type)."""
    names = [NO_SCHEDULER, *SCHEDULER_ALIASES, *(name for name, cls in scheduler_classes().items() if _buildable(cls))]
    name = SCHEDULER_ALIASES.get(text, text)
    if name not in names:
        raise unknown_choice("scheduler", text, names)
    return name
