"""What a class's constructor takes: its keyword parameters, their annotations, and the nets, optimizers and
schedulers an own LightningModule asks for by annotation (injected as LightningCLI and Hydra inject them)."""

import collections.abc
import inspect
import types
import typing
from typing import Any

import torch
from torch.optim import lr_scheduler

from utils.loading.module_package import lightning_package_of

UNRESOLVED = object()  # a string annotation that does not evaluate in its module
UNIONS = (typing.Union, types.UnionType)
NET, OPTIMIZER, SCHEDULER = "net", "optimizer", "scheduler"
SCHEDULER_BASES = (lr_scheduler.LRScheduler, lr_scheduler.ReduceLROnPlateau)


def constructor_parameters(cls: type) -> list[inspect.Parameter]:
    """Return the parameters of `cls.__init__` that can be passed by keyword."""
    signature = inspect.signature(cls.__init__)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p for p in list(signature.parameters.values())[1:] if p.kind in kinds]


def unknown_keywords(cls: type, names: list[str]) -> list[str]:
    """The names `cls.__init__` would refuse as keyword arguments (none when it takes **kwargs)."""
    parameters = inspect.signature(cls.__init__).parameters.values()
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters):
        return []
    known = {parameter.name for parameter in constructor_parameters(cls)}
    return [name for name in names if name not in known]


def resolve_annotation(cls: type, parameter: inspect.Parameter) -> Any:
    """The parameter's annotation as an object: a string one is evaluated in the module that defines `__init__`."""
    annotation = parameter.annotation
    if not isinstance(annotation, str):
        return annotation
    namespace = {**vars(typing), **vars(collections.abc), **getattr(cls.__init__, "__globals__", {})}
    try:
        return eval(annotation, namespace)  # what typing.get_type_hints does, one parameter at a time
    except (NameError, SyntaxError, TypeError, AttributeError):
        return UNRESOLVED


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
