"""A user's own LightningModule logs `val/x`; its keys come out per dataset label, as the template's own do."""

import torch

from utils.lightning_package import Callback, LightningModule, Logger, TensorBoardLogger, Trainer
from utils.shared_names import metric_key, split_lightning_key, split_metric_key, stage_named_key
from utils.trainer.synced_values import check_synced


def stage_named(metrics: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The metrics with Lightning's usual `val_x` and `test_x` keys under `val/x` and `test/x` too, where the module
    does not log those itself."""
    renamed = {named: value for key, value in metrics.items()
               if (named := stage_named_key(key)) is not None and named not in metrics}
    return {**metrics, **renamed}


def labelled_metrics(metrics: dict[str, torch.Tensor], stage: str, labels: list[str]) -> dict[str, torch.Tensor]:
    """`stage/<label>/x` for each dataset's `stage/x` or `stage_x` (Lightning's `/dataloader_idx_N` names with
    several sets), and `stage/x` as the mean over the datasets."""
    per_label: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in stage_named(metrics).items():
        indexed, parts = split_lightning_key(key), split_metric_key(key)
        if indexed and indexed[0] == stage:
            per_label.setdefault(indexed[1], {})[labels[indexed[2]]] = value
        elif len(labels) == 1 and parts and parts.stage == stage and parts.label is None:
            per_label.setdefault(parts.name, {})[labels[0]] = value
    named = {}
    for name, values in per_label.items():
        named.update({metric_key(stage, name, label): value for label, value in values.items()})
        if len(values) == len(labels):
            stacked = torch.stack([torch.as_tensor(value).float() for value in values.values()])
            named[metric_key(stage, name)] = stacked.mean()
    return named


def mean_aliases(metrics: dict[str, torch.Tensor], named: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """With several datasets, each `val_x` the module logs (which Lightning keeps only as `val_x/dataloader_idx_N`)
    as the mean over them, so that its own scheduler or --monitor finds the key it logs."""
    aliases = {}
    for key in metrics:
        indexed = split_lightning_key(stage_named_key(key) or "")
        logged_as = key.partition("/")[0]
        if indexed and logged_as not in metrics and metric_key(indexed[0], indexed[1]) in named:
            aliases[logged_as] = named[metric_key(indexed[0], indexed[1])]
    return aliases


class DatasetLabels(Callback):
    """Names an own LightningModule's val and test keys by dataset label."""

    def __init__(self, labels: dict[str, list[str]]) -> None:
        self.labels = labels
        self.added: set[str] = set()  # keys of the trainer's metrics that this callback made, not the module

    def relabel(self, trainer: Trainer, stage: str) -> None:
        """Add the labelled keys (and the means under the module's `val_x` names) to the trainer's metrics and,
        outside the sanity check, the labelled keys to the loggers."""
        logged = {key: value for key, value in trainer.callback_metrics.items() if key not in self.added}
        named = labelled_metrics(logged, stage, self.labels[stage])
        made = {**mean_aliases(logged, named), **named}
        self.added |= set(made) - set(logged)
        trainer.callback_metrics.update(made)
        if named and not trainer.sanity_checking:
            for logger in trainer.loggers:
                logger.log_metrics({key: float(value) for key, value in named.items()}, step=trainer.global_step)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Label the val keys, once every process logged the same values."""
        check_synced(trainer, pl_module, "val", self.labels["val"])
        self.relabel(trainer, "val")

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Label the test keys, once every process logged the same values."""
        check_synced(trainer, pl_module, "test", self.labels["test"])
        self.relabel(trainer, "test")


class ByLabel(Logger):
    """Put before a Lightning logger: leaves out the `/dataloader_idx_N` keys that DatasetLabels names anew."""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Log every metric but Lightning's per-dataloader names."""
        kept = {key: value for key, value in metrics.items() if split_lightning_key(key) is None}
        if kept:
            super().log_metrics(kept, step)


class TensorBoardByLabel(ByLabel, TensorBoardLogger):
    """Lightning's TensorBoard logger, leaving out the `/dataloader_idx_N` keys."""
