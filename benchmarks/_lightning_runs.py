"""The Lightning variants: a bare LightningModule, and the template built the way main.py builds it."""

import time
from collections.abc import Callable
from typing import Any

import _common  # noqa: F401  (puts the project on the import path)
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from _workloads import LEARNING_RATE, Clock, Workload, plain_datasets, plain_loader, plain_net
from torch import nn

from main import PreparedRun, prepare_run


class ClockHooks(pl.Callback):
    """Tells a Clock when each train epoch starts and when training ends."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """An epoch begins (after Lightning has set the sampler's epoch)."""
        self.clock.epoch_start()

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The epoch's validation begins (the sanity check before training is not an epoch's)."""
        if not trainer.sanity_checking:
            self.clock.validation_start()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The epoch's validation is done, its metrics logged; checkpoints come after."""
        if not trainer.sanity_checking:
            self.clock.validation_end()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Training is over."""
        self.clock.end()


class TrainLossRecorder(pl.Callback):
    """Reseeds the global generator when training starts and records `train/loss` after every epoch."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.losses: list[float] = []

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Reseed, so the dropout masks match those of a hand-written loop seeded the same way."""
        torch.manual_seed(self.seed)

    def _record(self, trainer: pl.Trainer) -> None:
        if "train/loss" in trainer.callback_metrics:
            self.losses.append(float(trainer.callback_metrics["train/loss"]))

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The metrics of the previous epoch are final by now (the module's epoch-end hook runs after callbacks')."""
        if trainer.current_epoch > 0:
            self._record(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The last epoch's loss."""
        self._record(trainer)


class BareModule(pl.LightningModule):
    """The least a LightningModule needs: a loss to train on and one to validate."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """Cross-entropy of one batch."""
        return F.cross_entropy(self.net(batch[0]), batch[1])

    def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Cross-entropy of one val batch, nothing logged."""
        F.cross_entropy(self.net(batch[0]), batch[1])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam, as the template's default."""
        return torch.optim.Adam(self.parameters(), lr=LEARNING_RATE)


def bare_run(workload: Workload, epochs: int, clock: Clock, log_dir: str) -> None:
    """(b): the bare module with no logger, checkpoint, progress bar or model summary."""
    torch.manual_seed(workload.seed)
    net = plain_net(workload)
    train_set, val_sets = plain_datasets(workload)
    train_loader = plain_loader(train_set, workload.batch_size, workload.seed, train=True)
    val_loaders = [plain_loader(dataset, workload.batch_size, workload.seed, train=False) for dataset in val_sets]
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, min_epochs=epochs, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_train_batches=workload.train_batches or 1.0,
                         limit_val_batches=workload.val_batches or 1.0, use_distributed_sampler=False,
                         default_root_dir=log_dir, callbacks=[ClockHooks(clock)])
    trainer.fit(BareModule(net), train_loader, val_loaders)


def template_run(workload: Workload, epochs: int, clock: Clock, log_dir: str,
                 prepare: Callable[[PreparedRun], None] | None = None, options: tuple[str, ...] = ()) -> None:
    """(c): the template with its default callbacks, logger and metrics (`prepare` may change it before fit,
    `options` are added to its command line)."""
    run = prepare_run([*workload.template_argv(log_dir, epochs), *options])
    run.trainer.callbacks.insert(0, ClockHooks(clock))
    if prepare is not None:
        prepare(run)
    run.trainer.fit(run.model, datamodule=run.datamodule)


class ValidationTimer(pl.Callback):
    """Times each validation loop: every val set's batches, metrics and logging."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self._started_at = 0.0

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Start the clock."""
        self._started_at = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Stop the clock (the module's epoch-end logging is done by now)."""
        self.durations.append(time.perf_counter() - self._started_at)
