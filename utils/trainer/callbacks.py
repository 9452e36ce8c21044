"""The callbacks of a run: Lightning's own, driven by the same --monitor and --monitor_mode."""

from pathlib import Path

from utils.config.settings import TrainerSettings
from utils.lightning_package import (
    Callback,
    CPUAccelerator,
    DeviceStatsMonitor,
    LearningRateMonitor,
    LightningModule,
    Trainer,
)
from utils.shared_names import LAST_CHECKPOINT_NAME, checkpoints_folder
from utils.trainer.movable_checkpoint import MovableModelCheckpoint
from utils.trainer.net_summary import NetSummary
from utils.trainer.platform import keep_freed_memory
from utils.trainer.progress import StepValuesBar, ValidationLines
from utils.trainer.shared_run_folder import SharedRunFolder
from utils.trainer.signals import CheckpointOnSigterm
from utils.trainer.state_keys import KeyedEarlyStopping


class FreedMemoryKept(Callback):
    """Makes `keep_freed_memory`'s malloc settings in every process that trains on a CPU (ddp_spawn's included)."""

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Make the settings before the first step when this process trains on a CPU."""
        if isinstance(trainer.accelerator, CPUAccelerator):
            keep_freed_memory()


def best_checkpoint_filename(monitor: str) -> str:
    """The best checkpoints' file name pattern: epoch, step and the monitor's value, never a '/' from the metric."""
    return f"epoch{{epoch:03d}}-step{{step}}-{monitor.replace('/', '_')}{{{monitor}:.4f}}"


def checkpoint_callbacks(settings: TrainerSettings, run_dir: Path) -> list[MovableModelCheckpoint]:
    """The best k checkpoints by the monitor (none with --monitor none), then `last.ckpt`, rewritten at every
    validation.

    `last.ckpt` has its own callback because Lightning's `save_last` only rewrites it when a best
    checkpoint is saved, which would leave a resumed run starting from a stale state.
    """
    monitor = settings.monitor
    last = MovableModelCheckpoint(dirpath=checkpoints_folder(run_dir), filename=LAST_CHECKPOINT_NAME, save_top_k=1,
                           enable_version_counter=False)
    if monitor == "none":
        return [last]
    best = MovableModelCheckpoint(
        dirpath=checkpoints_folder(run_dir), monitor=monitor, mode=settings.monitor_mode,
        save_top_k=settings.save_top_k, auto_insert_metric_name=False, filename=best_checkpoint_filename(monitor))
    return [best, last]


def build_callbacks(settings: TrainerSettings, run_dir: Path, learning_rate_changes: bool) -> list[Callback]:
    """Checkpointing, early stopping, model summary, progress bar, and the optional monitors."""
    # The bar reads the step's loss when it refreshes: only at logged steps, so a GPU never waits on it between.
    callbacks: list[Callback] = [NetSummary(settings.summary_depth),
                                 StepValuesBar(settings.log_every_n_steps), SharedRunFolder(run_dir),
                                 ValidationLines()]
    if settings.mode == "fit":
        callbacks += [*checkpoint_callbacks(settings, run_dir), CheckpointOnSigterm(run_dir)]
        if settings.patience > 0 and settings.monitor != "none":
            # Not strict: the template checks the monitor itself, before the run or when an own module logs it.
            callbacks.append(KeyedEarlyStopping(monitor=settings.monitor, mode=settings.monitor_mode,
                                                patience=settings.patience, strict=False))
        if learning_rate_changes:
            callbacks.append(LearningRateMonitor(logging_interval="step"))
    if settings.device_stats:
        callbacks.append(DeviceStatsMonitor())
    if settings.keep_freed_memory:
        callbacks.append(FreedMemoryKept())
    return callbacks
