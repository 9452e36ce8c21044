"""Command-line options made from constructor signatures, and the values a dataset entry gives a class."""

import argparse
import inspect
from dataclasses import dataclass
from typing import Any

from utils.config.annotation_readers import Reader, annotation_of_default, conform, optional, reader_for
from utils.config.parser import OptionGroup, UserArgumentParser
from utils.errors import UserError
from utils.loading.constructor_parameters import (
    UNRESOLVED,
    constructor_parameters,
    injected_parameters,
    resolve_annotation,
)
from utils.loading.instances import needs_value

# Set by the framework itself, never a command-line option of a class.
FRAMEWORK_SET_PARAMETERS = {"split"}
# Framework options that a constructor may also ask for: it is handed the framework's value.
SHARED_FRAMEWORK_OPTIONS = {"num_classes", "seed", "batch_size"}
OPTION_TYPES = "int, float, str, bool, a Literal, a list, tuple or dict of these, or a union of them"


@dataclass(frozen=True)
class OptionSpec:
    """One constructor parameter as a command-line option."""

    name: str
    owner: str
    reader: Reader
    default: Any = None
    required: bool = False


def option_parameters(cls: type) -> list[inspect.Parameter]:
    """The keyword parameters of `cls.__init__` that are its options: less those the framework sets or injects."""
    injected = injected_parameters(cls)
    return [p for p in constructor_parameters(cls) if p.name not in FRAMEWORK_SET_PARAMETERS and p.name not in injected]


def plain(value: Any) -> Any:
    """`value` with its tuples as lists, as YAML files and checkpoints store it."""
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def option_spec(cls: type, parameter: inspect.Parameter) -> OptionSpec | None:
    """How to read `parameter` of `cls`; None for one the command line cannot express but whose default it keeps."""
    has_default = parameter.default is not inspect.Parameter.empty
    annotation = resolve_annotation(cls, parameter)
    if annotation is inspect.Parameter.empty:
        if not has_default:
            raise UserError(f"{cls.__name__}({parameter.name}) has neither an annotation nor a default, so the command "
                            f"line cannot tell its type: annotate it ({parameter.name}: int, say, or {parameter.name}: "
                            f"torch.nn.Module for a net given by another file of model/) or give it a default")
        annotation = annotation_of_default(parameter.default)
    reader = None if annotation is UNRESOLVED else reader_for(annotation)
    if reader is None:
        if has_default:
            return None
        raise UserError(f"{cls.__name__}({parameter.name}) is annotated {parameter.annotation!r}, which the command "
                        f"line cannot give: give it a default, or annotate it with {OPTION_TYPES}")
    if has_default and parameter.default is None:
        reader = optional(reader)
    return OptionSpec(parameter.name, cls.__name__, reader, typed_default(parameter.default, annotation),
                      required=not has_default)


def typed_default(default: Any, annotation: Any) -> Any:
    """A default as the option would read it (0 for a float is 0.0), so a rerun from config.yaml writes it alike."""
    if default is inspect.Parameter.empty:
        return None
    try:
        return conform(plain(default), annotation)
    except ValueError:
        return plain(default)


def read_words(spec: OptionSpec, words: list[str]) -> Any:
    """The value of `spec` that `words` give, or ValueError naming the class, the parameter and the type."""
    try:
        return spec.reader.convert(words)
    except ValueError:
        expected = spec.reader.expected or spec.reader.label
        raise ValueError(f"{spec.owner}({spec.name}) expects {expected}, got {' '.join(words)!r}") from None


class ReadWords(argparse.Action):
    """Stores what the option's reader makes of its words; words it cannot read are one error line."""

    def __init__(self, option_strings: list[str], dest: str, spec: OptionSpec, **settings: Any) -> None:
        super().__init__(option_strings, dest, **settings)
        self.spec = spec

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        """Read the option's words into its value."""
        try:
            setattr(namespace, self.dest, read_words(self.spec, values if isinstance(values, list) else [values]))
        except ValueError as error:
            raise argparse.ArgumentError(self, str(error)) from None


def add_option(group: OptionGroup, spec: OptionSpec, option_strings: list[str], dest: str, note: str = "",
               required: bool = False) -> None:
    """Add `spec` to `group` under `option_strings`, its value kept under `dest`."""
    default_text = "required" if spec.required else f"default: {spec.default!r}"
    help_text = f"{spec.reader.label}; {default_text}{note}".replace("%", "%%")
    if spec.reader.is_flag:
        group.add_argument(*option_strings, dest=dest, action=argparse.BooleanOptionalAction, default=spec.default,
                           help=help_text)
        return
    group.add_argument(*option_strings, dest=dest, action=ReadWords, spec=spec, nargs=spec.reader.words,
                       default=spec.default, required=required, help=help_text,
                       metavar=spec.reader.metavar or spec.reader.label.upper())


def class_option_specs(classes: list[type]) -> dict[str, OptionSpec | None]:
    """Collect the options of several classes; a parameter named by more than one class is one option."""
    specs: dict[str, OptionSpec | None] = {}
    for cls in classes:
        for parameter in option_parameters(cls):
            if parameter.name not in specs:
                specs[parameter.name] = option_spec(cls, parameter)
    return specs


def add_class_options(parser: UserArgumentParser, classes: list[type], framework_options: set[str]) -> None:
    """Add each class's parameters to `parser` in a group named after the class."""
    specs = class_option_specs(classes)
    for cls in classes:
        names = [p.name for p in option_parameters(cls)]
        kept = [name for name in names if specs[name] is None]
        group = parser.option_group(f"{cls.__name__} options (from its __init__)",
                                    f"not options, they keep their defaults: {', '.join(kept)}" if kept else None)
        for name in names:
            spec = specs[name]
            if spec is None or spec.owner != cls.__name__ or name in SHARED_FRAMEWORK_OPTIONS:
                continue
            if name in framework_options:
                raise UserError(f"{cls.__name__}({name}) clashes with the framework option --{name}: "
                                f"rename the parameter in {cls.__name__}.__init__")
            owners = [c.__name__ for c in classes if name in {p.name for p in constructor_parameters(c)}]
            note = f" (shared by {', '.join(owners)})" if len(owners) > 1 else ""
            add_option(group, spec, [f"--{name}"], name, note)


def class_parameter_names(classes: list[type]) -> list[str]:
    """Every keyword parameter of the classes' constructors, each once, in order of appearance."""
    return list(dict.fromkeys(p.name for cls in classes for p in option_parameters(cls)))


def entry_arguments(cls: type, overrides: dict[str, str]) -> dict[str, Any]:
    """A dataset entry's `key=value` arguments read as `cls`'s parameters."""
    parameters = {p.name: p for p in constructor_parameters(cls)}
    unknown = sorted(set(overrides) - set(parameters))
    if unknown:
        raise UserError(
            f"{cls.__name__} has no parameter {unknown[0]!r} (given as {unknown[0]}={overrides[unknown[0]]} in a "
            f"dataset entry): its parameters are {', '.join(parameters) or 'none'}"
        )
    return {name: _parse_override(cls, parameters[name], text) for name, text in overrides.items()}


def check_required(cls: type, values: dict[str, Any]) -> None:
    """Refuse to build `cls` from `values` when a parameter without a default has no value."""
    for parameter in option_parameters(cls):
        if parameter.default is not inspect.Parameter.empty:
            continue
        if values.get(parameter.name) is None:
            raise UserError(needs_value(cls, parameter.name))


def _parse_override(cls: type, parameter: inspect.Parameter, text: str) -> Any:
    spec = option_spec(cls, parameter)
    if spec is None:
        raise UserError(f"{cls.__name__}({parameter.name}) cannot be given in a dataset entry: its type is not one "
                        f"the command line can give ({OPTION_TYPES})")
    try:
        return read_words(spec, text.split() if spec.reader.words else [text])
    except ValueError as error:
        raise UserError(str(error)) from None
