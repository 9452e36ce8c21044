"""Template options that a user's own LightningModule configures itself: refused when given, left out of config.yaml.

A LightningModule brings its own optimizers (`configure_optimizers`), loss, metrics and steps, so the template's
options for those would be silently ignored. The one exception is a module whose constructor takes what the option
configures (a parameter of that name, or one annotated as an optimizer or a scheduler, which is injected).
"""

import inspect
import typing
from collections.abc import Callable
from dataclasses import replace
from types import ModuleType, UnionType

import torch
from torch.optim import lr_scheduler

from utils.config.command_line import Command
from utils.config.signature_options import class_parameter_names, constructor_parameters
from utils.errors import UserError
from utils.trainer.own_modules import defines_hook, is_own_module

# The template options an own module ignores, by what they configure; `optimizer.*` and `scheduler.*` included.
CONFIGURES = {"optimizer": "optimizer", "warmup_steps": "optimizer", "scheduler": "scheduler", "task": "task",
              "loss": "loss", "label_smoothing": "loss", "metrics": "metrics", "num_classes": "task"}
INJECTED_TYPES = {"optimizer": (torch.optim.Optimizer,), "scheduler": (lr_scheduler.LRScheduler, lr_scheduler)}


def what_option_configures(destination: str) -> str | None:
    """The part of training a template option configures (optimizer, scheduler, loss, ...), or None."""
    return CONFIGURES.get(destination.split(".")[0])


def is_injected_type(annotation: object, kind: str) -> bool:
    """Whether a constructor annotation asks for an optimizer or scheduler (the class, or a callable returning one)."""
    wanted = INJECTED_TYPES[kind]
    if annotation in wanted:
        return True
    if inspect.isclass(annotation) and not isinstance(annotation, ModuleType):
        return issubclass(annotation, tuple(kind for kind in wanted if inspect.isclass(kind)))
    if typing.get_origin(annotation) is Callable:  # a factory, as functools.partial gives
        arguments = typing.get_args(annotation)
        return bool(arguments) and is_injected_type(arguments[-1], kind)
    if typing.get_origin(annotation) in (typing.Union, UnionType):  # optional: None unless given
        return any(is_injected_type(argument, kind) for argument in typing.get_args(annotation))
    return False


def module_takes(model_class: type, destination: str) -> bool:
    """Whether the own module's constructor takes what the template option configures, so it is not ignored."""
    kind = what_option_configures(destination)
    if kind not in INJECTED_TYPES:
        return False
    try:
        hints = typing.get_type_hints(model_class.__init__)
    except (NameError, TypeError):  # an annotation that does not resolve asks for nothing injected
        hints = {}
    return any(is_injected_type(hints.get(parameter.name), kind) for parameter in constructor_parameters(model_class))


def ignored_options(command: Command) -> set[str]:
    """The template options the chosen own module would ignore: neither it nor a dataset takes them."""
    taken = set(class_parameter_names([command.model_class, *command.dataset_classes.values()]))
    return {destination for destination in command.options
            if what_option_configures(destination) and destination not in taken
            and not module_takes(command.model_class, destination)}


def own_module_command(command: Command) -> Command:
    """Refuse template options an own module ignores; settle its monitor; leave out of config.yaml what it ignores."""
    if not is_own_module(command.model_class):
        return command
    ignored = ignored_options(command)
    name = command.model_class.__name__
    given = sorted(ignored & command.given)
    if given:
        options = ", ".join(f"--{destination}" for destination in given)
        raise UserError(f"{options}: {name} is a LightningModule and configures its optimizer, scheduler, loss, "
                        f"metrics and task itself (configure_optimizers and its steps), so the template's would be "
                        f"ignored: drop {options}, or take them as parameters of {name}.__init__")
    options, left_out = dict(command.options), set(ignored)
    validates = defines_hook(command.model_class, "validation_step") and options["limit_val_batches"] != 0
    if "monitor" in command.given and options["monitor"] != "none" and not validates \
            and not options["monitor"].startswith("train/"):
        raise UserError(f"--monitor {options['monitor']}: {name} runs no validation (it defines no validation_step, "
                        f"or --limit_val_batches is 0), so no val key is logged: drop --monitor to keep the last "
                        f"checkpoint only, or monitor a train/ key")
    if "monitor" not in command.given:
        # Chosen at the first validation (utils/trainer/module_monitor.py), which then writes it into config.yaml.
        options["monitor"] = "auto" if validates else "none"
        left_out.add("monitor")
    return replace(command, options=options, left_out=frozenset(left_out))
