"""Honest per-set numbers for an own LightningModule validated or tested on several datasets.

Lightning logs each dataloader's values under `/dataloader_idx_N` and computes them when the next dataloader
starts. A module that owns one torchmetrics object per stage (as lightning-hydra-template's do) would carry the
first set's state into the second: so when the dataloader changes, after Lightning has computed the finished one's
values, the metrics that dataloader updated start afresh. Metrics it did not update (a best-so-far tracked at epoch
end, the train metrics of a validation within an epoch) keep their state.

A step written for one dataloader (no `dataloader_idx` parameter) is called through an adapter that drops the index
while several dataloaders run, so it is not refused.
"""

import inspect
from collections.abc import Callable
from typing import Any

from torchmetrics import Metric

from utils.lightning_package import Callback, LightningModule, Trainer

# By Trainer stage: its datasets, and the hooks Lightning refuses without a `dataloader_idx` parameter when there
# are several.
VALIDATION_HOOKS = ("validation_step", "on_validation_batch_start", "on_validation_batch_end")
STAGE_HOOKS = {"fit": ("val", VALIDATION_HOOKS), "validate": ("val", VALIDATION_HOOKS),
               "test": ("test", ("test_step", "on_test_batch_start", "on_test_batch_end")),
               "predict": ("test", ("predict_step", "on_predict_batch_start", "on_predict_batch_end"))}


def takes_dataloader_index(hook: Callable[..., Any]) -> bool:
    """Whether Lightning can pass `dataloader_idx` to the hook (by that name, or into `*args`)."""
    parameters = inspect.signature(hook).parameters.values()
    return any(parameter.name == "dataloader_idx" or parameter.kind is inspect.Parameter.VAR_POSITIONAL
               for parameter in parameters)


def without_dataloader_index(hook: Callable[..., Any]) -> Callable[..., Any]:
    """`hook` callable as Lightning calls it with several dataloaders: the trailing index is dropped."""
    positional = [parameter for parameter in inspect.signature(hook).parameters.values()
                  if parameter.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]

    def adapted(*arguments: Any) -> Any:
        return hook(*arguments[:-1][:len(positional)])

    return adapted


class PerSetMetrics(Callback):
    """Keeps an own module's logged values per dataset: its steps take several dataloaders, its metrics restart."""

    def __init__(self, labels: dict[str, list[str]]) -> None:
        self.labels = labels
        self.adapted: list[str] = []
        self.dataloader = 0
        self.update_counts: dict[int, int] = {}

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Adapt the stage's hooks that take no `dataloader_idx`, where the stage has several dataloaders."""
        sets, hooks = STAGE_HOOKS.get(stage, ("", ()))
        if len(self.labels.get(sets, [])) < 2:
            return
        for name in hooks:
            hook = getattr(pl_module, name)
            if not takes_dataloader_index(hook):
                setattr(pl_module, name, without_dataloader_index(hook))
                self.adapted.append(name)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Give the module its own hooks back."""
        for name in self.adapted:
            delattr(pl_module, name)
        self.adapted = []

    def start_epoch(self, pl_module: LightningModule) -> None:
        """Note each metric's update count at the start of the first dataloader."""
        self.dataloader = 0
        self.update_counts = {id(metric): metric.update_count for metric in metrics_of(pl_module)}

    def next_batch(self, pl_module: LightningModule, dataloader_idx: int) -> None:
        """When the dataloader changes, restart the metrics the previous one updated."""
        if dataloader_idx == self.dataloader:
            return
        for metric in metrics_of(pl_module):
            if metric.update_count != self.update_counts.get(id(metric), 0):
                metric.reset()
        self.start_epoch(pl_module)
        self.dataloader = dataloader_idx

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start counting updates for the first val set."""
        self.start_epoch(pl_module)

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start counting updates for the first test set."""
        self.start_epoch(pl_module)

    def on_validation_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int,
                                  dataloader_idx: int = 0) -> None:
        """Restart the metrics of the previous val set when this batch is the next set's first."""
        self.next_batch(pl_module, dataloader_idx)

    def on_test_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int,
                            dataloader_idx: int = 0) -> None:
        """Restart the metrics of the previous test set when this batch is the next set's first."""
        self.next_batch(pl_module, dataloader_idx)


def metrics_of(module: LightningModule) -> list[Metric]:
    """Every torchmetrics metric the module holds, inside metric collections and submodules too."""
    return [child for child in module.modules() if isinstance(child, Metric)]
