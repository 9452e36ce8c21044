"""The part of a net's outputs that feeds the default loss and the metrics."""

import dataclasses
from typing import Any

import torch

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


def prediction(outputs: Any, output_key: str, net_name: str) -> torch.Tensor:
    """A tensor as it is, the `output_key` entry of named outputs (a dict, a NamedTuple, a dataclass), or element 0
    of a plain tuple or list."""
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
        outputs = outputs[0]
    if not isinstance(outputs, torch.Tensor):
        raise UserError(f"{net_name} must return a tensor, a tuple whose first element is one, or a dict, NamedTuple "
                        f"or dataclass of them; got {type(outputs).__name__}")
    return outputs
