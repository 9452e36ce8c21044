"""The names every layer shares: metric keys, run, fold and trial folders, and the files of a run folder.

A key or a folder name is built and split here only, so the model that logs a key, the table that reads it back and
the checks made before training cannot drift apart. Imports nothing beyond the standard library.
"""

import os
import re
import string
import uuid
from dataclasses import dataclass
from pathlib import Path

# The label of the means over a stage's datasets in results.json and the tables; no dataset may take it.
MEAN_LABEL = "mean"
TRAIN, VAL, TEST = "train", "val", "test"
# The step's own loss, logged at the steps the loggers write (the epoch's mean is `train/loss`).
STEP_LOSS = "loss_step"
# Lightning's tail of a key logged from one of several dataloaders: `val/x/dataloader_idx_1`.
LIGHTNING_INDEX = "dataloader_idx_"

# The words of metric names (torchmetrics' and the usual ones of Lightning modules) that say which way is better.
LOWER_IS_BETTER = ("loss", "error", "distance", "divergence", "deviance", "perplexity")
HIGHER_IS_BETTER = ("acc", "f1", "fbeta", "auroc", "auc", "iou", "jaccard", "dice", "precision", "recall",
                    "specificity", "sensitivity", "map", "psnr", "ssim", "r2", "kappa", "matthews", "corr",
                    "similarity", "explained", "ratio", "bleu", "chrf")

VERSION_PREFIX, FOLD_PREFIX, TRIAL_PREFIX = "version_", "fold_", "trial_"
# The folder a process other than rank 0 builds its Trainer around until rank 0's reaches it; it is never created.
PENDING_RUN_FOLDER = "version_pending"

# The files and folders of a run folder.
CONFIG_FILE = "config.yaml"
ENVIRONMENT_FILE = "environment.yaml"
RESULTS_FILE = "results.json"
CHECKPOINTS_FOLDER = "checkpoints"
LAST_CHECKPOINT_NAME = "last"  # ModelCheckpoint's file name, without `.ckpt`
PREDICTIONS_FILE = "predictions.pt"
PREDICTIONS_TABLE = "predictions.csv"
CSV_FOLDER = "csv"
PROFILE_NAME = "profile"
MLFLOW_RUN_FILE = "mlflow_run_id.txt"
LOCK_FILE = ".lock"
OUTPUT_FILE = "output.log"  # what a child run of --parallel printed, in its own folder
# `.<name>.<pid>-<8 hex digits>.tmp`: where a checkpoint is written before it is renamed into place.
TEMPORARY_SUFFIX = ".tmp"


@dataclass(frozen=True)
class MetricKey:
    """The parts of a key: its stage, its dataset label (None for train and for the means) and the metric's name."""

    stage: str
    label: str | None
    name: str


def metric_key(stage: str, name: str, label: str | None = None) -> str:
    """`stage/name` (train, or the mean over datasets when `label` is None or `mean`), else `stage/label/name`."""
    return f"{stage}/{name}" if label in (None, MEAN_LABEL) else f"{stage}/{label}/{name}"


def metric_stage(key: str) -> str | None:
    """The stage a key is logged under (`val` of `val/a/loss`, of an own module's `val/x/y/z` too), else None."""
    stage, slash, rest = key.partition("/")
    return stage if slash and stage and rest else None


def split_metric_key(key: str) -> MetricKey | None:
    """The parts of `stage/name` or `stage/label/name`; None for any other key, Lightning's per-dataloader ones too."""
    parts = key.split("/")
    if len(parts) == 2 and all(parts):
        return MetricKey(parts[0], None, parts[1])
    if len(parts) == 3 and all(parts) and split_lightning_key(key) is None:
        return MetricKey(*parts)
    return None


def split_lightning_key(key: str) -> tuple[str, str, int] | None:
    """(stage, name, dataloader index) of Lightning's `val/name/dataloader_idx_N` or `test/...` key, else None."""
    head, _, tail = key.rpartition("/")
    stage, _, name = head.partition("/")
    index = tail.removeprefix(LIGHTNING_INDEX)
    if index == tail or not (index.isascii() and index.isdigit()) or stage not in (VAL, TEST) or not name:
        return None
    return stage, name, int(index)


def monitor_mode_of(key: str) -> str:
    """`max` for a metric whose name says higher is better (an accuracy, an F1, an IoU, a PSNR...), else `min` (a
    loss, an error, a distance, and any name that says neither)."""
    words = [word for word in re.split(r"[^a-z0-9]+", key.rpartition("/")[2].lower()) if word]
    if any(word.startswith(LOWER_IS_BETTER) for word in words):
        return "min"
    return "max" if any(word.startswith(HIGHER_IS_BETTER) for word in words) else "min"


def stage_named_key(key: str) -> str | None:
    """`val/x` for Lightning's usual `val_x` (and `val/x/dataloader_idx_N` for `val_x/dataloader_idx_N`), the same
    for `test_`; None for any other key."""
    head, slash, tail = key.partition("/")
    stage, underscore, name = head.partition("_")
    indexed = not slash or split_lightning_key(f"{VAL}/x/{tail}") is not None
    if stage not in (VAL, TEST) or not underscore or not name or not indexed:
        return None
    return f"{stage}/{name}{slash}{tail}"


def logged_stage(key: str) -> str | None:
    """The stage a module logged `key` in: that of `val/...` keys, and of Lightning's usual `val_...` ones too."""
    return metric_stage(stage_named_key(key) or key)


def version_folder(number: int) -> str:
    """The name of an experiment's run number `number`: `version_<N>`."""
    return f"{VERSION_PREFIX}{number}"


def version_number(name: str) -> int | None:
    """N of a `version_<N>` folder name; None for any other name (a `version_0_backup` copy)."""
    number = name.removeprefix(VERSION_PREFIX)
    return int(number) if number != name and number.isascii() and number.isdigit() else None


def fold_folder(fold: int) -> str:
    """The folder of a cross-validation's fold `fold` inside its run folder: `fold_<k>`."""
    return f"{FOLD_PREFIX}{fold}"


def fold_number(name: str) -> str:
    """k of a `fold_<k>` folder name, as written in the folds table."""
    return name.removeprefix(FOLD_PREFIX)


def trial_folder(number: int) -> str:
    """The folder of a sweep's trial `number` inside its study folder: `trial_<number>`."""
    return f"{TRIAL_PREFIX}{number}"


def experiment_folder(run_dir: Path) -> Path:
    """`Logs/<experiment>` of a run folder, or of a fold's or trial's folder inside one."""
    is_run = run_dir.name == PENDING_RUN_FOLDER or version_number(run_dir.name) is not None
    return run_dir.parent if is_run else run_dir.parent.parent


def checkpoints_folder(run_dir: Path) -> Path:
    """Where a run keeps its checkpoints."""
    return run_dir / CHECKPOINTS_FOLDER


def last_checkpoint(run_dir: Path) -> Path:
    """The checkpoint rewritten at every validation, which `--resume` continues from."""
    return checkpoints_folder(run_dir) / f"{LAST_CHECKPOINT_NAME}.ckpt"


def checkpoint_temporary(target: Path) -> Path:
    """A fresh temporary path beside `target` for this process, of the form is_checkpoint_temporary recognises."""
    return target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}{TEMPORARY_SUFFIX}")


def is_checkpoint_temporary(name: str) -> bool:
    """Whether a file name is one checkpoint_temporary made (a partial checkpoint its writer may have left)."""
    body = name.removesuffix(TEMPORARY_SUFFIX)
    target, _, writer = body.removeprefix(".").rpartition(".")
    pid, _, token = writer.partition("-")
    return (name.startswith(".") and body != name and bool(target) and pid.isascii() and pid.isdigit()
            and len(token) == 8 and set(token) <= set(string.hexdigits.lower()))
