"""The metrics of each task, kept as exact sums over an epoch's samples: one EpochMetrics per stage and dataset."""

import torch
import torch.distributed as dist

from utils.errors import UserError

METRIC_NAMES = {"classification": ("accuracy", "f1"), "binary": ("accuracy", "f1"), "regression": ("mae",)}
# Batches kept before they are added into the sums: a training step only appends to a list, and the few tensor
# operations of adding up are paid once per this many batches.
BATCHES_PER_FOLD = 32


class EpochMetrics:
    """The mean loss plus accuracy and macro F1 (classification, binary) or mean absolute error (regression).

    A step only keeps its batch's loss, predictions and targets; every BATCHES_PER_FOLD batches they are added into
    exact sums (per class: hits, predictions, targets; 3 x num_classes numbers, so 50,000 classes are cheap), and
    in distributed runs one all-reduce adds every process's sums.
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
        # (loss, samples, predictions, targets); for regression (loss, samples, absolute error sum, outputs).
        self.pending: list[tuple[torch.Tensor, int, torch.Tensor, torch.Tensor | int]] = []

    def update(self, loss: torch.Tensor, predictions: torch.Tensor, targets: torch.Tensor) -> None:
        """Add one batch: its mean loss, the net's predictions (class indices, probabilities or values), targets."""
        samples = targets.shape[0] if targets.dim() else 1
        if self.task == "regression":
            # Only the batch's sum is kept: dense outputs (images, say) would be large to hold for a whole fold.
            # float32 on the device (MPS has no float64); batches are added up in float64 on the CPU.
            predictions = (predictions.detach().float() - targets.float()).abs().sum()
            targets = targets.numel()
        self.pending.append((loss.detach(), samples, predictions.detach(), targets))
        if len(self.pending) >= BATCHES_PER_FOLD:
            self.fold()

    def fold(self) -> None:
        """Add the kept batches into the sums, which stay on the CPU (float64 is not on every accelerator)."""
        if not self.pending:
            return
        losses, sizes, predictions, targets = zip(*self.pending, strict=True)
        self.pending = []
        batch_sizes = torch.tensor(sizes, dtype=torch.float64)
        head = torch.stack([torch.stack(losses).cpu().double() @ batch_sizes, batch_sizes.sum()])
        if self.task == "regression":
            outputs = torch.tensor(float(sum(targets)), dtype=torch.float64)
            tail = torch.stack([torch.stack(predictions).cpu().double().sum(), outputs])
        else:
            tail = self._class_counts(torch.cat([p.reshape(-1) for p in predictions]).cpu(),
                                      torch.cat([t.reshape(-1) for t in targets]).cpu())
        added = torch.cat([head, tail])
        self.sums = added if self.sums is None else self.sums + added

    def _class_counts(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Targets outside the classes, then per class: correct predictions, predictions, targets (CPU tensors)."""
        if self.task == "binary":
            predictions = predictions > 0.5
        targets, predictions = targets.long(), predictions.long()
        known = (targets >= 0) & (targets < self.classes)
        unknown = int((~known).sum())
        if unknown:
            targets, predictions = targets[known], predictions[known]
        correct = torch.bincount(targets, weights=(predictions == targets).double(), minlength=self.classes)
        counts = [torch.bincount(values, minlength=self.classes).double() for values in (predictions, targets)]
        return torch.cat([torch.tensor([unknown], dtype=torch.float64), correct, *counts])

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
        self.sums, self.pending = None, []


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
