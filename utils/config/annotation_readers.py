"""Read a constructor parameter's value from command-line words, as its annotation (or its default) asks."""

import collections.abc
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from utils.loading.constructor_parameters import UNIONS

TRUE_WORDS = {"true", "yes", "1", "on"}
FALSE_WORDS = {"false", "no", "0", "off"}
SEQUENCES = (list, tuple, collections.abc.Iterable, collections.abc.Sequence)
MAPPINGS = (dict, collections.abc.Mapping)


@dataclass(frozen=True)
class Reader:
    """Turns the words given for one parameter into its value, raising ValueError for words that do not fit."""

    label: str
    convert: Callable[[list[str]], Any]
    words: int | str | None = None  # argparse's nargs: one word (None), several ("+") or exactly n
    metavar: str | tuple[str, ...] | None = None
    expected: str | None = None  # how an error names what was expected, when not the label
    accepts_none: bool = False

    @property
    def is_flag(self) -> bool:
        """Whether the option is a --x / --no-x switch."""
        return self.label in ("bool", "bool or none")


def one_word(words: list[str]) -> str:
    """The single word of a one-word option."""
    if len(words) != 1:
        raise ValueError(words)
    return words[0]


def read_bool(word: str) -> bool:
    """true/yes/1/on or false/no/0/off."""
    if word.lower() not in TRUE_WORDS | FALSE_WORDS:
        raise ValueError(word)
    return word.lower() in TRUE_WORDS


def read_yaml(word: str) -> Any:
    """One word of YAML, such as `{a: 1, b: 2}`."""
    import yaml

    try:
        return yaml.safe_load(word)
    except yaml.YAMLError as error:
        raise ValueError(word) from error


# The largest integer torch, numpy and the OS accept in a size or count: a larger one only fails deep in a run.
LARGEST_INTEGER = 2**63 - 1


def read_int(word: str) -> int:
    """An integer that fits 64 bits."""
    value = int(word)
    if abs(value) > LARGEST_INTEGER:
        raise ValueError(word)
    return value


def read_float(word: str) -> float:
    """A finite number: inf, nan and numbers beyond a float's range (1e400) are refused."""
    value = float(word)
    if not math.isfinite(value):
        raise ValueError(word)
    return value


SCALARS: dict[Any, Callable[[str], Any]] = {int: read_int, float: read_float, str: str, bool: read_bool}


def annotation_of_default(default: Any) -> Any:
    """The type an unannotated parameter takes from its default (str for None, list[T] for a list or tuple)."""
    if default is None:
        return str
    if isinstance(default, (list, tuple)):
        return list[type(default[0])] if default else list[str]
    return type(default)


def reader_for(annotation: Any) -> Reader | None:
    """The reader of `annotation`, or None when the command line cannot express it (a Tensor, a Callable...)."""
    if isinstance(annotation, type) and annotation in SCALARS:
        return Reader(annotation.__name__, lambda words, read=SCALARS[annotation]: read(one_word(words)))
    if annotation in (Any, object):
        return Reader("YAML value", lambda words: read_yaml(one_word(words)), metavar="YAML")
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return literal_reader(arguments)
    if origin in UNIONS:
        return union_reader(arguments)
    if annotation in MAPPINGS or origin in MAPPINGS:
        return mapping_reader(arguments or (Any, Any))
    if origin is tuple and arguments and arguments[-1] is not Ellipsis:
        return tuple_reader(arguments)
    if annotation in SEQUENCES or origin in SEQUENCES:
        return sequence_reader(arguments[0] if arguments else str)
    return None


def literal_reader(choices: tuple) -> Reader:
    """One of the choices, written as it prints."""
    def convert(words: list[str]) -> Any:
        word = one_word(words)
        for choice in choices:
            if str(choice) == word:
                return choice
        raise ValueError(word)
    label = "|".join(map(str, choices))
    return Reader(label, convert, metavar=label, expected=f"one of {', '.join(map(str, choices))}")


def optional(reader: Reader) -> Reader:
    """`reader` that also reads `none` as None."""
    if reader.accepts_none:
        return reader

    def convert(words: list[str]) -> Any:
        return None if len(words) == 1 and words[0].lower() == "none" else reader.convert(words)
    metavar = f"{reader.metavar or reader.label.upper()} OR NONE" if reader.words is None else reader.metavar
    return replace(reader, label=f"{reader.label} or none", convert=convert, metavar=metavar,
                   expected=f"{reader.expected or reader.label} or none", accepts_none=True)


def union_reader(members: tuple) -> Reader | None:
    """Each member tried in order (one word by the one-word members first); members it cannot read are left out."""
    readers = [reader for reader in map(reader_for, members) if reader is not None]
    if not readers:
        return None
    single = [reader for reader in readers if reader.words is None]
    several = [reader for reader in readers if reader.words is not None]
    if len(readers) == 1:
        union = readers[0]
    else:
        def convert(words: list[str]) -> Any:
            for reader in single + several if len(words) == 1 else several:
                try:
                    return reader.convert(words)
                except ValueError:
                    continue
            raise ValueError(words)
        label = "|".join(reader.label for reader in single + several)
        metavar = "|".join(reader.label.upper() for reader in single) or None
        union = Reader(label, convert, "+" if several else None, metavar,
                       " or ".join(reader.expected or reader.label for reader in single + several))
    return optional(union) if type(None) in members else union


def sequence_reader(element: Any) -> Reader | None:
    """One or more words, each read as `element`."""
    item = reader_for(element)
    if item is None or item.words is not None:
        return None
    return Reader(f"{item.label} ...", lambda words: [item.convert([word]) for word in words], "+",
                  item.metavar or item.label.upper(), f"one or more {item.expected or item.label}")


def tuple_reader(elements: tuple) -> Reader | None:
    """Exactly one word per element, each read as its own type."""
    items = [reader_for(element) for element in elements]
    if any(item is None or item.words is not None for item in items):
        return None

    def convert(words: list[str]) -> list[Any]:
        if len(words) != len(items):
            raise ValueError(words)
        return [item.convert([word]) for item, word in zip(items, words, strict=True)]
    label = " ".join(item.label for item in items)
    return Reader(label, convert, len(items), tuple(item.metavar or item.label.upper() for item in items))


def mapping_reader(arguments: tuple) -> Reader:
    """One word of YAML that must be a mapping, its keys and values of the annotated types."""
    key_type, value_type = arguments

    def convert(words: list[str]) -> dict:
        return conform(read_yaml(one_word(words)), dict[key_type, value_type])
    names = [kind.__name__ if isinstance(kind, type) else str(kind).replace("typing.", "") for kind in arguments]
    named = "" if arguments == (Any, Any) else f" of {names[0]}: {names[1]}"
    return Reader(f"YAML mapping{named}", convert, metavar="YAML")


def conform(value: Any, annotation: Any) -> Any:
    """`value`, read from YAML, as `annotation` asks (an int is a float where a float is asked), or ValueError."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation in (Any, object):
        return value
    if annotation is float and type(value) in (int, float):
        return read_float(str(value))
    if annotation is int and type(value) is int:
        return read_int(str(value))
    if annotation in (int, str, bool, type(None)):
        if type(value) is annotation:
            return value
    elif origin is typing.Literal and value in arguments:
        return value
    elif origin in UNIONS:
        for member in arguments:
            try:
                return conform(value, member)
            except ValueError:
                continue
    elif (annotation in SEQUENCES or origin in SEQUENCES) and isinstance(value, list):
        element = arguments[0] if len(arguments) == 1 or arguments[1:] == (Ellipsis,) else Any
        return [conform(item, element) for item in value]
    elif (annotation in MAPPINGS or origin in MAPPINGS) and isinstance(value, dict):
        key_type, value_type = arguments or (Any, Any)
        return {conform(key, key_type): conform(item, value_type) for key, item in value.items()}
    raise ValueError(value)
