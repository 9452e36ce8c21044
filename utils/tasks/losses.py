"""The losses, each fitted to the task's target shape so every loss works with every task it makes sense for."""

import torch
import torch.nn.functional as F

from utils.errors import UserError
from utils.tasks.kinds import CLASS_INDEX_TASKS, class_probabilities, fitted, sums_to_one

ELEMENTWISE_LOSSES = {
    "mse": F.mse_loss,
    "l1": F.l1_loss,
    "smooth_l1": F.smooth_l1_loss,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
}


def check_loss_fits_task(loss: str, task: str, label_smoothing: float = 0.0, smoothing_stated: bool = True) -> None:
    """Refuse a loss that has no meaning for the task, and label smoothing for a loss it does nothing to
    (`smoothing_stated`: typed for this run, rather than the value of the run or checkpoint it starts from)."""
    if loss == "cross_entropy" and task not in CLASS_INDEX_TASKS:
        raise UserError(f"--loss cross_entropy needs --task classification or segmentation (got --task {task}): "
                        f"use mse, l1 or smooth_l1 for regression and bce_with_logits for binary and multilabel")
    if label_smoothing and loss != "cross_entropy":
        fix = ("drop --label_smoothing" if smoothing_stated
               else "pass --label_smoothing 0 (the value of the run this one starts from)")
        raise UserError(f"--label_smoothing {label_smoothing} smooths the class targets of cross_entropy, and the "
                        f"loss of this run is {loss}, which it would not change: {fix}")


def check_own_loss_options(loss: str | None, label_smoothing: float, net_name: str) -> None:
    """Refuse a --loss or a label smoothing for a net with its own loss, which they would not change."""
    ignored = [text for text, given in ((f"--loss {loss}", loss is not None),
                                        (f"--label_smoothing {label_smoothing}", bool(label_smoothing))) if given]
    if ignored:
        raise UserError(f"{net_name} has its own loss, which the run trains on, so {' and '.join(ignored)} would do "
                        f"nothing: drop {'them' if len(ignored) > 1 else 'it'}, or remove {net_name}.loss")


class TaskLoss:
    """Loss of a net's outputs against dataset targets, shaping targets as the task needs."""

    def __init__(self, loss: str, task: str, label_smoothing: float = 0.0, ignore_index: int | None = None) -> None:
        check_loss_fits_task(loss, task, label_smoothing)
        self.loss, self.task, self.label_smoothing, self.ignore_index = loss, task, label_smoothing, ignore_index

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The mean loss of a batch over the targets not --ignore_index (0 for a batch with none)."""
        return self.mean_and_count(outputs, targets)[0]

    def mean_and_count(self, outputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | int]:
        """The mean loss of a batch and how many numbers it is the mean of (targets not --ignore_index, each a
        position of the element-wise losses), so an epoch's mean weighs each batch by them; a class target out of
        range is one clear error, not a traceback."""
        # At least float32: bf16 outputs would round soft or real-valued targets cast to their type (0.8 -> 0.8008).
        outputs = outputs.to(torch.promote_types(outputs.dtype, torch.float32))
        soft = class_probabilities(self.task, outputs, targets)
        if soft:  # nothing in torch refuses a batch of them that are none, as it refuses a class index out of range
            check_probabilities(self.task, targets, "a batch", None)
        outputs, targets = fitted(self.task, outputs, targets, hard=False)
        kept = None if self.ignore_index is None or soft else targets != self.ignore_index
        try:
            if self.loss == "cross_entropy" and kept is None:
                items = targets.numel() // targets.shape[1] if soft else targets.numel()
                return F.cross_entropy(outputs, targets, label_smoothing=self.label_smoothing), items
            if self.loss == "cross_entropy":
                return mean_of(F.cross_entropy(outputs, targets, label_smoothing=self.label_smoothing,
                                               ignore_index=self.ignore_index, reduction="sum"), kept.sum())
            if kept is not None:
                targets = targets.where(kept, 0)
            if self.task in CLASS_INDEX_TASKS and not soft:
                # One-hot targets on the class dimension, for the element-wise losses.
                targets = F.one_hot(targets, outputs.shape[1]).movedim(-1, 1)
                kept = None if kept is None else kept.unsqueeze(1).expand_as(outputs)
        except (IndexError, RuntimeError) as error:
            if "out of bounds" in str(error) or "Class values" in str(error) or "out of range" in str(error):
                raise UserError(f"a target outside the class indices 0 to {outputs.shape[1] - 1} reached the loss "
                                f"({str(error).splitlines()[0]}): fix the dataset's targets or the net's number "
                                f"of outputs") from None
            raise
        if kept is None:
            return ELEMENTWISE_LOSSES[self.loss](outputs, targets.to(outputs.dtype)), outputs.numel()
        losses = ELEMENTWISE_LOSSES[self.loss](outputs, targets.to(outputs.dtype), reduction="none")
        # A sum over the kept positions, not boolean indexing, so the step never waits to count them on the host.
        return mean_of((losses * kept).sum(), kept.sum())


def mean_of(total: torch.Tensor, count: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`total` over `count`, and `count`: 0 (not NaN, which a step would train on) when nothing was counted."""
    return total / count.clamp(min=1), count


VOID_PIXEL = 255


def check_targets(task: str, classes: int | None, targets: torch.Tensor, dataset: str, net_name: str,
                  ignore_index: int | None = None, probabilities: bool = False) -> None:
    """Refuse class targets outside 0 .. classes - 1, class probabilities that are none (`probabilities`: targets of
    the class scores' shape), and binary or multi-label targets outside 0 to 1, but for the --ignore_index value."""
    if task == "regression" or targets.numel() == 0:
        return
    if probabilities:
        check_probabilities(task, targets, dataset, ignore_index)
        return
    values = sorted({value.item() for value in targets.reshape(-1).unique()} - {ignore_index})
    # A negative value pads sequences (-100), 255 marks void pixels in segmentation masks (VOC's, Cityscapes').
    marker = next((value for value in values if value < 0 or value == VOID_PIXEL), None)
    padding = "" if marker is None or ignore_index is not None else \
        f" (if {marker:g} marks padding or void pixels, pass --ignore_index {marker:g})"
    if task in ("binary", "multilabel"):
        wrong = [value for value in values if not 0 <= value <= 1]
        if wrong:
            raise UserError(f"{dataset} has the target {wrong[0]}, but --task {task} needs targets from 0 to 1 (0 and "
                            f"1, or soft targets between){padding}: map the targets into 0 to 1, or use --task "
                            f"classification")
        return
    wrong = [value for value in values if not float(value).is_integer() or not 0 <= value < (classes or 0)]
    if wrong and not float(wrong[0]).is_integer():
        raise UserError(f"{dataset} has the target {wrong[0]:g}, which is no class index (--task {task} reads "
                        f"targets as classes 0 to {(classes or 0) - 1}): for real-valued targets pass --task "
                        f"regression, or make the targets class indices")
    if wrong:
        raise UserError(f"{dataset} has the target {wrong[0]}, but {net_name} scores {classes} classes "
                        f"(--num_classes {classes}), so the class indices are 0 to {(classes or 0) - 1}{padding}: "
                        f"raise the net's number of outputs or fix the targets")


def check_probabilities(task: str, targets: torch.Tensor, dataset: str, ignore_index: int | None) -> None:
    """Refuse targets of the class scores' shape that are no class probabilities (each item's from 0 to 1, summing to
    1 on the class axis), and --ignore_index beside them."""
    shape = tuple(targets.shape)
    if ignore_index is not None:
        raise UserError(f"{dataset} gives class probabilities (float targets of the class scores' shape {shape}), "
                        f"which hold no class index for --ignore_index {ignore_index} to leave out: drop "
                        f"--ignore_index, or give class indices")
    in_range = bool(((targets >= 0) & (targets <= 1)).all())
    if in_range and sums_to_one(targets, 1):
        return
    sums = targets.float().sum(1).flatten()
    what = (f"an item's sum to {sums[(sums - 1).abs().argmax()].item():g}, not 1" if in_range else
            f"values from {targets.min().item():g} to {targets.max().item():g}, not within 0 to 1")
    void = (" (an item of all zeros, a void pixel?, has no class: give class indices, with --ignore_index for it)"
            if in_range and bool((sums == 0).any()) else "")
    raise UserError(f"{dataset} gives float targets of the class scores' shape {shape}, which --task {task} reads as "
                    f"class probabilities, but they are none ({what}){void}: for several labels an item use --task "
                    f"multilabel, for real values --task regression, else give class indices or probabilities that "
                    f"sum to 1")
