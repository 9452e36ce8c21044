"""The losses, each fitted to the task's target shape so every loss works with every task it makes sense for."""

import torch
import torch.nn.functional as F

from utils.errors import UserError

ELEMENTWISE_LOSSES = {
    "mse": F.mse_loss,
    "l1": F.l1_loss,
    "smooth_l1": F.smooth_l1_loss,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
}


def check_loss_fits_task(loss: str, task: str) -> None:
    """Refuse a loss that has no meaning for the task."""
    if loss == "cross_entropy" and task != "classification":
        raise UserError(f"--loss cross_entropy needs --task classification (got --task {task}): "
                        f"use mse, l1 or smooth_l1 for regression and bce_with_logits for binary")


def check_num_classes(task: str, num_classes: int) -> None:
    """Refuse a class count that multiclass metrics cannot work with."""
    if task == "classification" and num_classes < 2:
        raise UserError(f"--task classification needs --num_classes of at least 2, got {num_classes}: "
                        f"for a yes/no target with one output use --task binary --loss bce_with_logits")


class TaskLoss:
    """Loss of net outputs against dataset targets, shaping targets as the task needs (a plain callable: it has no
    parameters, and a module's call machinery would cost more than a small net's loss)."""

    def __init__(self, loss: str, task: str, num_classes: int, label_smoothing: float = 0.0) -> None:
        check_loss_fits_task(loss, task)
        self.loss, self.task, self.num_classes, self.label_smoothing = loss, task, num_classes, label_smoothing

    def shaped(self, outputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return outputs and targets in the shapes the loss compares."""
        if self.task == "classification":
            if self.loss == "cross_entropy":
                return outputs, targets if targets.dtype == torch.long else targets.long()
            return outputs, F.one_hot(targets.long(), self.num_classes).to(outputs.dtype)
        if outputs.dim() == targets.dim() + 1 and outputs.shape[-1] == 1:
            outputs = outputs.squeeze(-1)
        return outputs, targets.to(outputs.dtype)

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Compute the mean loss of a batch; a class target out of range is one clear error, not a traceback."""
        try:
            outputs, targets = self.shaped(outputs, targets)
            if self.loss == "cross_entropy":
                return F.cross_entropy(outputs, targets, label_smoothing=self.label_smoothing)
        except (IndexError, RuntimeError) as error:
            # Only the first two items of each dataset are checked before a run; a later wrong target ends here.
            if self.task == "classification" and ("out of bounds" in str(error) or "Class values" in str(error)):
                raise UserError(f"a target outside the class indices 0 to {self.num_classes - 1} reached the loss "
                                f"({str(error).splitlines()[0]}): fix the dataset's targets or raise --num_classes"
                                ) from None
            raise
        return ELEMENTWISE_LOSSES[self.loss](outputs, targets)


def check_output_shape(loss: TaskLoss, outputs: torch.Tensor, targets: torch.Tensor, net_name: str) -> None:
    """Refuse net outputs whose shape does not fit the targets, naming both shapes."""
    expected = {"classification": f"(batch, {loss.num_classes})", "binary": "(batch,) or (batch, 1)"}
    if loss.task == "classification":
        fits = outputs.dim() == 2 and outputs.shape[1] == loss.num_classes and targets.dim() == 1
    else:
        shaped_outputs, shaped_targets = loss.shaped(outputs, targets)
        fits = shaped_outputs.shape == shaped_targets.shape
    if not fits:
        wanted = expected.get(loss.task, f"the targets' shape {tuple(targets.shape)}")
        raise UserError(
            f"{net_name} outputs shape {tuple(outputs.shape)} for targets of shape {tuple(targets.shape)}, "
            f"but --task {loss.task} with --loss {loss.loss} needs {wanted}: change the net's output size "
            f"(--num_classes) or the task"
        )


def check_targets(loss: TaskLoss, targets: torch.Tensor, dataset: str) -> None:
    """Refuse class targets outside 0 .. num_classes - 1, and binary targets other than 0 and 1."""
    if loss.task == "regression" or targets.numel() == 0:
        return
    values = sorted({value.item() for value in targets.reshape(-1).unique()})
    if loss.task == "binary":
        wrong = [value for value in values if value not in (0, 1)]
        if wrong:
            raise UserError(f"{dataset} has the target {wrong[0]}, but --task binary needs targets 0 and 1: "
                            f"map the targets to 0 and 1, or use --task classification")
        return
    wrong = [value for value in values if not float(value).is_integer() or not 0 <= value < loss.num_classes]
    if wrong:
        raise UserError(f"{dataset} has the target {wrong[0]}, but --num_classes {loss.num_classes} allows the class "
                        f"indices 0 to {loss.num_classes - 1}: raise --num_classes or fix the targets")
