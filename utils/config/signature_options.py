"""Command-line options made from constructor signatures, and constructor calls that take only what they name."""

import argparse
import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any

from utils.config.parser import OptionGroup, UserArgumentParser
from utils.errors import UserError

# Set by the framework itself, never a command-line option of a class.
FRAMEWORK_SET_PARAMETERS = {"split"}
# Framework options that a constructor may also ask for: it is handed the framework's value.
SHARED_FRAMEWORK_OPTIONS = {"num_classes", "seed"}
TRUE_WORDS = {"true", "yes", "1", "on"}
FALSE_WORDS = {"false", "no", "0", "off"}


@dataclass
class OptionSpec:
    """How one constructor parameter is read from text."""

    name: str
    owner: str
    base_type: type
    many: bool = False
    optional: bool = False
    choices: tuple | None = None
    default: Any = None
    required: bool = False

    @property
    def type_label(self) -> str:
        """Describe the expected type for help and errors."""
        label = "|".join(map(str, self.choices)) if self.choices else self.base_type.__name__
        if self.many:
            label = f"{label} ..."
        return f"{label} or none" if self.optional else label


def constructor_parameters(cls: type) -> list[inspect.Parameter]:
    """Return the parameters of `cls.__init__` that can be passed by keyword."""
    signature = inspect.signature(cls.__init__)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p for p in list(signature.parameters.values())[1:] if p.kind in kinds]


def _resolved_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls.__init__)
    except (NameError, TypeError):
        return {}


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1 and len(members) < len(typing.get_args(annotation)):
            return members[0], True
    return annotation, False


def option_spec(cls: type, parameter: inspect.Parameter, hints: dict[str, Any]) -> OptionSpec:
    """Work out how to read `parameter` of `cls` from its annotation or, failing that, its default."""
    annotation = hints.get(parameter.name, parameter.annotation)
    default = None if parameter.default is inspect.Parameter.empty else parameter.default
    spec = OptionSpec(parameter.name, cls.__name__, str, default=default,
                      required=parameter.default is inspect.Parameter.empty)
    if annotation is inspect.Parameter.empty:
        annotation = type(default) if default is not None else str
        if isinstance(default, (list, tuple)):
            annotation = list[type(default[0])] if default else list[str]
    annotation, spec.optional = _unwrap_optional(annotation)
    spec.optional = spec.optional or (parameter.default is None)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple) or annotation in (list, tuple):
        spec.many = True
        element_types = [arg for arg in typing.get_args(annotation) if arg is not Ellipsis]
        annotation = element_types[0] if element_types else str
        origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        spec.choices = typing.get_args(annotation)
        annotation = type(spec.choices[0])
    spec.base_type = annotation if annotation in (int, float, str, bool) else str
    return spec


def parse_text(spec: OptionSpec, text: str) -> Any:
    """Turn one word of text into a value of the parameter's type, or raise a clear error."""
    if spec.optional and text.lower() == "none":
        return None
    try:
        if spec.base_type is bool:
            if text.lower() not in TRUE_WORDS | FALSE_WORDS:
                raise ValueError(text)
            value: Any = text.lower() in TRUE_WORDS
        else:
            value = spec.base_type(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{spec.owner}({spec.name}) expects {spec.type_label}, got {text!r}"
        ) from None
    if spec.choices and value not in spec.choices:
        raise argparse.ArgumentTypeError(
            f"{spec.owner}({spec.name}) expects one of {', '.join(map(str, spec.choices))}, got {text!r}"
        )
    return value


def class_option_specs(classes: list[type]) -> dict[str, OptionSpec]:
    """Collect the options of several classes; a parameter named by more than one class is one option."""
    specs: dict[str, OptionSpec] = {}
    for cls in classes:
        hints = _resolved_hints(cls)
        for parameter in constructor_parameters(cls):
            if parameter.name in FRAMEWORK_SET_PARAMETERS or parameter.name in specs:
                continue
            specs[parameter.name] = option_spec(cls, parameter, hints)
    return specs


def add_class_options(parser: UserArgumentParser, classes: list[type], framework_options: set[str]) -> None:
    """Add each class's parameters to `parser` in a group named after the class."""
    specs = class_option_specs(classes)
    for cls in classes:
        group = parser.option_group(f"{cls.__name__} options (from its __init__)")
        for parameter in constructor_parameters(cls):
            spec = specs.get(parameter.name)
            if spec is None or spec.owner != cls.__name__ or parameter.name in SHARED_FRAMEWORK_OPTIONS:
                continue
            if parameter.name in framework_options:
                raise UserError(
                    f"{cls.__name__}({parameter.name}) clashes with the framework option --{parameter.name}: "
                    f"rename the parameter in {cls.__name__}.__init__"
                )
            _add_option(group, spec, [c.__name__ for c in classes if parameter.name in _names(c)])


def _names(cls: type) -> set[str]:
    return {p.name for p in constructor_parameters(cls)}


def class_parameter_names(classes: list[type]) -> list[str]:
    """Every keyword parameter of the classes' constructors, each once, in order of appearance."""
    return list(dict.fromkeys(p.name for cls in classes for p in constructor_parameters(cls)))


def _add_option(group: OptionGroup, spec: OptionSpec, owners: list[str]) -> None:
    shared = f" (shared by {', '.join(owners)})" if len(owners) > 1 else ""
    default_text = "required" if spec.required else f"default: {spec.default!r}"
    help_text = f"{spec.type_label}; {default_text}{shared}"
    if spec.base_type is bool and not spec.many:
        group.add_argument(f"--{spec.name}", action=argparse.BooleanOptionalAction, default=spec.default,
                           help=help_text)
        return
    group.add_argument(f"--{spec.name}", type=lambda text, s=spec: parse_text(s, text),
                       nargs="+" if spec.many else None, default=spec.default, metavar=spec.type_label.upper()
                       if not spec.choices else spec.type_label, help=help_text)


def build_instance(cls: type, values: dict[str, Any], overrides: dict[str, str] | None = None, **fixed: Any) -> Any:
    """Call `cls` with exactly the parameters its signature names, from `values`, text `overrides` and `fixed`."""
    overrides = overrides or {}
    hints = _resolved_hints(cls)
    parameters = {p.name: p for p in constructor_parameters(cls)}
    unknown = sorted(set(overrides) - set(parameters))
    if unknown:
        raise UserError(
            f"{cls.__name__} has no parameter {unknown[0]!r} (given as {unknown[0]}={overrides[unknown[0]]} in a "
            f"dataset entry): its parameters are {', '.join(parameters) or 'none'}"
        )
    kwargs = {}
    for name, parameter in parameters.items():
        if name in fixed:
            kwargs[name] = fixed[name]
        elif name in overrides:
            kwargs[name] = _parse_override(option_spec(cls, parameter, hints), overrides[name])
        elif values.get(name) is not None or (name in values and parameter.default is None):
            kwargs[name] = values[name]
        elif parameter.default is not inspect.Parameter.empty:
            kwargs[name] = parameter.default
        else:
            raise UserError(_needs_value(cls, name))
    return cls(**kwargs)


def check_required(cls: type, values: dict[str, Any]) -> None:
    """Refuse to build `cls` from `values` when a parameter without a default has no value."""
    for parameter in constructor_parameters(cls):
        if parameter.name in FRAMEWORK_SET_PARAMETERS or parameter.default is not inspect.Parameter.empty:
            continue
        if values.get(parameter.name) is None:
            raise UserError(_needs_value(cls, parameter.name))


def unknown_keywords(cls: type, names: list[str]) -> list[str]:
    """The names `cls.__init__` would refuse as keyword arguments (none when it takes **kwargs)."""
    parameters = inspect.signature(cls.__init__).parameters.values()
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters):
        return []
    known = {parameter.name for parameter in constructor_parameters(cls)}
    return [name for name in names if name not in known]


def _needs_value(cls: type, name: str) -> str:
    return f"{cls.__name__} needs a value for its parameter {name!r}, which has no default: pass --{name} VALUE"


def _parse_override(spec: OptionSpec, text: str) -> Any:
    try:
        if spec.many:
            return [parse_text(spec, word) for word in text.split()]
        return parse_text(spec, text)
    except argparse.ArgumentTypeError as error:
        raise UserError(str(error)) from None
