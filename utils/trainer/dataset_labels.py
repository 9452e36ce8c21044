"""A user's own LightningModule logs `val/x`; its keys come out per dataset label, as the template's own do."""

import re

import torch

from utils.lightning_package import Callback, LightningModule, Logger, TensorBoardLogger, Trainer

LIGHTNING_SUFFIX = re.compile(r"^(val|test)/(.+)/dataloader_idx_(\d+)$")


def labelled_metrics(metrics: dict[str, torch.Tensor], stage: str, labels: list[str]) -> dict[str, torch.Tensor]:
    """`stage/<label>/x` for each dataset's `stage/x` (Lightning's `/dataloader_idx_N` names with several sets), and
    `stage/x` as the mean over the datasets."""
    per_label: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in metrics.items():
        match = LIGHTNING_SUFFIX.match(key)
        if match and match.group(1) == stage:
            per_label.setdefault(match.group(2), {})[labels[int(match.group(3))]] = value
        elif len(labels) == 1 and key.startswith(f"{stage}/") and key.count("/") == 1:
            per_label.setdefault(key.removeprefix(f"{stage}/"), {})[labels[0]] = value
    named = {}
    for name, values in per_label.items():
        named.update({f"{stage}/{label}/{name}": value for label, value in values.items()})
        if len(values) == len(labels):
            named[f"{stage}/{name}"] = torch.stack([torch.as_tensor(value).float() for value in values.values()]).mean()
    return named


class DatasetLabels(Callback):
    """Names an own LightningModule's val and test keys by dataset label."""

    def __init__(self, labels: dict[str, list[str]]) -> None:
        self.labels = labels

    def relabel(self, trainer: Trainer, stage: str) -> None:
        """Add the labelled keys to the trainer's metrics and, outside the sanity check, to the loggers."""
        named = labelled_metrics(trainer.callback_metrics, stage, self.labels[stage])
        trainer.callback_metrics.update(named)
        if named and not trainer.sanity_checking:
            for logger in trainer.loggers:
                logger.log_metrics({key: float(value) for key, value in named.items()}, step=trainer.global_step)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Label the val keys."""
        self.relabel(trainer, "val")

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Label the test keys."""
        self.relabel(trainer, "test")


class ByLabel(Logger):
    """Put before a Lightning logger: leaves out the `/dataloader_idx_N` keys that DatasetLabels names anew."""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Log every metric but Lightning's per-dataloader names."""
        kept = {key: value for key, value in metrics.items() if not LIGHTNING_SUFFIX.match(key)}
        if kept:
            super().log_metrics(kept, step)


class TensorBoardByLabel(ByLabel, TensorBoardLogger):
    """Lightning's TensorBoard logger, leaving out the `/dataloader_idx_N` keys."""
