"""The Lightning variants: a bare LightningModule, and the template built the way main.py builds it."""

import copy
from concurrent.futures import wait
from typing import Any

import _common  # noqa: F401  (puts the project on the import path)
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import torchmetrics
from _timing import EpochClock
from _workloads import LEARNING_RATE, SEED, Workload, plain_datasets, plain_loader, plain_net
from torch import nn

from main import prepare_run
from utils.trainer.confusion_images import ConfusionImages
from utils.trainer.run_callbacks import template_callbacks


class ClockHooks(pl.Callback):
    """Tells an EpochClock when each train epoch and its validation start and end, and when training ends."""

    def __init__(self, clock: EpochClock) -> None:
        self.clock = clock

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """An epoch begins."""
        self.background_work_done(trainer)
        self.clock.epoch_start()

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The epoch's validation begins (the sanity check is no epoch's)."""
        if not trainer.sanity_checking:
            self.clock.validation_start()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The epoch's validation is done and logged; checkpoints come after."""
        if not trainer.sanity_checking:
            self.clock.validation_end()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Training is over."""
        self.background_work_done(trainer)
        self.clock.end()

    @staticmethod
    def background_work_done(trainer: pl.Trainer) -> None:
        """Wait for the confusion images the template draws in a thread: their time is its epoch's, not the loop's."""
        for callback in template_callbacks(trainer):
            if isinstance(callback, ConfusionImages):
                wait(callback.drawn)


class TrainLossRecorder(pl.Callback):
    """Reseeds the global generator when training starts and records `train/loss` after every epoch."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Reseed, so the dropout masks match the hand-written loop's."""
        torch.manual_seed(SEED)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Record the previous epoch's loss (the module logs it after the callbacks' epoch-end hooks)."""
        if trainer.current_epoch > 0:
            self.losses.append(float(trainer.callback_metrics["train/loss"]))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Record the last epoch's loss."""
        self.losses.append(float(trainer.callback_metrics["train/loss"]))


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
        """Adam, the template's default."""
        return torch.optim.Adam(self.parameters(), lr=LEARNING_RATE)


def bare_run(workload: Workload, epochs: int, clock: EpochClock, log_dir: str) -> None:
    """(b): the bare module with no logger, checkpoint, progress bar or model summary."""
    net = plain_net(workload)
    train_set, val_sets = plain_datasets(workload)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, min_epochs=epochs, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_train_batches=workload.train_batches or 1.0,
                         limit_val_batches=workload.val_batches or 1.0, use_distributed_sampler=False,
                         default_root_dir=log_dir, callbacks=[ClockHooks(clock)])
    trainer.fit(BareModule(net), plain_loader(train_set, train=True),
                [plain_loader(dataset, train=False) for dataset in val_sets])


class FeaturesModule(BareModule):
    """The template's default features written as Lightning's docs and lightning-hydra-template write them: the
    train loss logged every --log_every_n_steps, accuracy and F1 on train and on each val set logged per epoch."""

    def __init__(self, net: nn.Module, classes: int, val_sets: int) -> None:
        super().__init__(net)

        def metrics() -> torchmetrics.MetricCollection:
            return torchmetrics.MetricCollection({
                "accuracy": torchmetrics.Accuracy(task="multiclass", num_classes=classes, average="micro"),
                "f1": torchmetrics.F1Score(task="multiclass", num_classes=classes, average="macro")})

        self.train_metrics = metrics().clone(prefix="train/")
        self.val_metrics = nn.ModuleList(metrics().clone(prefix=f"val/{index}/") for index in range(val_sets))
        self.val_losses = nn.ModuleList(torchmetrics.MeanMetric() for _ in range(val_sets))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """Cross-entropy of one batch, logged at logged steps; the train metrics updated."""
        outputs = self.net(batch[0])
        loss = F.cross_entropy(outputs, batch[1])
        self.log("train/loss", loss)
        self.train_metrics.update(outputs, batch[1])
        return loss

    def on_train_epoch_end(self) -> None:
        """The epoch's train metrics."""
        self.log_dict(self.train_metrics.compute())
        self.train_metrics.reset()

    def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """The val set's loss and metrics updated."""
        outputs = self.net(batch[0])
        self.val_losses[dataloader_idx].update(F.cross_entropy(outputs, batch[1]), len(batch[1]))
        self.val_metrics[dataloader_idx].update(outputs, batch[1])

    def on_validation_epoch_end(self) -> None:
        """Each val set's loss and metrics."""
        for index, (loss, metrics) in enumerate(zip(self.val_losses, self.val_metrics, strict=True)):
            self.log(f"val/{index}/loss" if index else "val/loss", loss.compute())
            self.log_dict(metrics.compute())
            loss.reset()
            metrics.reset()


def stock_run(module_class: type[BareModule], workload: Workload, epochs: int, log_dir: str,
              callbacks: list[pl.Callback]) -> None:
    """Train a module of `module_class` with Lightning's default logger, summary and progress bar and `callbacks`."""
    net = plain_net(workload)
    train_set, val_sets = plain_datasets(workload)
    # Both workloads' nets score 10 classes.
    module = BareModule(net) if module_class is BareModule else module_class(net, 10, len(val_sets))
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, min_epochs=epochs, log_every_n_steps=50,
                         limit_train_batches=workload.train_batches or 1.0,
                         limit_val_batches=workload.val_batches or 1.0, use_distributed_sampler=False,
                         default_root_dir=log_dir, callbacks=callbacks)
    trainer.fit(module, plain_loader(train_set, train=True),
                [plain_loader(dataset, train=False) for dataset in val_sets])


def callbacks_run(workload: Workload, epochs: int, clock: EpochClock, log_dir: str) -> None:
    """(l): the bare module with Lightning's callbacks for the template's features alone: the logger, the summary, the
    progress bar refreshed every 50 steps as the template's, a checkpoint every validation, early stopping."""
    callbacks = [ClockHooks(clock), pl.callbacks.TQDMProgressBar(refresh_rate=50), pl.callbacks.ModelCheckpoint(),
                 pl.callbacks.EarlyStopping(monitor="val/loss", patience=5, strict=False)]
    stock_run(BareModule, workload, epochs, log_dir, callbacks)


def features_run(workload: Workload, epochs: int, clock: EpochClock, log_dir: str) -> None:
    """(f): the template's default features written as Lightning's docs write them: FeaturesModule, Lightning's
    default progress bar, the best checkpoint by val/loss with last.ckpt beside it, early stopping."""
    callbacks = [ClockHooks(clock), pl.callbacks.ModelCheckpoint(monitor="val/loss", save_last=True),
                 pl.callbacks.EarlyStopping(monitor="val/loss", patience=5)]
    stock_run(FeaturesModule, workload, epochs, log_dir, callbacks)


def template_run(workload: Workload, epochs: int, clock: EpochClock, log_dir: str,
                 recorder: pl.Callback | None = None) -> nn.Module:
    """(c): the template with its default callbacks, logger and metrics; returns its net as it started."""
    run = prepare_run(workload.template_argv(log_dir, epochs))
    run.trainer.callbacks.insert(0, ClockHooks(clock))
    if recorder is not None:
        run.trainer.callbacks.insert(0, recorder)
    initial = copy.deepcopy(run.model.net)
    run.trainer.fit(run.model, datamodule=run.datamodule)
    return initial
