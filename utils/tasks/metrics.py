"""The metrics of each task, kept as exact sums over an epoch's samples: one EpochMetrics per stage and dataset."""

import torch
import torch.distributed as dist

from utils.errors import UserError

METRIC_NAMES = {"classification": ("accuracy", "f1"), "binary": ("accuracy", "f1"), "regression": ("mae",)}
# Batches kept before they are added into the sums: a step only appends its tensors to a list, and the tensor
# operations of adding up (predictions, counts) are paid once per this many batches, on all of them at once.
BATCHES_PER_FOLD = 32
# Fewer batches are kept when their outputs hold more numbers than this (many classes, dense regression outputs).
OUTPUTS_PER_FOLD = 1 << 20


class EpochMetrics:
    """The mean loss plus accuracy and macro F1 (classification, binary) or mean absolute error (regression).

    A step only keeps its batch's loss, raw outputs and targets; every BATCHES_PER_FOLD batches (or OUTPUTS_PER_FOLD
    output numbers) they are turned into predictions and added into exact sums (per class: hits, predictions,
    targets; 3 x num_classes numbers, so 50,000 classes are cheap), and in distributed runs one all-reduce adds
    every process's sums. Predictions: the arg-max class, a sigmoid probability above 0.5, or the output itself.
    Accuracy and F1 equal torchmetrics' MulticlassAccuracy(average="micro") and MulticlassF1Score(average="macro")
    (macro over the classes that occur as target or prediction), or BinaryAccuracy and BinaryF1Score. The sums are
    plain float64 CPU tensors, not module buffers, so neither a half-precision model nor an accelerator rounds them.
    """

    def __init__(self, task: str, num_classes: int) -> None:
        self.task = task
        self.classes = 2 if task == "binary" else num_classes
        # loss sum, samples, then a count of targets outside the classes and, per class, the correct predictions,
        # the predictions and the targets; or, for regression, the absolute error sum and the number of outputs.
        self.width = 4 if task == "regression" else 3 + 3 * self.classes
        self.sums: torch.Tensor | None = None
        self.pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (loss, outputs, targets)
        self.pending_outputs = 0

    def update(self, loss: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        """Add one batch: its mean loss, the net's raw outputs (class scores, one logit, or values) and targets."""
        self.pending.append((loss.detach(), outputs.detach(), targets))
        self.pending_outputs += outputs.numel()
        if len(self.pending) >= BATCHES_PER_FOLD or self.pending_outputs >= OUTPUTS_PER_FOLD:
            self.fold()

    def fold(self) -> None:
        """Add the kept batches into the sums, which stay on the CPU (float64 is not on every accelerator)."""
        if not self.pending:
            return
        losses, outputs, targets = zip(*self.pending, strict=True)
        self.pending, self.pending_outputs = [], 0
        batch_sizes = torch.tensor([len(batch) if batch.dim() else 1 for batch in targets], dtype=torch.float64)
        head = torch.stack([torch.stack(losses).cpu().double() @ batch_sizes, batch_sizes.sum()])
        if self.task == "regression":
            # float32 on the device (MPS has no float64); the fold's sum is added up in float64 on the CPU.
            predictions = torch.cat([batch.reshape(-1) for batch in outputs]).float()
            errors = (predictions - torch.cat([batch.reshape(-1) for batch in targets]).float()).abs().sum()
            tail = torch.stack([errors.cpu().double(), torch.tensor(float(predictions.numel()), dtype=torch.float64)])
        else:
            # Whole batches are joined: the checks before a run made class scores (batch, classes) and binary
            # outputs and targets the same shape in every batch.
            if self.task == "classification":
                predictions = torch.cat(outputs).argmax(dim=-1)
            else:
                predictions = torch.sigmoid(torch.cat(outputs).reshape(-1).float()) > 0.5
            tail = self._class_counts(predictions.cpu(), torch.cat(targets).reshape(-1).cpu())
        added = torch.cat([head, tail])
        self.sums = added if self.sums is None else self.sums + added

    def _class_counts(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Targets outside the classes, then per class: correct predictions, predictions, targets (CPU tensors)."""
        targets, predictions = targets.long(), predictions.long()
        unknown = 0
        lowest, highest = torch.aminmax(targets) if targets.numel() else (0, 0)
        if lowest < 0 or highest >= self.classes:
            known = (targets >= 0) & (targets < self.classes)
            unknown = int((~known).sum())
            targets, predictions = targets[known], predictions[known]
        # One bincount for the three counts: targets, then predictions, then correct predictions (by target).
        codes = torch.cat([targets, predictions + self.classes, targets[predictions == targets] + 2 * self.classes])
        counts = torch.bincount(codes, minlength=3 * self.classes).double().reshape(3, self.classes)
        return torch.cat([torch.tensor([unknown], dtype=torch.float64), counts[2], counts[1], counts[0]])

    def compute(self, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        """The epoch's values over every process, as float32 tensors on `device`, named as METRIC_NAMES (+ `loss`).

        In a distributed run every process must call it (the sums are all-reduced on `device`, the module's).
        """
        self.fold()
        sums = self.sums if self.sums is not None else torch.zeros(self.width, dtype=torch.float64)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            on_device = sums.to(device)
            dist.all_reduce(on_device)
            sums = on_device.cpu()
        values = {"loss": sums[0] / sums[1]}
        if self.task == "regression":
            values["mae"] = sums[2] / sums[3]
        else:
            unknown = int(sums[2])
            if unknown:
                allowed = "0 and 1" if self.task == "binary" else f"0 to {self.classes - 1}"
                raise UserError(f"{unknown} targets of this epoch lie outside the class indices {allowed} of --task "
                                f"{self.task}: fix the dataset's targets or --num_classes")
            values.update(classification_scores(*sums[3:].reshape(3, self.classes), self.task))
        return {name: value.float().to(device) for name, value in values.items()}

    def reset(self) -> None:
        """Start the next epoch from nothing."""
        self.sums, self.pending, self.pending_outputs = None, [], 0


def _safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """numerator / denominator, 0 where the denominator is 0 (torchmetrics' zero_division=0)."""
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1), torch.zeros_like(numerator))


def classification_scores(correct: torch.Tensor, predicted: torch.Tensor, actual: torch.Tensor,
                          task: str) -> dict[str, torch.Tensor]:
    """Accuracy and F1 from per-class counts of correct predictions, predictions and targets: binary or macro F1."""
    false_positives, false_negatives = predicted - correct, actual - correct
    accuracy = _safe_divide(correct.sum(), actual.sum())
    scores = _safe_divide(2 * correct, 2 * correct + false_positives + false_negatives)
    if task == "binary":
        return {"accuracy": accuracy, "f1": scores[1]}
    occurring = (correct + false_positives + false_negatives) > 0
    return {"accuracy": accuracy, "f1": _safe_divide(scores[occurring].sum(), occurring.sum().double())}


def logged_keys(task: str, val_labels: list[str], test_labels: list[str]) -> list[str]:
    """Every metric key a run logs: per dataset, the means over datasets, and train."""
    names = ("loss", *METRIC_NAMES[task])
    keys = [f"train/{name}" for name in names]
    for stage, labels in (("val", val_labels), ("test", test_labels)):
        keys += [f"{stage}/{name}" for name in names]
        keys += [f"{stage}/{label}/{name}" for label in labels for name in names]
    return keys


def check_monitor(monitor: str, task: str, val_labels: list[str], validates: bool) -> None:
    """Refuse a monitor key a fit will not log at validation time, listing the keys it will."""
    # With no validation batches the val keys are never logged.
    stages = ("val/", "train/") if validates else ("train/",)
    keys = [key for key in logged_keys(task, val_labels, []) if key.startswith(stages)]
    if monitor in keys:
        return
    reason = "" if validates else " (--limit_val_batches 0 turns validation off)"
    raise UserError(f"--monitor {monitor} is not a key this run logs{reason}: choose one of {', '.join(keys)}")
