"""The tasks: each one's default loss and metrics, and how its outputs and targets fit together."""

from dataclasses import dataclass

import torch

from utils.config.framework_options import BY_NAME
from utils.errors import UserError


@dataclass(frozen=True)
class TaskKind:
    """What a task means: its default loss and metrics, and the torchmetrics task its metrics are built for."""

    default_loss: str
    default_metrics: tuple[str, ...]
    metrics_task: str | None
    shapes: str


# One TaskKind per --task choice, in the registry's order: classification, binary, multilabel, segmentation, regression.
TASKS = dict(zip(BY_NAME["task"].choices, (
    TaskKind("cross_entropy", ("accuracy", "f1"), "multiclass", "class scores [B, C] (or [B, C, ...], or [B, ..., C]) "
             "against class indices [B] (or [B, ...]) or class probabilities of the scores' shape"),
    TaskKind("bce_with_logits", ("accuracy", "f1"), "binary",
             "one logit [B] or [B, 1] (or [B, 1, ...]) against targets from 0 to 1 [B] (or [B, ...])"),
    TaskKind("bce_with_logits", ("accuracy", "f1"), "multilabel",
             "one logit per label [B, K] against targets from 0 to 1 [B, K]"),
    TaskKind("cross_entropy", ("accuracy", "iou"), "multiclass",
             "class scores [B, C, H, W] (or [B, H, W, C]) against class indices [B, H, W] or class probabilities "
             "of the scores' shape"),
    TaskKind("mse", ("mae",), None, "outputs of the targets' shape (a trailing 1 of either is dropped)"),
), strict=True))
CLASS_INDEX_TASKS = ("classification", "segmentation")


def outputs_reading(task: str, loss: str | None, own_loss: bool, sigmoid_outputs: bool = False) -> str | None:
    """How the metrics read the outputs, once for the whole run: `probabilities`, clipped into [0, 1] so a value past
    either end counts on its side, for binary or multi-label outputs that are a sigmoid's result (`sigmoid_outputs`)
    or trained toward 0 and 1 by mse, l1 or smooth_l1; `logits`, read through their sigmoid, under bce_with_logits
    or a net's own loss; `class_logits`, read through their softmax on the class axis, for class scores trained by
    cross_entropy; None (as they are) otherwise.

    torchmetrics alone would guess for each group of batches: it takes the sigmoid (softmax) of a group holding any
    value outside [0, 1] and reads a group inside it as probabilities, moving the threshold (the scores) from group
    to group."""
    if task in CLASS_INDEX_TASKS:
        return "class_logits" if not own_loss and (loss or TASKS[task].default_loss) == "cross_entropy" else None
    if task not in ("binary", "multilabel"):
        return None
    if sigmoid_outputs:
        return "probabilities"
    return "logits" if own_loss or (loss or TASKS[task].default_loss) == "bce_with_logits" else "probabilities"


def task_kind(task: str) -> TaskKind:
    """The definition of a task by name."""
    return TASKS[task]


def class_probabilities(task: str, outputs: torch.Tensor, targets: torch.Tensor) -> bool:
    """Whether the targets are class probabilities (soft targets: label smoothing, mixup): floats of the class
    scores' own shape, for the class-index tasks."""
    return (task in CLASS_INDEX_TASKS and targets.is_floating_point() and outputs.dim() > 1
            and targets.shape == outputs.shape)


def sums_to_one(targets: torch.Tensor, axis: int) -> bool:
    """Whether each item's targets sum to 1 on `axis`, to the precision of their type (bfloat16 rounds by 1e-2)."""
    tolerance = max(1e-3, targets.shape[axis] * torch.finfo(targets.dtype).eps)
    return bool(((targets.float().sum(axis) - 1).abs() <= tolerance).all())


def fitted(task: str, outputs: torch.Tensor, targets: torch.Tensor,
           hard: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs and targets in the shapes and types the task's metrics compare, or its losses (`hard` False): the
    metrics read soft targets as the hard ones they lean to, the likeliest class or 1 from 0.5 up."""
    if class_probabilities(task, outputs, targets):
        return outputs, targets.argmax(1) if hard else targets.to(outputs.dtype)
    if task in CLASS_INDEX_TASKS:
        return outputs, targets if targets.dtype == torch.long else targets.long()
    if task == "binary" and outputs.dim() == targets.dim() + 1 and outputs.shape[1] == 1:
        outputs = outputs.squeeze(1)
    if task == "regression" and outputs.dim() == targets.dim() + 1 and outputs.shape[-1] == 1:
        outputs = outputs.squeeze(-1)
    if task == "regression" and targets.dim() == outputs.dim() + 1 and targets.shape[-1] == 1:
        targets = targets.squeeze(-1)
    if task in ("binary", "multilabel") and targets.is_floating_point() and not hard:
        return outputs, targets.to(outputs.dtype)
    if task in ("binary", "multilabel") and targets.is_floating_point():
        # A value outside 0 to 1 stays outside (1.5 -> 2, -0.3 -> -1), so the metrics refuse it unless --ignore_index.
        outside = torch.where(targets > 1, targets.ceil(), targets.floor()).long()
        return outputs, (targets >= 0.5).long().where((targets >= 0) & (targets <= 1), outside)
    if task in ("binary", "multilabel"):
        return outputs, targets.long()
    return outputs, targets.to(outputs.dtype)


def shape_problem(task: str, outputs: torch.Tensor, targets: torch.Tensor) -> str | None:
    """Why outputs of this shape cannot be scored against these targets under the task, or None if they can."""
    if task in CLASS_INDEX_TASKS:
        # Class scores on dimension 1: [B, C, ...] against [B, ...], or against probabilities of their own shape.
        if not class_probabilities(task, outputs, targets) and (
                outputs.dim() < 2 or outputs.shape[:1] + outputs.shape[2:] != targets.shape):
            # [B, 1] labels, or [B, 1, H, W] masks: a dimension of one where the outputs keep their class scores.
            wrapped = (targets.dim() == outputs.dim() > 1 and targets.shape[1] == 1 < outputs.shape[1]
                       and targets.shape[2:] == outputs.shape[2:])
            hint = (" (the targets have a dimension of one where the class scores are: squeeze it, target.squeeze(1), "
                    "or give each item's class as a number)" if wrapped else "")
            if targets.dim() == outputs.dim() > 2 and targets.movedim(-1, 1).shape == outputs.shape:
                hint = (" (the targets hold their classes last, as F.one_hot gives them: give class indices, "
                        "target.argmax(-1), or move the classes to axis 1, target.movedim(-1, 1))")
            if targets.shape == outputs.shape:  # F.one_hot's integers
                hint = (" (these targets of the scores' shape are integers, not probabilities: give class indices, "
                        "one_hot.argmax(1), or float probabilities, one_hot.float())")
            return f"--task {task} needs {TASKS[task].shapes}{hint}"
        if outputs.shape[1] < 2:
            real = targets.is_floating_point() and not bool(((targets == 0) | (targets == 1)).all())
            fix = ("for real-valued targets use --task regression" if real
                   else "for one logit with 0/1 targets use --task binary")
            return f"--task {task} needs at least 2 class scores per item, the net gives {outputs.shape[1]}: {fix}"
        return None
    shaped_outputs, shaped_targets = fitted(task, outputs, targets)
    if shaped_outputs.shape != shaped_targets.shape:
        return f"--task {task} needs {TASKS[task].shapes}"
    return None


def class_count(task: str, outputs: torch.Tensor) -> int | None:
    """The number of classes (or labels) a net's outputs score, for the tasks that have one."""
    return int(outputs.shape[1]) if task in (*CLASS_INDEX_TASKS, "multilabel") else None


def check_class_count(task: str, given: int | None, outputs: torch.Tensor, net_name: str) -> int | None:
    """The class count of the run: the net's, which a given --num_classes must equal."""
    counted = class_count(task, outputs)
    if given is not None and counted is not None and given != counted:
        raise UserError(f"--num_classes {given} contradicts {net_name}, which scores {counted} classes or labels "
                        f"(outputs of shape {tuple(outputs.shape)}): drop --num_classes or change the net's output")
    return counted


def check_num_classes(task: str, num_classes: int | None) -> None:
    """Refuse a given class count that class-index tasks cannot work with."""
    if task in CLASS_INDEX_TASKS and num_classes is not None and num_classes < 2:
        raise UserError(f"--task {task} needs --num_classes of at least 2, got {num_classes}: for a yes/no target "
                        f"with one output use --task binary")
