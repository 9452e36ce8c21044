"""Targets that are not tensors (boxes per image, dicts): scored by the net's own loss and metrics, as they come."""

from typing import Any

import torch

from utils.errors import UserError
from utils.tasks.metrics import StageMetrics, item_count


def detached(value: Any) -> Any:
    """A copy of tensors, lists, tuples and dicts of them that holds no autograd graph."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, (list, tuple)):
        return type(value)(detached(part) for part in value)
    if isinstance(value, dict):
        return {key: detached(part) for key, part in value.items()}
    return value


class GivenTargetsMetrics(StageMetrics):
    """The mean loss and the net's own metrics, updated batch by batch with the outputs and targets as they come."""

    def update(self, loss: torch.Tensor, outputs: Any, targets: Any) -> None:
        """Add one batch: its mean loss, weighted by its items, and the net's metrics of its outputs and targets."""
        self.loss.update(loss.detach().float(), float(item_count(targets)))
        if not len(self.collection):
            return
        try:
            self.collection.update(detached(outputs), targets)
        except (RuntimeError, ValueError, TypeError) as error:
            raise UserError(f"the net's own metrics refused a batch ({str(error).splitlines()[0]}): make its "
                            f"metrics() return metrics whose update takes the net's outputs and the targets as the "
                            f"dataset's collate_fn gives them") from None
