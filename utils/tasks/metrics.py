"""One stage's and dataset's metrics: the exact mean loss and a torchmetrics MetricCollection, updated in groups."""

import re
from typing import Any

import torch
from torch import nn
from torchmetrics import ConfusionMatrix, MeanMetric, Metric, MetricCollection

from utils.errors import UserError
from utils.shared_names import TEST, TRAIN, VAL, metric_key, metric_stage, split_metric_key
from utils.tasks.kinds import task_kind
from utils.tasks.metric_catalogue import build_metric, higher_is_better, snake_case

# Batches kept before the metrics are updated: a step only appends its tensors to a list, and the metrics' own
# tensor operations run once per group, on all of its batches at once.
BATCHES_PER_GROUP = 32
# Fewer batches are kept when their outputs hold more numbers than this (many classes, dense outputs).
OUTPUTS_PER_GROUP = 1 << 20
# What a metric's name cannot hold: it is one part of keys such as `val/<label>/<name>`, and a torch module's name.
NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9_-]+")
# `--metrics none`: the loss alone; a net with its own loss then meets its targets as they are, whatever their shape.
NO_METRICS = "none"
# The tasks that predict classes: their metrics keep a confusion matrix, drawn as an image.
CONFUSION_TASKS = ("classification", "binary", "segmentation")


def entry_name(entry: str) -> str:
    """The name one entry logs under: as typed less its arguments; a dotted path as its class's snake_case name."""
    name = entry.partition(":")[0]
    return snake_case(name.rpartition(".")[2]) if "." in name else name


def name_with_arguments(entry: str) -> str:
    """`accuracy:top_k=5` -> `accuracy_top_k_5`: the entry's name, then each argument's key and value as typed."""
    words = [entry_name(entry), *(word for pair in entry.partition(":")[2].split(",") for word in pair.split("=", 1))]
    return NOT_IN_NAMES.sub("_", "_".join(word.strip() for word in words if word.strip())).strip("_")


def metric_names(entries: list[str]) -> list[str]:
    """The names metrics log under: each entry's name, and where entries share one, each with its arguments."""
    plain = [entry_name(entry) for entry in entries]
    names = [name_with_arguments(entry) if plain.count(name) > 1 else name
             for name, entry in zip(plain, entries, strict=True)]
    for index, name in enumerate(names):
        if name in names[:index]:
            earlier = entries[names.index(name)]
            raise UserError(f"--metrics {earlier} and {entries[index]} would both log as {name!r}: give each metric "
                            f"once, or each with its own arguments")
    return names


def run_metric_names(task: str, entries: list[str] | None, own: list[str], net_name: str) -> list[str]:
    """Every name the run's metrics log under beside `loss`: --metrics' or the task's, then the net's own.

    A net's own metric replaces a task default of the same name; one that --metrics names too is an error."""
    names = metric_names(chosen_metrics(task, entries))
    for name in own:
        if not isinstance(name, str) or not name or NOT_IN_NAMES.search(name) or name == "loss":
            raise UserError(f"{net_name}.metrics() names a metric {name!r}: metric names are letters, digits, '_' "
                            f"and '-', and not 'loss' (they make keys such as val/<label>/<name>); rename it")
        if entries and name in names:
            raise UserError(f"{net_name}.metrics() names {name!r}, which --metrics logs too: rename the net's metric, "
                            f"or leave {name!r} out of --metrics")
    return [*(name for name in names if name not in own), *own]


def chosen_metrics(task: str, entries: list[str] | None) -> list[str]:
    """The --metrics entries, none for `--metrics none`, or the task's defaults."""
    if entries and NO_METRICS in entries and len(entries) > 1:
        raise UserError(f"--metrics {' '.join(entries)}: none logs the loss alone, with no metric beside it: give "
                        f"--metrics none alone, or drop none")
    if entries == [NO_METRICS]:
        return []
    return list(entries) if entries else list(task_kind(task).default_metrics)


def metric_monitor_mode(monitor: str, task: str, entries: list[str] | None) -> str | None:
    """`max` or `min` for a --monitor key of one of the run's metrics (--metrics' or the task's), as its torchmetrics
    class says; None for any other key (the loss, a net's own metric), which its name decides."""
    key, chosen = split_metric_key(monitor), chosen_metrics(task, entries)
    entry = dict(zip(metric_names(chosen), chosen, strict=True)).get(key.name) if key else None
    if entry is None:
        return None
    better = higher_is_better(entry, task_kind(task).metrics_task)
    if better is None:
        raise UserError(f"--monitor {monitor}: torchmetrics does not say whether a higher {entry_name(entry)} is "
                        f"better, so the best checkpoint cannot be chosen: pass --monitor_mode max or min")
    return "max" if better else "min"


def build_metrics(task: str, entries: list[str], classes: int | None,
                  ignore_index: int | None = None) -> dict[str, Metric]:
    """Each metric entry built for the task, under the name it was typed with."""
    metrics_task = task_kind(task).metrics_task
    return {name: build_metric(entry, metrics_task, classes, ignore_index)
            for name, entry in zip(metric_names(entries), entries, strict=True)}


def build_confusion(task: str, classes: int | None, ignore_index: int | None = None) -> ConfusionMatrix | None:
    """A confusion matrix normalised over each true class, for the tasks that predict classes; None otherwise."""
    if task not in CONFUSION_TASKS or (task != "binary" and not classes):
        return None
    return ConfusionMatrix(task=task_kind(task).metrics_task, num_classes=classes, normalize="true",
                           ignore_index=ignore_index)


def item_count(targets: Any) -> int:
    """The items of a batch of targets: a list's or tuple's length, or the length of a dict's first batched entry."""
    if isinstance(targets, dict):
        return next((item_count(part) for part in targets.values() if isinstance(part, (list, tuple, torch.Tensor))),
                    1)
    if isinstance(targets, torch.Tensor):
        return len(targets) if targets.dim() else 1
    return len(targets) if isinstance(targets, (list, tuple)) else 1


def batch_weights(counts: tuple[torch.Tensor | int, ...], device: torch.device) -> torch.Tensor:
    """The batches' weights as one tensor on `device`: counts known on the host are copied there in one go."""
    if all(isinstance(count, int) for count in counts):
        return torch.tensor(counts, dtype=torch.float, device=device)
    return torch.stack([torch.as_tensor(count, device=device) for count in counts]).float()


class StageMetrics(nn.Module):
    """The mean loss over an epoch's samples and a MetricCollection; a step only keeps its batch's tensors."""

    def __init__(self, metrics: dict[str, Metric], confusion: ConfusionMatrix | None = None,
                 reading: str | None = None) -> None:
        super().__init__()
        self.collection = MetricCollection(dict(metrics))
        # How the outputs become what the metrics read (see outputs_reading): None, as they are.
        self.reading = reading
        # Updated with the collection, computed on its own (an image, not a logged number).
        self.confusion = confusion
        self.loss = MeanMetric()
        self.pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | int]] = []

    def update(self, loss: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor,
               count: torch.Tensor | int | None = None) -> None:
        """Keep one batch: its mean loss, the prediction the metrics read, its targets, and how many numbers its loss
        is the mean of (default: its items), its weight in the epoch's mean."""
        self.pending.append((loss.detach(), outputs.detach(), targets, item_count(targets) if count is None else count))
        # Counted as batches of this one's size: no attribute of this module set at every step (a costly call).
        if len(self.pending) >= min(BATCHES_PER_GROUP, OUTPUTS_PER_GROUP // max(1, outputs.numel())):
            self.flush()

    def flush(self, batches: str = "a batch of this epoch") -> None:
        """Update the loss mean and the metrics with the kept batches (`batches` names them in an error)."""
        if not self.pending:
            return
        losses, outputs, targets, counts = zip(*self.pending, strict=True)
        self.pending = []
        self.loss.update(torch.stack(losses).float(), batch_weights(counts, losses[0].device))
        updated = [self.collection] if self.confusion is None else [self.collection, self.confusion]
        try:
            if len({batch.shape[1:] for batch in outputs}) == 1 and len({batch.shape[1:] for batch in targets}) == 1:
                scores = self.scores(torch.cat(outputs))
                for metric in updated:
                    metric.update(scores, torch.cat(targets))
            else:  # items of varying shapes: batch by batch
                for batch_outputs, batch_targets in zip(outputs, targets, strict=True):
                    for metric in updated:
                        metric.update(self.scores(batch_outputs), batch_targets)
        except (RuntimeError, ValueError) as error:
            # Only two items of each dataset are checked before a run; a later bad target ends here.
            raise UserError(f"{self.refusing_metric(outputs, targets)} refused {batches} "
                            f"({str(error).splitlines()[0]}): fix the dataset's targets, --task, the net's number of "
                            f"outputs or the metric's arguments (--metrics NAME:key=value)") from None

    def refusing_metric(self, outputs: tuple[torch.Tensor, ...], targets: tuple[torch.Tensor, ...]) -> str:
        """`the metric <name>` that refuses these batches when updated alone (on a copy), else `the metrics`."""
        for name, metric in self.collection.items(keep_base=True, copy_state=False):
            try:
                for batch_outputs, batch_targets in zip(outputs, targets, strict=True):
                    metric.clone().update(self.scores(batch_outputs), batch_targets)
            except (RuntimeError, ValueError):
                return f"the metric {name}"
        return "the metrics"

    def scores(self, outputs: torch.Tensor) -> torch.Tensor:
        """What the metrics read of a group of outputs: the logits' sigmoid, the class scores' softmax (classes on
        axis 1), or probabilities clipped into [0, 1]."""
        if self.reading == "logits":
            return outputs.sigmoid()
        if self.reading == "class_logits":  # in float32 at least: a half-precision softmax could tie two classes
            return outputs.softmax(1, dtype=torch.promote_types(outputs.dtype, torch.float32))
        return outputs.clamp(0, 1) if self.reading == "probabilities" else outputs

    def compute(self) -> dict[str, torch.Tensor]:
        """The epoch's values over every process (torchmetrics syncs them), named `loss` and as the metrics."""
        self.flush()
        loss = self.loss.compute()
        # A NaN loss counted no target (all --ignore_index): there was nothing to score, which is no score of 0, and
        # a ranking metric (auroc) fails on nothing. The loss is the same in every process, so all skip alike.
        if loss.isnan():
            return {"loss": loss, **{name: torch.full((), torch.nan, device=loss.device) for name in self.collection}}
        return {"loss": loss, **{name: value.float() for name, value in self.collection.compute().items()}}

    def confusion_matrix(self) -> torch.Tensor | None:
        """The epoch's confusion matrix over every process so far, or None for tasks without classes."""
        if self.confusion is None:
            return None
        self.flush()
        return self.confusion.compute()

    def epoch_state(self) -> dict[str, Any]:
        """The epoch's counts so far, the kept batches included: what a checkpoint taken within an epoch stores."""
        self.flush()
        self.keep_counts(True)
        try:
            return self.state_dict()
        finally:
            self.keep_counts(False)

    def go_on_from(self, state: dict[str, Any], device: torch.device) -> None:
        """Count on from `state`, the epoch_state() of the epoch a resumed run continues."""
        self.load_state_dict(state, strict=False)  # torchmetrics reads back the states that state_dict held
        self.to(device)

    def keep_counts(self, kept: bool) -> None:
        """Whether state_dict() holds the metrics' counts (torchmetrics leaves them out by default)."""
        for module in self.modules():
            if isinstance(module, Metric):
                module.persistent(kept)

    def reset(self) -> None:
        """Start the next epoch from nothing."""
        self.pending = []
        self.loss.reset()
        self.collection.reset()
        if self.confusion is not None:
            self.confusion.reset()


def logged_keys(names: list[str], val_labels: list[str], test_labels: list[str]) -> list[str]:
    """Every metric key a run logs: per dataset, the means over datasets, and train."""
    names = ["loss", *names]
    keys = [metric_key(TRAIN, name) for name in names]
    for stage, labels in ((VAL, val_labels), (TEST, test_labels)):
        keys += [metric_key(stage, name) for name in names]
        keys += [metric_key(stage, name, label) for label in labels for name in names]
    return keys


def check_monitor(monitor: str, names: list[str], val_labels: list[str], validates: bool) -> None:
    """Refuse a monitor key a fit will not log at validation time, listing the keys it will."""
    # With no validation batches the val keys are never logged.
    stages = (VAL, TRAIN) if validates else (TRAIN,)
    keys = [key for key in logged_keys(names, val_labels, []) if metric_stage(key) in stages]
    if monitor in keys:
        return
    reason = "" if validates else " (--limit_val_batches 0 turns validation off)"
    raise UserError(f"--monitor {monitor} is not a key this run logs{reason}: choose one of {', '.join(keys)}")
