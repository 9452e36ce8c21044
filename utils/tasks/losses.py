"""The losses, each fitted to the task's target shape so every loss works with every task it makes sense for."""

import torch
import torch.nn.functional as F

from utils.errors import UserError
from utils.tasks.kinds import CLASS_INDEX_TASKS, fitted

LOSSES = ("cross_entropy", "mse", "l1", "smooth_l1", "bce_with_logits")
ELEMENTWISE_LOSSES = {
    "mse": F.mse_loss,
    "l1": F.l1_loss,
    "smooth_l1": F.smooth_l1_loss,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
}


def check_loss_fits_task(loss: str, task: str) -> None:
    """Refuse a loss that has no meaning for the task."""
    if loss == "cross_entropy" and task not in CLASS_INDEX_TASKS:
        raise UserError(f"--loss cross_entropy needs --task classification or segmentation (got --task {task}): "
                        f"use mse, l1 or smooth_l1 for regression and bce_with_logits for binary and multilabel")


class TaskLoss:
    """Loss of a net's outputs against dataset targets, shaping targets as the task needs."""

    def __init__(self, loss: str, task: str, label_smoothing: float = 0.0) -> None:
        check_loss_fits_task(loss, task)
        self.loss, self.task, self.label_smoothing = loss, task, label_smoothing

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The mean loss of a batch; a class target out of range is one clear error, not a traceback."""
        outputs, targets = fitted(self.task, outputs, targets)
        try:
            if self.loss == "cross_entropy":
                return F.cross_entropy(outputs, targets, label_smoothing=self.label_smoothing)
            if self.task in CLASS_INDEX_TASKS:
                # One-hot targets on the class dimension, for the element-wise losses.
                targets = F.one_hot(targets, outputs.shape[1]).movedim(-1, 1)
        except (IndexError, RuntimeError) as error:
            if "out of bounds" in str(error) or "Class values" in str(error) or "out of range" in str(error):
                raise UserError(f"a target outside the class indices 0 to {outputs.shape[1] - 1} reached the loss "
                                f"({str(error).splitlines()[0]}): fix the dataset's targets or the net's number "
                                f"of outputs") from None
            raise
        return ELEMENTWISE_LOSSES[self.loss](outputs, targets.to(outputs.dtype))


def check_targets(task: str, classes: int | None, targets: torch.Tensor, dataset: str, net_name: str) -> None:
    """Refuse class targets outside 0 .. classes - 1, and binary or multi-label targets other than 0 and 1."""
    if task == "regression" or targets.numel() == 0:
        return
    values = sorted({value.item() for value in targets.reshape(-1).unique()})
    if task in ("binary", "multilabel"):
        wrong = [value for value in values if value not in (0, 1)]
        if wrong:
            raise UserError(f"{dataset} has the target {wrong[0]}, but --task {task} needs targets 0 and 1: "
                            f"map the targets to 0 and 1, or use --task classification")
        return
    wrong = [value for value in values if not float(value).is_integer() or not 0 <= value < (classes or 0)]
    if wrong:
        raise UserError(f"{dataset} has the target {wrong[0]}, but {net_name} scores {classes} classes "
                        f"(--num_classes {classes}), so the class indices are 0 to {(classes or 0) - 1}: raise the "
                        f"net's number of outputs or fix the targets")
