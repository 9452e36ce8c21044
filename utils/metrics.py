"""The metrics of each task: one fresh collection per stage and dataset label."""

from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryF1Score, MulticlassAccuracy, MulticlassF1Score
from torchmetrics.regression import MeanAbsoluteError

METRIC_NAMES = {"classification": ("accuracy", "f1"), "binary": ("accuracy", "f1"), "regression": ("mae",)}


def metric_collection(task: str, num_classes: int, check_inputs: bool = True) -> MetricCollection:
    """Build the task's metrics plus `loss`, a batch-size-weighted mean of the loss.

    Args:
        check_inputs: torchmetrics' per-update input checks; they cost about a third of each update, so the
            train metrics, updated every step on targets the loss has already checked, go without them.
    """
    if task == "classification":
        metrics = {"accuracy": MulticlassAccuracy(num_classes, average="micro", validate_args=check_inputs),
                   "f1": MulticlassF1Score(num_classes, average="macro", validate_args=check_inputs)}
    elif task == "binary":
        metrics = {"accuracy": BinaryAccuracy(validate_args=check_inputs),
                   "f1": BinaryF1Score(validate_args=check_inputs)}
    else:
        metrics = {"mae": MeanAbsoluteError()}
    # MeanMetric's default NaN handling: its "disable" setting also drops the weights (torchmetrics 1.9).
    return MetricCollection({"loss": MeanMetric(), **metrics}, compute_groups=False)


def logged_keys(task: str, val_labels: list[str], test_labels: list[str]) -> list[str]:
    """Every metric key a run logs: per dataset, the means over datasets, and train."""
    names = ("loss", *METRIC_NAMES[task])
    keys = [f"train/{name}" for name in names]
    for stage, labels in (("val", val_labels), ("test", test_labels)):
        keys += [f"{stage}/{name}" for name in names]
        keys += [f"{stage}/{label}/{name}" for label in labels for name in names]
    return keys
