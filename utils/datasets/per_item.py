"""Batches back into items: split a collated value into one value per item, and join items over a whole set."""

from typing import Any

import torch


def is_per_item_list(outputs: Any) -> bool:
    """Whether a net returns a list of one dict per item, as detection nets do (boxes, scores, labels per image)."""
    return isinstance(outputs, list) and bool(outputs) and all(isinstance(item, dict) for item in outputs)


def split_items(value: Any, count: int) -> list[Any]:
    """One value per item of a collated batch value of `count` items (what torch's default collate or a dataset's
    `collate_fn` made of them); a value that is not per item, such as a batch-wide number, goes to every item."""
    if isinstance(value, torch.Tensor) and value.dim() > 0 and len(value) == count:
        return list(value)
    if isinstance(value, dict):
        parts = {key: split_items(part, count) for key, part in value.items()}
        return [{key: part[index] for key, part in parts.items()} for index in range(count)]
    if isinstance(value, (list, tuple)) and len(value) == count:
        return list(value)  # a collate_fn's list of one value per item (a box tensor per image), or file names
    if isinstance(value, (list, tuple)) and value and all(_holds_items(part, count) for part in value):
        # torch's default collate turns an item's tuple into one collated value per position.
        positions = [split_items(part, count) for part in value]
        return [tuple(position[index] for position in positions) for index in range(count)]
    return [value] * count


def _holds_items(value: Any, count: int) -> bool:
    """Whether a value is collated from `count` items: a tensor or a sequence of one entry per item, or a dict."""
    if isinstance(value, torch.Tensor):
        return value.dim() > 0 and len(value) == count
    return isinstance(value, dict) or (isinstance(value, (list, tuple)) and len(value) == count)


def join_items(values: list[Any]) -> Any:
    """The values of a set's items as one: a stacked tensor when they are tensors of one shape, a dict or tuple of
    joined parts when they are dicts or tuples alike, else the list of values."""
    if values and all(isinstance(value, torch.Tensor) for value in values):
        return torch.stack(values) if len({value.shape for value in values}) == 1 else values
    if values and all(isinstance(value, dict) and value.keys() == values[0].keys() for value in values):
        return {key: join_items([value[key] for value in values]) for key in values[0]}
    if values and all(isinstance(value, tuple) and len(value) == len(values[0]) for value in values):
        return tuple(join_items(list(position)) for position in zip(*values, strict=True))
    return list(values)
