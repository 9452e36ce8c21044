"""One small batch through the net before any run folder exists, so mistakes surface as one clear line."""

from typing import Any

import torch
from torch.utils.data import Dataset, default_collate

from utils.datasets.batches import serves_batches, underlying_dataset
from utils.errors import UserError
from utils.tasks.losses import check_output_shape, check_targets


def dataset_description(dataset: Dataset, label: str) -> str:
    """Name a dataset by its label and its class (the one under any train / val Subset)."""
    return f"dataset {label!r} ({type(underlying_dataset(dataset)).__name__})"


def _type_text(value: Any) -> str:
    if isinstance(value, (tuple, list)) and value:
        return f"{type(value).__name__} of {type(value[0]).__name__}"
    return type(value).__name__


def sample_batch(dataset: Dataset, label: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Fetch the first two items as a batch, the way the loader will, and check they are tensors."""
    indices = list(range(min(2, len(dataset))))
    batch = dataset.__getitems__(indices) if serves_batches(dataset) else default_collate([dataset[i] for i in indices])
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise UserError(f"{dataset_description(dataset, label)} must return (inputs, target) pairs, "
                        f"got {type(batch).__name__}")
    inputs, targets = batch[0], batch[1]
    if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise UserError(f"{dataset_description(dataset, label)} must return tensors (or numbers), got batches of "
                        f"({_type_text(inputs)}, {_type_text(targets)}): convert its items to torch tensors")
    return inputs, targets


def preflight(model: Any, datasets: dict[str, Dataset]) -> None:
    """Run the net and the loss on two items of each dataset, refusing shapes and types that do not fit."""
    net_name = type(model.net).__name__
    was_training = model.training
    model.eval()
    try:
        for label, dataset in datasets.items():
            inputs, targets = sample_batch(dataset, label)
            with torch.no_grad():
                try:
                    outputs = model(inputs)
                except (RuntimeError, TypeError, ValueError) as error:
                    raise UserError(f"{net_name} failed on a batch of {dataset_description(dataset, label)}, inputs "
                                    f"of shape {tuple(inputs.shape)}: {str(error).splitlines()[0]}") from None
                check_output_shape(model.loss_function, outputs, targets, net_name)
            check_targets(model.loss_function, targets, dataset_description(dataset, label))
    finally:
        model.train(was_training)
