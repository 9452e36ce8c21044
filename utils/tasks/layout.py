"""Where a net's outputs keep their class scores (second or last axis), and the target value that marks padding."""

import torch

from utils.config.settings import TaskSettings
from utils.errors import UserError
from utils.tasks.kinds import CLASS_INDEX_TASKS, class_probabilities, sums_to_one
from utils.tasks.metric_catalogue import check_ignores, check_metric_fits_task, parse_metric_entry
from utils.tasks.metrics import chosen_metrics

AXIS_NAMES = {1: "1 ([B, C, ...], channels second)", -1: "-1 ([B, ..., C], channels last)"}


def check_layout_options(task: TaskSettings) -> None:
    """Refuse --class_axis and --ignore_index for tasks without class scores or class targets, --ignore_index with a
    metric that cannot leave those targets out, and a classification metric under --task regression."""
    if task.class_axis is not None and task.task not in CLASS_INDEX_TASKS:
        raise UserError(f"--class_axis is for --task classification or segmentation, whose outputs hold class "
                        f"scores (got --task {task.task}): drop --class_axis")
    if task.ignore_index is not None and task.task == "regression":
        raise UserError("--ignore_index leaves out targets of one class value, which --task regression does not "
                        "have: drop --ignore_index")
    for entry in chosen_metrics(task.task, task.metrics):
        check_ignores(parse_metric_entry(entry)[0], task.ignore_index)
        check_metric_fits_task(parse_metric_entry(entry)[0], task.task)


def fitting_axes(outputs: torch.Tensor, targets: torch.Tensor) -> list[int]:
    """The axes (1, -1) on which outputs can hold class scores for these targets: [B, C, ...] or [B, ..., C] against
    class indices, or the axes on which targets of the outputs' shape sum to 1, as class probabilities do."""
    if outputs.dim() < 2:
        return []
    if targets.is_floating_point() and targets.shape == outputs.shape:  # class probabilities: the axis they sum on
        return [axis for axis in (1, -1) if sums_to_one(targets, axis)]
    second = outputs.shape[:1] + outputs.shape[2:] == targets.shape
    last = outputs.shape[:-1] == targets.shape
    return [axis for axis, fits in ((1, second), (-1, last)) if fits]


def class_axis(task: str, outputs: torch.Tensor, targets: torch.Tensor, chosen: int | None,
               net_name: str) -> int | None:
    """The axis of the class scores: the one the shapes allow, or `chosen` (--class_axis) when both fit; None for
    tasks without class scores."""
    if task not in CLASS_INDEX_TASKS:
        return None
    axes = fitting_axes(outputs, targets)
    shapes = f"{net_name} outputs shape {tuple(outputs.shape)} for targets of shape {tuple(targets.shape)}"
    if chosen is not None:
        if axes and chosen not in axes:
            raise UserError(f"{shapes}, which puts the class scores on axis {AXIS_NAMES[axes[0]]}, not on axis "
                            f"{AXIS_NAMES[chosen]} as --class_axis (or an earlier dataset's batch) says: drop "
                            f"--class_axis or change the net's output")
        return chosen
    if len(axes) == 2 and outputs.dim() > 2:  # [B, C] against [B]: axes 1 and -1 are the same one
        raise UserError(f"{shapes}: the class scores may be on axis {AXIS_NAMES[1]} or on axis {AXIS_NAMES[-1]}, "
                        f"the shapes cannot tell: pass --class_axis 1 or --class_axis -1")
    return axes[0] if axes else 1


def classes_second(outputs: torch.Tensor, axis: int | None) -> torch.Tensor:
    """Outputs with their class scores on axis 1, as the losses and torchmetrics read them."""
    return outputs.movedim(-1, 1) if axis == -1 and outputs.dim() > 2 else outputs


def scores_and_targets(task: str, outputs: torch.Tensor, targets: torch.Tensor,
                       axis: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs with their class scores on axis 1, and targets that are class probabilities moved alike."""
    if class_probabilities(task, outputs, targets):
        targets = classes_second(targets, axis)
    return classes_second(outputs, axis), targets
