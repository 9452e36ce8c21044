"""The part of a net's outputs that feeds the default loss and the metrics."""

import dataclasses
from typing import Any

import torch

from utils.config.framework_options import BY_NAME
from utils.errors import UserError


def named_entries(outputs: Any) -> dict[str, Any] | None:
    """The entries of outputs that name them (a dict, a NamedTuple, a dataclass such as a model output), or None."""
    if isinstance(outputs, dict):
        return outputs
    if isinstance(outputs, tuple) and hasattr(outputs, "_fields"):
        return outputs._asdict()
    if dataclasses.is_dataclass(outputs) and not isinstance(outputs, type):
        return {field.name: getattr(outputs, field.name) for field in dataclasses.fields(outputs)}
    return None


def element_read(outputs: tuple | list, output_key: str, net_name: str) -> int:
    """The element of a plain tuple or list that the loss and metrics read: 0, or N for --output_key N."""
    if output_key.isdigit():
        if int(output_key) >= len(outputs):
            raise UserError(f"--output_key {output_key} reads element {output_key} of what {net_name} returns, a "
                            f"{type(outputs).__name__} of {len(outputs)}: pass --output_key 0 to {len(outputs) - 1}")
        return int(output_key)
    if output_key != BY_NAME["output_key"].default:
        raise UserError(f"--output_key {output_key} names an entry, but {net_name} returns a plain "
                        f"{type(outputs).__name__}, whose elements have no names: pass --output_key N to read "
                        f"element N (0 unless given)")
    return 0


def prediction(outputs: Any, output_key: str, net_name: str) -> torch.Tensor:
    """A tensor as it is, the `output_key` entry of named outputs (a dict, a NamedTuple, a dataclass), or element 0
    of a plain tuple or list (element N for an `output_key` N)."""
    if isinstance(outputs, torch.Tensor):
        return outputs
    entries = named_entries(outputs)
    if entries is not None:
        if output_key not in entries:
            kind = "dict" if isinstance(outputs, dict) else type(outputs).__name__
            raise UserError(f"{net_name} returns a {kind} without the entry {output_key!r} (its entries: "
                            f"{', '.join(map(str, entries))}): set --output_key to the entry the loss and metrics "
                            f"read")
        if not isinstance(entries[output_key], torch.Tensor):
            tensors = [str(key) for key, value in entries.items() if isinstance(value, torch.Tensor)]
            raise UserError(f"{net_name}'s output entry {output_key!r} (--output_key) is "
                            f"{type(entries[output_key]).__name__}, not a tensor, on this batch: set --output_key to "
                            f"an entry that holds the scores ({', '.join(tensors) or 'none holds a tensor'})")
        outputs = entries[output_key]
    elif isinstance(outputs, (tuple, list)) and outputs:
        outputs = outputs[element_read(outputs, output_key, net_name)]
    if not isinstance(outputs, torch.Tensor):
        raise UserError(f"{net_name} must return a tensor, a tuple whose first element is one, or a dict, NamedTuple "
                        f"or dataclass of them; got {type(outputs).__name__}")
    return outputs
