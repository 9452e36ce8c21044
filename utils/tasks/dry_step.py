"""The run's own loss and metrics on a sample batch of each dataset, before the run folder exists: what the first
training step would stop on (a metric's arguments, a metric that does not fit the task, a net's metrics() that
are no metrics, a loss that is not one number) is one line here."""

import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch.utils.data import Dataset
from torchmetrics import Metric

from utils.errors import UserError
from utils.tasks.preflight import dataset_description, evaluating, sample_batch


def check_own_metrics(net: torch.nn.Module) -> dict[str, Metric]:
    """The net's metrics(), checked to be a mapping of names to torchmetrics Metric objects."""
    own, where = net.metrics(), f"{type(net).__name__}.metrics()"
    example = "{'acc': torchmetrics.Accuracy(task='multiclass', num_classes=10)}"
    if not isinstance(own, Mapping):
        raise UserError(f"{where} returns a {type(own).__name__}: return a dict of name: torchmetrics.Metric, such "
                        f"as {example}")
    for name, metric in own.items():
        if not isinstance(name, str) or not isinstance(metric, Metric):
            raise UserError(f"{where} gives {name!r} the {type(metric).__name__} {metric!r}, not a "
                            f"torchmetrics.Metric: return a dict of name: metric object, such as {example}")
    return dict(own)


def check_scalar_loss(loss: Any, source: str) -> None:
    """Refuse a loss that is not one floating-point number: training needs one value to minimise."""
    if isinstance(loss, torch.Tensor) and loss.numel() == 1 and loss.is_floating_point():
        return
    shown = (f"a {loss.dtype} tensor of shape {list(loss.shape)}" if isinstance(loss, torch.Tensor)
             else f"a {type(loss).__name__}")
    raise UserError(f"{source} returns {shown} on a sample batch: return one floating-point number, a tensor of "
                    f"shape [] (reduce it over the batch, for example with .mean())")


def check_one_number_each(metrics: Any, description: str) -> dict[str, list[str]]:
    """Refuse a metric whose value is not one number, or a dict of them (ClasswiseWrapper's, which is logged entry by
    entry): a curve (roc), a value and its threshold (recall_at_fixed_precision) or a number a class
    (f1:average=none); a run logs one number a metric. Return the names a dict's entries log under, by metric."""
    entries = {}
    for name, metric in metrics.collection.items(keep_base=True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # two items make some metrics warn (no positive target, say)
                value = metric.compute()
        except (RuntimeError, ValueError):
            continue  # a metric that needs more than two items to compute is judged on the whole set, later
        if isinstance(value, dict):
            entries[name] = list(value)
        for key, number in value.items() if isinstance(value, dict) else [(name, value)]:
            if not isinstance(number, torch.Tensor):
                raise UserError(f"the metric {name!r} gives a {type(number).__name__} (a curve, or a value with its "
                                f"threshold) on {description}, and a run logs one number a metric: choose one that "
                                f"gives a number, such as auroc or average_precision")
            if number.numel() != 1:
                raise UserError(f"the metric {key!r} gives {number.numel()} numbers on {description}, and a run logs "
                                f"one number a metric: ask it for one (average=macro, say, rather than average=none)")
    return entries


def dry_step(model: Any, datasets: dict[str, Dataset]) -> dict[str, list[str]]:
    """A val step of the model on two items of each dataset, metrics updated, nothing of the model changed; return
    the names a metric of a dict of numbers logs its entries under, by metric."""
    entries = {}
    source = f"{type(model.net).__name__}.loss()" if model.own_loss else f"--loss {model.task.loss or 'default'}"
    with evaluating(model):
        for label, dataset in datasets.items():
            metrics = model.new_stage_metrics(confusion=True)
            loss = model.shared_step(sample_batch(dataset, label), metrics)
            check_scalar_loss(loss, source)
            description = f"the sample batch of {dataset_description(dataset, label)}"
            metrics.flush(description)
            entries.update(check_one_number_each(metrics, description))
    return entries
