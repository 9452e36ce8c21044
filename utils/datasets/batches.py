"""Datasets that serve whole batches: `__getitems__(indices)` returns the batch itself (plain PyTorch, no Lightning)."""

from typing import Any

from torch.utils.data import Dataset, Subset


def keep_batch(batch: Any) -> Any:
    """Collate for datasets whose `__getitems__` already returns a whole batch."""
    return batch


def underlying_dataset(dataset: Dataset) -> Dataset:
    """The user's dataset under any train / val Subset of it."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return dataset


def serves_batches(dataset: Dataset) -> bool:
    """Whether a dataset (or the dataset under a Subset) answers a list of indices with a ready batch."""
    return callable(getattr(underlying_dataset(dataset), "__getitems__", None))
