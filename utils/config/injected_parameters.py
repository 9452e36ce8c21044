"""Constructor parameters of an own LightningModule that take objects, injected by their annotation as LightningCLI
and Hydra inject them: a net of model/ chosen by `--<parameter> NAME`, and the run's --optimizer and --scheduler.

An optimizer or a scheduler is handed over as `functools.partial` of the chosen class with its options, as Hydra's
`_partial_: true` does: the module calls it with `params=...` or `optimizer=...`. A plain value describes each
injected object, so a checkpoint can store it and rebuild the same object.
"""

import collections.abc
import inspect
import typing
from typing import Any

import torch
from torch.optim import lr_scheduler

from utils.config.annotation_readers import UNIONS, resolve_annotation
from utils.config.settings import prefixed
from utils.errors import UserError
from utils.loading.module_package import lightning_package_of
from utils.loading.torch_optimizers import FILLED_IN, scheduler_class

NET, OPTIMIZER, SCHEDULER = "net", "optimizer", "scheduler"
SCHEDULER_BASES = (lr_scheduler.LRScheduler, lr_scheduler.ReduceLROnPlateau)


def object_kind(annotation: Any) -> str | None:
    """net, optimizer or scheduler for an annotation naming one (or a callable returning one), else None."""
    if annotation is lr_scheduler:  # Hydra's modules annotate the scheduler with the module itself
        return SCHEDULER
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is collections.abc.Callable:
        return object_kind(arguments[-1]) if arguments else None
    if origin in UNIONS:
        kinds = {object_kind(member) for member in arguments if member is not type(None)} - {None}
        return kinds.pop() if len(kinds) == 1 else None
    if isinstance(annotation, type):
        if issubclass(annotation, torch.nn.Module):
            return NET
        if issubclass(annotation, torch.optim.Optimizer):
            return OPTIMIZER
        if issubclass(annotation, SCHEDULER_BASES):
            return SCHEDULER
    return None


def injected_parameters(cls: type) -> dict[str, inspect.Parameter]:
    """An own LightningModule's constructor parameters that take a net, an optimizer or a scheduler, by name."""
    if not inspect.isclass(cls) or lightning_package_of(cls) is None:
        return {}
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return {parameter.name: parameter for parameter in parameters
            if object_kind(resolve_annotation(cls, parameter)) is not None}


def injected_kinds(cls: type) -> dict[str, str]:
    """net, optimizer or scheduler for each injected parameter of `cls`, by name."""
    return {name: object_kind(resolve_annotation(cls, parameter))
            for name, parameter in injected_parameters(cls).items()}


def net_parameters(cls: type) -> dict[str, inspect.Parameter]:
    """The injected parameters of `cls` that take a net of model/, chosen by `--<name> NAME`."""
    kinds = injected_kinds(cls)
    return {name: parameter for name, parameter in injected_parameters(cls).items() if kinds[name] == NET}


def describe_injected(cls: type, options: dict[str, Any], net_arguments: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Plain values saying what to inject into each parameter of `cls`: a net's name and arguments, an optimizer's or
    a scheduler's name and arguments (None for --scheduler none); a net parameter left unnamed keeps its default."""
    described: dict[str, Any] = {}
    for name, kind in injected_kinds(cls).items():
        if kind == NET:
            if options.get(name) is not None:
                described[name] = {"kind": NET, "model_name": options[name], "model_kwargs": net_arguments[name]}
        elif kind == OPTIMIZER:
            described[name] = {"kind": OPTIMIZER, "name": options["optimizer"],
                               "arguments": prefixed(options, "optimizer")}
        else:
            described[name] = scheduler_description(cls, options)
    return described


def scheduler_description(cls: type, options: dict[str, Any]) -> dict[str, Any] | None:
    """The scheduler's name and arguments, with what the template fills in that it knows before the Trainer exists."""
    chosen = scheduler_class(options["scheduler"])
    if chosen is None:
        return None
    known = {"max_epochs": options.get("max_epochs") or 1, "lr": options.get("optimizer.lr"),
             "monitor_mode": options.get("monitor_mode")}
    filled = FILLED_IN.get(chosen.__name__, {})
    if "total_steps" in filled.values():
        raise UserError(f"--scheduler {options['scheduler']} needs the run's number of optimizer steps, which "
                        f"{cls.__name__} is handed before training knows it: choose another scheduler, or build "
                        f"it in {cls.__name__}.configure_optimizers")
    arguments = {**prefixed(options, "scheduler"), **{name: known[source] for name, source in filled.items() if source}}
    return {"kind": SCHEDULER, "name": options["scheduler"], "arguments": arguments}


def check_net_class(owner: type, parameter: str, name: str, net_class: type) -> None:
    """Refuse a `--<parameter> NAME` whose class is not a torch.nn.Module."""
    if not (inspect.isclass(net_class) and issubclass(net_class, torch.nn.Module)):
        raise UserError(f"--{parameter} {name}: {owner.__name__}({parameter}) takes a torch.nn.Module, and "
                        f"model/{name}.py's {getattr(net_class, '__name__', net_class)} is not one: name a net")
