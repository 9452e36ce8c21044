"""One stage's and dataset's metrics: the exact mean loss and a torchmetrics MetricCollection, updated in groups."""

import torch
from torch import nn
from torchmetrics import ConfusionMatrix, MeanMetric, Metric, MetricCollection

from utils.errors import UserError
from utils.tasks.kinds import task_kind
from utils.tasks.metric_catalogue import build_metric

# Batches kept before the metrics are updated: a step only appends its tensors to a list, and the metrics' own
# tensor operations run once per group, on all of its batches at once.
BATCHES_PER_GROUP = 32
# Fewer batches are kept when their outputs hold more numbers than this (many classes, dense outputs).
OUTPUTS_PER_GROUP = 1 << 20


def metric_names(entries: list[str]) -> list[str]:
    """The names metrics are logged under: each entry as typed, less its `:key=value` arguments."""
    return [entry.partition(":")[0] for entry in entries]


def chosen_metrics(task: str, entries: list[str] | None) -> list[str]:
    """The --metrics entries, or the task's defaults."""
    return list(entries) if entries else list(task_kind(task).default_metrics)


def build_metrics(task: str, entries: list[str], classes: int | None,
                  ignore_index: int | None = None) -> dict[str, Metric]:
    """Each metric entry built for the task, under the name it was typed with."""
    metrics_task = task_kind(task).metrics_task
    return {name: build_metric(entry, metrics_task, classes, ignore_index)
            for name, entry in zip(metric_names(entries), entries, strict=True)}


def build_confusion(task: str, classes: int | None, ignore_index: int | None = None) -> ConfusionMatrix | None:
    """A confusion matrix normalised over each true class, for the tasks that predict classes; None otherwise."""
    if task not in ("classification", "binary", "segmentation") or (task != "binary" and not classes):
        return None
    return ConfusionMatrix(task=task_kind(task).metrics_task, num_classes=classes, normalize="true",
                           ignore_index=ignore_index)


class StageMetrics(nn.Module):
    """The mean loss over an epoch's samples and a MetricCollection; a step only keeps its batch's tensors."""

    def __init__(self, metrics: dict[str, Metric], confusion: ConfusionMatrix | None = None) -> None:
        super().__init__()
        self.collection = MetricCollection(dict(metrics))
        # Updated with the collection, computed on its own (an image, not a logged number).
        self.confusion = confusion
        self.loss = MeanMetric()
        self.pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self.pending_outputs = 0

    def update(self, loss: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        """Keep one batch: its mean loss, the prediction the metrics read, and its targets."""
        self.pending.append((loss.detach(), outputs.detach(), targets))
        self.pending_outputs += outputs.numel()
        if len(self.pending) >= BATCHES_PER_GROUP or self.pending_outputs >= OUTPUTS_PER_GROUP:
            self.flush()

    def flush(self) -> None:
        """Update the loss mean and the metrics with the kept batches."""
        if not self.pending:
            return
        losses, outputs, targets = zip(*self.pending, strict=True)
        self.pending, self.pending_outputs = [], 0
        sizes = torch.tensor([len(batch) if batch.dim() else 1 for batch in targets], device=losses[0].device)
        self.loss.update(torch.stack(losses).float(), sizes.float())
        updated = [self.collection] if self.confusion is None else [self.collection, self.confusion]
        try:
            if len({batch.shape[1:] for batch in outputs}) == 1 and len({batch.shape[1:] for batch in targets}) == 1:
                for metric in updated:
                    metric.update(torch.cat(outputs), torch.cat(targets))
            else:  # items of varying shapes: batch by batch
                for batch_outputs, batch_targets in zip(outputs, targets, strict=True):
                    for metric in updated:
                        metric.update(batch_outputs, batch_targets)
        except (RuntimeError, ValueError) as error:
            # Only two items of each dataset are checked before a run; a later bad target ends here.
            raise UserError(f"the metrics refused a batch of this epoch ({str(error).splitlines()[0]}): fix the "
                            f"dataset's targets, --task or the net's number of outputs") from None

    def compute(self) -> dict[str, torch.Tensor]:
        """The epoch's values over every process (torchmetrics syncs them), named `loss` and as the metrics."""
        self.flush()
        values = {"loss": self.loss.compute()}
        values.update({name: value.float() for name, value in self.collection.compute().items()})
        return values

    def confusion_matrix(self) -> torch.Tensor | None:
        """The epoch's confusion matrix over every process so far, or None for tasks without classes."""
        if self.confusion is None:
            return None
        self.flush()
        return self.confusion.compute()

    def reset(self) -> None:
        """Start the next epoch from nothing."""
        self.pending, self.pending_outputs = [], 0
        self.loss.reset()
        self.collection.reset()
        if self.confusion is not None:
            self.confusion.reset()


def logged_keys(names: list[str], val_labels: list[str], test_labels: list[str]) -> list[str]:
    """Every metric key a run logs: per dataset, the means over datasets, and train."""
    names = ["loss", *names]
    keys = [f"train/{name}" for name in names]
    for stage, labels in (("val", val_labels), ("test", test_labels)):
        keys += [f"{stage}/{name}" for name in names]
        keys += [f"{stage}/{label}/{name}" for label in labels for name in names]
    return keys


def check_monitor(monitor: str, names: list[str], val_labels: list[str], validates: bool) -> None:
    """Refuse a monitor key a fit will not log at validation time, listing the keys it will."""
    # With no validation batches the val keys are never logged.
    stages = ("val/", "train/") if validates else ("train/",)
    keys = [key for key in logged_keys(names, val_labels, []) if key.startswith(stages)]
    if monitor in keys:
        return
    reason = "" if validates else " (--limit_val_batches 0 turns validation off)"
    raise UserError(f"--monitor {monitor} is not a key this run logs{reason}: choose one of {', '.join(keys)}")
