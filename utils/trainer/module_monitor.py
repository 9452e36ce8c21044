"""The monitor of an own LightningModule: its keys are known only once it has logged them, at its first validation."""

import contextlib
import shutil
from pathlib import Path

import torch
from tqdm import tqdm

from utils.config.config_files import load_config
from utils.errors import SameInEveryProcess
from utils.lightning_package import (
    Callback,
    EarlyStopping,
    LightningModule,
    ModelCheckpoint,
    Trainer,
)
from utils.runs.folder import write_yaml
from utils.shared_names import (
    CONFIG_FILE,
    TRAIN,
    VAL,
    logged_stage,
    metric_key,
    metric_stage,
    monitor_mode_of,
    split_lightning_key,
    stage_named_key,
)
from utils.trainer.callbacks import best_checkpoint_filename
from utils.trainer.module_hooks import defines_hook

# --monitor unset: the first val loss the module logs, else its first val key, chosen at its first validation.
CHOSEN_AT_FIRST_VALIDATION = "auto"


class MonitorNotLogged(SameInEveryProcess):
    """The monitor is not a key the module logged by the time it was checked (or it logged no val key to choose)."""


def val_keys(metrics: dict[str, object]) -> list[str]:
    """The `val/...` keys logged, in order, each under its name over every dataset (`val/x`, not
    `val/x/dataloader_idx_0`)."""
    keys = []
    for logged in metrics:
        key = stage_named_key(logged) or logged  # Lightning's usual val_x is val/x
        indexed = split_lightning_key(key)
        name = metric_key(VAL, indexed[1]) if indexed and indexed[0] == VAL else key
        if metric_stage(name) == VAL and name in metrics and name not in keys:
            keys.append(name)
    return keys


def first_val_key(metrics: dict[str, object], mode: str | None = None) -> str | None:
    """The monitor chosen for a module: its first val loss, else its first val key, those the given --monitor_mode
    fits first (`max`: an accuracy before the loss); a mean over the datasets (`val/x`) before one dataset's."""
    keys = sorted(val_keys(metrics), key=lambda key: key.count("/") > 1)
    losses = [key for key in keys if "loss" in key.rpartition("/")[2]]
    ranked = [*losses, *keys]
    return next((key for key in ranked if monitor_mode_of(key) == mode), ranked[0] if ranked else None)


def logged_keys(metrics: dict[str, object]) -> str:
    """The keys logged, in order, Lightning's per-dataloader ones left out; `nothing` for none."""
    return ", ".join(sorted(key for key in metrics if split_lightning_key(key) is None)) or "nothing"


def remove_fresh_run_folder(run_dir: Path) -> None:
    """Remove a run folder this run created, and its experiment folder when nothing else is left in it."""
    shutil.rmtree(run_dir, ignore_errors=True)
    with contextlib.suppress(OSError):  # other runs of the experiment are there
        run_dir.parent.rmdir()


class ModuleMonitor(Callback):
    """At the first validation, checks --monitor against the keys the module logged, or chooses the first val key."""

    def __init__(self, monitor: str, run_dir: Path, stated_mode: str | None = None) -> None:
        self.monitor, self.run_dir, self.stated_mode = monitor, run_dir, stated_mode  # --monitor_mode, if given
        self.checked = monitor == "none"
        self.epochs_ended = 0

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Check or choose the monitor once, after the first validation outside the sanity check; a monitor the
        sanity check did not log is said at once, as the first validation may be an epoch away."""
        if self.checked or self.watches_train_key():
            return  # a train key: its epoch's value is logged after the validation, and checked when it is
        name = type(pl_module).__name__
        if not trainer.sanity_checking:
            self.check_logged(trainer, name, "its first validation")
            return
        # A module may log some keys outside the sanity check alone: no refusal yet. With several val sets Lightning
        # keeps none of the sanity check's keys but those of its epoch end.
        metrics = trainer.callback_metrics
        if metrics and self.monitor not in metrics and logged_stage(self.monitor) == VAL and len(
                trainer.num_val_batches) == 1:
            say(trainer, f"note: --monitor {self.monitor} is not among the keys {name} logged in the sanity check "
                         f"({logged_keys(metrics)}): unless its first validation logs it, the run stops there")

    def watches_train_key(self) -> bool:
        """Whether --monitor is a train key (`train/...`, or Lightning's usual `train_...`)."""
        return logged_stage(self.monitor) == TRAIN

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Count the epochs this process has ended (a resumed run's first epoch logs its train keys anew); refuse a
        train key not logged by now when the module has no epoch-end hook to log it in (the best checkpoint and
        early stopping read it next)."""
        self.epochs_ended += 1
        if (not self.checked and self.watches_train_key() and self.monitor not in trainer.callback_metrics
                and not defines_hook(type(pl_module), "on_train_epoch_end")):
            self.check_logged(trainer, type(pl_module).__name__, "the end of its first epoch")

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Check a train key given as --monitor once an epoch of this process has logged its value."""
        if not self.checked and self.watches_train_key() and self.epochs_ended:
            self.check_logged(trainer, type(pl_module).__name__, "its first epoch")

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Check a train key given as --monitor at the end of a run of one epoch."""
        if not self.checked and self.watches_train_key() and self.epochs_ended:
            self.check_logged(trainer, type(pl_module).__name__, "its first epoch")

    def check_logged(self, trainer: Trainer, name: str, when: str) -> None:
        """Refuse a --monitor the module has not logged by `when`, or choose the first val key for an unset one."""
        self.checked = True
        metrics = trainer.callback_metrics
        logged = logged_keys(metrics)
        how = "log one with self.log in validation_step" if logged == "nothing" else "pass --monitor with one of those"
        if self.monitor == CHOSEN_AT_FIRST_VALIDATION:
            chosen = first_val_key(metrics, self.stated_mode)
            if chosen is None:
                raise MonitorNotLogged(f"{name} logged no val/ key at its first validation (it logged {logged}): "
                                       f"{how}, or --monitor none to keep the last checkpoint only")
            self.use(trainer, chosen, name)
        elif self.monitor not in metrics:
            raise MonitorNotLogged(f"--monitor {self.monitor} is not a key {name} logs: it logged {logged} by "
                                   f"{when}; {how}, or --monitor none")

    def use(self, trainer: Trainer, monitor: str, name: str) -> None:
        """Point the best checkpoints and early stopping at `monitor` (maximised when its name says higher is
        better, unless --monitor_mode was given), say so, and record both in config.yaml."""
        mode = self.stated_mode or monitor_mode_of(monitor)
        for callback in trainer.callbacks:  # the best checkpoints and early stopping
            if getattr(callback, "monitor", None) == CHOSEN_AT_FIRST_VALIDATION:
                callback.monitor = monitor
                use_mode(callback, mode)
                if hasattr(callback, "filename"):
                    callback.filename = best_checkpoint_filename(monitor)
        if trainer.is_global_zero:
            line = (f"monitor: {monitor}, the first val {'loss' if 'loss' in monitor else 'key'} {name} logs "
                    f"(--monitor_mode {mode}); pass --monitor KEY --monitor_mode min|max to choose another, or "
                    f"--monitor none")
            say(trainer, line)
            config_file = self.run_dir / CONFIG_FILE
            if config_file.is_file():  # so that --resume and `--config config.yaml` monitor the same key
                write_yaml(config_file, {**load_config(str(config_file)), "monitor": monitor, "monitor_mode": mode})


def say(trainer: Trainer, line: str) -> None:
    """Print `line` in rank 0 alone, above any progress bar (the bar's own print drops it between its bars)."""
    if trainer.is_global_zero:
        tqdm.write(line)


def use_mode(callback: Callback, mode: str) -> None:
    """Set the mode of a checkpoint or early-stopping callback that has compared no value yet, its starting best
    value with it."""
    worst = torch.tensor(torch.inf if mode == "min" else -torch.inf)
    if isinstance(callback, EarlyStopping):
        callback.best_score = worst
        callback.min_delta = abs(callback.min_delta) * (1 if mode == "max" else -1)
    elif isinstance(callback, ModelCheckpoint):
        callback.kth_value = worst
    callback.mode = mode
