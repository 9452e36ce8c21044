"""The callbacks of a run, all driven by the same --monitor and --monitor_mode."""

import functools
import sys
from pathlib import Path
from typing import Any
from weakref import proxy

from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.callbacks import (
    DeviceStatsMonitor,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    ModelSummary,
    TQDMProgressBar,
)

from utils.allocator import keep_freed_memory
from utils.checkpoint_files import CheckpointFiles
from utils.step_hooks import skip_unused_batch_hooks


class StateKeyOnce:
    """Builds a callback's `state_key` once: Lightning names every hook call by it, and ModelCheckpoint's and
    EarlyStopping's keys repr() a dict of their settings each time (about 2 us, some 12 times a step)."""

    @functools.cached_property
    def state_key(self) -> str:
        """The key of this callback's state in checkpoints, from settings fixed when it was made."""
        return super().state_key


def leave_trainer(trainer: Trainer, callback: Callback) -> None:
    """Take a callback whose work is done out of the trainer's list: Lightning calls every hook of every callback
    on every step. A new list, so a hook loop already running over the old one is not disturbed."""
    trainer.callbacks = [other for other in trainer.callbacks if other is not callback]


class SummaryOnce(ModelSummary):
    """Lightning's model summary, printed when fitting starts; then the callback leaves the trainer."""

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Print the summary and leave."""
        super().on_fit_start(trainer, pl_module)
        leave_trainer(trainer, self)


@skip_unused_batch_hooks
class StepLossProgressBar(TQDMProgressBar):
    """Lightning's progress bar, also showing the latest training step's loss (`train/loss_step`)."""

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, int | str | float | dict]:
        """Lightning's values, plus the module's `step_loss` once a step has run."""
        metrics = super().get_metrics(trainer, pl_module)
        if getattr(pl_module, "step_loss", None) is not None:
            metrics["train/loss_step"] = pl_module.step_loss
        return metrics


@skip_unused_batch_hooks
class ValidationCheckpoint(StateKeyOnce, ModelCheckpoint):
    """A ModelCheckpoint that saves when a validation or a train epoch ends, never every n steps or t seconds.

    Given `best`, the callback of the best k checkpoints (which Lightning runs just before this one), it gives
    each best checkpoint saved at its own step the name of the file it writes: the two are the same state, so
    the step's checkpoint is serialised and written once, and the best file is a hard link of last.ckpt's.
    """

    # Lightning skips a hook that is None: ModelCheckpoint's per-batch check for every-n-steps saves costs about
    # 7 us a step for each checkpoint callback, for saves this one never makes.
    on_train_batch_end = None

    def __init__(self, *, best: "ValidationCheckpoint | None" = None, **settings: Any) -> None:
        super().__init__(**settings)
        self.best = best
        self.named_by_next = False  # set on `best`: its saves are deferred to the callback holding it
        self.deferred_names: list[str] = []
        self.deferred_removals: list[str] = []
        if best is not None:
            best.named_by_next = True

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Resolve the folder as ModelCheckpoint does; let `best` defer its saves only if it runs before this one."""
        super().setup(trainer, pl_module, stage)
        if self.best is not None:
            callbacks = trainer.callbacks
            self.best.named_by_next = (self.best in callbacks and self in callbacks
                                       and callbacks.index(self.best) < callbacks.index(self))

    def _save_checkpoint(self, trainer: Trainer, filepath: str) -> None:
        if self.named_by_next and isinstance(trainer.strategy.checkpoint_io, CheckpointFiles):
            self.deferred_names.append(filepath)
            self._last_global_step_saved = trainer.global_step
            self._last_checkpoint_saved = filepath
            return
        if self.best is not None and self.best.deferred_names:
            trainer.strategy.checkpoint_io.also_named = list(self.best.deferred_names)
            super()._save_checkpoint(trainer, filepath)
            self.best.deferred_saves_done(trainer)
        else:
            super()._save_checkpoint(trainer, filepath)

    def _remove_checkpoint(self, trainer: Trainer, filepath: str) -> None:
        # The checkpoint that displaces this one is not on disk until the next callback has saved.
        if self.deferred_names:
            self.deferred_removals.append(filepath)
        else:
            super()._remove_checkpoint(trainer, filepath)

    def deferred_saves_done(self, trainer: Trainer) -> None:
        """The deferred names are on disk: remove the checkpoints they displaced and tell the loggers."""
        self.deferred_names = []
        removals, self.deferred_removals = self.deferred_removals, []
        for filepath in removals:
            super()._remove_checkpoint(trainer, filepath)
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))

    def _write_deferred_of_best(self, trainer: Trainer) -> None:
        """Write the best checkpoints this callback did not save at their step itself (it saves at every step the
        best one does, so this is a guard, not a path a run takes)."""
        if self.best is not None and self.best.deferred_names:
            for filepath in self.best.deferred_names:
                trainer.save_checkpoint(filepath, self.best.save_weights_only)
            self.best.deferred_saves_done(trainer)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Save as ModelCheckpoint does, then write any best checkpoint still waiting for this one's file."""
        super().on_validation_end(trainer, pl_module)
        self._write_deferred_of_best(trainer)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Save as ModelCheckpoint does, then write any best checkpoint still waiting for this one's file."""
        super().on_train_epoch_end(trainer, pl_module)
        self._write_deferred_of_best(trainer)


@skip_unused_batch_hooks
class MonitorStopping(StateKeyOnce, EarlyStopping):
    """EarlyStopping on the run's monitor."""


class FreedMemoryKept(Callback):
    """Makes `keep_freed_memory`'s malloc settings in every process that trains (ddp_spawn's ranks included), then
    leaves the trainer."""

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Make the settings before the first step and leave (once made they hold for the process)."""
        keep_freed_memory()
        leave_trainer(trainer, self)


def checkpoint_callbacks(options: dict[str, Any], run_dir: Path) -> list[ModelCheckpoint]:
    """The best k checkpoints by the monitor, then `last.ckpt`, rewritten at every validation.

    `last.ckpt` has its own callback because Lightning's `save_last` only rewrites it when a best
    checkpoint is saved, which would leave a resumed run starting from a stale state.
    The best files' names never take a '/' from the metric.
    """
    monitor = options["monitor"]
    best = ValidationCheckpoint(
        dirpath=run_dir / "checkpoints", monitor=monitor, mode=options["monitor_mode"],
        save_top_k=options["save_top_k"], auto_insert_metric_name=False,
        filename=f"epoch{{epoch:03d}}-step{{step}}-{monitor.replace('/', '_')}{{{monitor}:.4f}}",
    )
    last = ValidationCheckpoint(dirpath=run_dir / "checkpoints", filename="last", save_top_k=1,
                                enable_version_counter=False, best=best)
    return [best, last]


def build_callbacks(options: dict[str, Any], run_dir: Path) -> list[Callback]:
    """Checkpointing, early stopping, model summary, progress bar, and the optional monitors."""
    # Redrawing the bar every step floods logs when the output is not a terminal.
    refresh_rate = 1 if sys.stderr.isatty() else 50
    callbacks: list[Callback] = [SummaryOnce(max_depth=options["summary_depth"]), StepLossProgressBar(refresh_rate)]
    if options["mode"] == "fit":
        callbacks += checkpoint_callbacks(options, run_dir)
        if options["patience"] > 0:
            callbacks.append(MonitorStopping(monitor=options["monitor"], mode=options["monitor_mode"],
                                             patience=options["patience"]))
        if options["scheduler"] != "none" or options["warmup_steps"] > 0:
            callbacks.append(LearningRateMonitor(logging_interval="step"))
    if options["device_stats"]:
        callbacks.append(DeviceStatsMonitor())
    if options["keep_freed_memory"]:
        callbacks.append(FreedMemoryKept())
    return callbacks
