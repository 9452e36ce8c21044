"""Argparse value types that refuse bad numbers with a message saying what is allowed."""

import argparse
import os
from collections.abc import Callable
from typing import Any

from utils.config.annotation_readers import read_float, read_int


def _number(kind: type, text: str) -> int | float:
    try:
        return read_int(text) if kind is int else read_float(text)
    except ValueError:
        expected = "an integer below 2**63" if kind is int else "a finite number"
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def bounded(kind: type, allowed: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    """An argparse type reading a `kind` number that `allowed` accepts, refusing others as `expected` says."""
    def read(text: str) -> Any:
        value = _number(kind, text)
        if not allowed(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    read.__annotations__["return"] = kind  # the registry reads an option's type from it
    return read


MAX_SEED = 2**32 - 1  # numpy's generators, which every seed also seeds, take no more
positive_int = bounded(int, lambda value: value >= 1, "an integer of at least 1")
kept_count = bounded(int, lambda value: value >= 1 or value == -1, "an integer of at least 1, or -1 for all")
non_negative_int = bounded(int, lambda value: value >= 0, "an integer of at least 0")
integer = bounded(int, lambda value: True, "an integer")
seed_value = bounded(int, lambda value: 0 <= value <= MAX_SEED, f"an integer from 0 to {MAX_SEED}")
positive_float = bounded(float, lambda value: value > 0, "a number above 0")
non_negative_float = bounded(float, lambda value: value >= 0, "a number of at least 0")
open_fraction = bounded(float, lambda value: 0 < value < 1, "a number between 0 and 1 (both excluded)")
unit_fraction = bounded(float, lambda value: 0 <= value < 1, "a number from 0 up to (not including) 1")


def fraction_or_count(smallest: int, fraction_of: str) -> Callable[[str], int | float]:
    """An argparse type reading a fraction (0 < x <= 1.0, written with a dot) or a count of at least `smallest`."""
    count = bounded(int, lambda value: value >= smallest, f"an integer of at least {smallest}")

    def read(text: str) -> int | float:
        if "." not in text and "e" not in text.lower():
            return count(text)
        value = _number(float, text)
        if not 0 < value <= 1:
            raise argparse.ArgumentTypeError(f"expected a fraction {fraction_of}in (0, 1] or a count of batches, "
                                             f"got {text!r}")
        return value
    return read


batches_limit = fraction_or_count(0, "")
interval_value = fraction_or_count(1, "of an epoch ")


def devices_value(text: str) -> int | str | list[int]:
    """`auto`, a device count, or a comma-separated list of device indices such as `0,1`."""
    if text == "auto":
        return text
    if "," in text:
        return [non_negative_int(part) for part in text.split(",") if part]
    value = _number(int, text)
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"expected auto, a count of at least 1, -1 for all, or 0,1; got {text!r}")
    return value


def parallel_value(text: str) -> int | str:
    """`auto` (fill the machine) or how many runs go at once (an integer of at least 1)."""
    return text if text == "auto" else positive_int(text)


def non_empty_text(text: str) -> str:
    """Any text but an empty or blank one, which would silently stand for the default."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a value, got {text!r}: leave the option out for its default")
    return text


def folder_path(text: str) -> str:
    """A non-empty folder path, `~` expanded (a shell leaves `--log_dir=~/runs` as it is)."""
    return os.path.expanduser(non_empty_text(text))


def split_lr_group(text: str) -> tuple[str, float]:
    """`PATTERN=LR` as its parameter-name pattern and its learning rate."""
    pattern, _, rate = text.rpartition("=")
    if not pattern:
        raise argparse.ArgumentTypeError(f"expected PATTERN=LR, such as 'layers.0.*=0.01', got {text!r}")
    return pattern, positive_float(rate)


def lr_group_entry(text: str) -> str:
    """A `PATTERN=LR` entry of --lr_groups, checked and kept as given (config.yaml records it so)."""
    split_lr_group(text)
    return text
