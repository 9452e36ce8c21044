"""How a dataset's items become batches, and how a batch splits into inputs and targets (plain PyTorch)."""

import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from torch.utils.data import Dataset, Subset, default_collate

from utils.errors import UserError


def keep_batch(batch: Any) -> Any:
    """Collate for datasets with `__getitems__`: the whole batch it returns as it is, or, where it returns a list of
    items (tuples, lists or dicts: torch's own meaning of `__getitems__`), those items batched as torch batches them."""
    if isinstance(batch, list) and batch and all(isinstance(item, (tuple, list, dict)) for item in batch):
        return default_collate(batch)
    return batch


def underlying_dataset(dataset: Dataset) -> Dataset:
    """The user's dataset under any train / val Subset of it."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return dataset


def dataset_indices(dataset: Dataset) -> list[int]:
    """The index in the user's dataset of each item of `dataset`, through any train / val Subset of it."""
    indices = list(range(len(dataset)))
    while isinstance(dataset, Subset):
        indices = [dataset.indices[index] for index in indices]
        dataset = dataset.dataset
    return [int(index) for index in indices]


def serves_batches(dataset: Dataset) -> bool:
    """Whether a dataset (or the dataset under a Subset) answers a list of indices with a ready batch."""
    return callable(getattr(underlying_dataset(dataset), "__getitems__", None))


def collate_function(dataset: Dataset) -> Callable[[list[Any]], Any] | None:
    """The dataset's own `collate_fn` (of its class, or else a function of that name in its file, as code written for
    a plain DataLoader has it), `keep_batch` for whole-batch datasets, or None for torch's default."""
    user_dataset = underlying_dataset(dataset)
    own = getattr(user_dataset, "collate_fn", None)
    if not callable(own):
        own = getattr(sys.modules.get(type(user_dataset).__module__), "collate_fn", None)
    if callable(own):
        return own
    return keep_batch if serves_batches(dataset) else None


def keeps_items_in_order(dataset: Dataset) -> bool:
    """Whether the run's loaders make each batch of `dataset` the items its sampler chose, in that order: torch's
    default collate, or a `__getitems__` (which torch asks for the items of the indices it is given); a dataset's own
    collate_fn may drop or reorder them."""
    return collate_function(dataset) in (None, keep_batch)


def stacked_items(dataset_name: str, items: list[Any]) -> Any:
    """torch's default_collate, refusing in one line items it cannot stack (only a run's first items are checked
    before it starts; a later batch of unequal items fails here)."""
    try:
        return default_collate(items)
    except (RuntimeError, TypeError) as error:
        raise UserError(f"a batch of {dataset_name}'s items cannot be made ({str(error).splitlines()[0]}): give "
                        f"every item tensors of one shape, or define collate_fn (a function in the dataset's file, or "
                        f"a @staticmethod of its class) that pads or packs them") from None


def loader_collate(dataset: Dataset) -> Callable[[list[Any]], Any]:
    """What the run's loaders batch `dataset`'s items with: its own collate_fn, or stacked_items."""
    return collate_function(dataset) or partial(stacked_items, type(underlying_dataset(dataset)).__name__)


def split_batch(batch: Any, input_key: str, target_key: str) -> tuple[Any, Any]:
    """(inputs, targets) of a batch: its first two elements, or its `input_key` and `target_key` entries."""
    if isinstance(batch, dict):
        missing = [key for key in (input_key, target_key) if key not in batch]
        if missing:
            raise UserError(f"a dict batch has no key {missing[0]!r} (its keys: {', '.join(map(str, batch))}): set "
                            f"--input_key and --target_key to the keys of the dataset's items")
        return batch[input_key], batch[target_key]
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise UserError(f"a batch must be (inputs, target, ...) or a dict with --input_key and --target_key, "
                    f"got {type(batch).__name__}")


def carries_target(batch: Any, target_key: str) -> bool:
    """Whether a batch holds targets: a tuple's second element, or a dict's `target_key` entry (a batch of inputs
    alone, as data to predict on comes, holds none)."""
    if isinstance(batch, dict):
        return target_key in batch
    return isinstance(batch, (tuple, list)) and len(batch) >= 2


def forward_keywords(net: Any) -> frozenset[str]:
    """The names of the parameters of `net.forward` after its first, which a dict batch's entries can fill (none
    for a forward whose signature Python cannot read, such as a scripted one)."""
    try:
        parameters = list(inspect.signature(net.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return frozenset()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return frozenset(parameter.name for parameter in parameters if parameter.kind in kinds)


def keyword_inputs(batch: Any, keywords: frozenset[str], input_key: str, target_key: str) -> dict[str, Any]:
    """The entries of a dict batch that the net's forward names (an attention_mask beside the input_ids), as
    Hugging Face's `model(**batch)` would pass them; never the target, which the template's loss reads."""
    if not keywords or not isinstance(batch, dict):
        return {}
    return {key: value for key, value in batch.items() if key in keywords and key not in (input_key, target_key)}


def batch_inputs(batch: Any, input_key: str) -> Any:
    """The inputs of a batch for prediction: the whole batch when the dataset gives inputs alone."""
    if isinstance(batch, dict):
        return batch.get(input_key, batch)
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def batch_extras(batch: Any, input_key: str) -> dict[str, Any]:
    """What a batch carries besides its inputs, by name: a tuple's `target` and `extra_<i>` (its items' third element
    on), or a dict's other keys; nothing when the batch is the inputs alone."""
    if isinstance(batch, dict):
        return {key: value for key, value in batch.items() if key != input_key} if input_key in batch else {}
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return {"target": batch[1], **{f"extra_{index}": value for index, value in enumerate(batch[2:])}}
    return {}


@dataclass
class PredictedBatch:
    """The prediction for a batch, with what the batch's items carry besides their inputs (ids, file names, ...)."""

    outputs: Any
    extras: dict[str, Any]
