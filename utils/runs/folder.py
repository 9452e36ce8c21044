"""Run folders `Logs/<experiment>/version_<N>/`, claimed atomically once per run, and the files a run writes there.

Rank 0 of a distributed run claims the folder (or takes the one it resumes, or the one a cross-validation or a sweep
hands it) and holds its lock. The other processes build their Trainer around a pending folder that they never write
into; they receive rank 0's through the strategy's broadcast once the process group exists
(utils/trainer/shared_run_folder.py).
"""

import json
import os
import re
from pathlib import Path
from typing import Any

from utils.config.command_line import Command
from utils.errors import UserError
from utils.run_lock import is_rank_zero, lock_holder, lock_run_folder
from utils.runs.results import plain_json
from utils.shared_names import (
    PENDING_RUN_FOLDER,
    TEMPORARY_SUFFIX,
    VERSION_PREFIX,
    checkpoints_folder,
    is_checkpoint_temporary,
    version_folder,
    version_number,
)

# "<pid>:<path>", set by a cross-validation or a sweep for the run it starts; only that child takes the folder, so a
# leftover value in a shell, or one its own children inherit, is ignored.
RUN_DIR_VARIABLE = "TEMPLATE_RUN_DIR"
EXPERIMENT_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.=-]*")


def check_experiment_name(name: str) -> None:
    """Refuse an experiment name that is not a single folder name."""
    if not EXPERIMENT_PATTERN.fullmatch(name) or ".." in name:
        raise UserError(f"experiment name {name!r} must be one folder name: letters, digits, '_', '-', '.', '='")


def _versions(experiment_dir: Path) -> list[int]:
    numbers = (version_number(path.name) for path in experiment_dir.glob(f"{VERSION_PREFIX}*"))
    return [number for number in numbers if number is not None]


def _experiment_dir(log_dir: str, experiment: str) -> Path:
    experiment_dir = Path(log_dir) / experiment
    try:
        experiment_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        message = f"cannot create the run folder under {log_dir!r}: {error.strerror}: pass another --log_dir"
        raise UserError(message) from None
    return experiment_dir


def _new_version_folder(experiment_dir: Path) -> Path:
    """Create the next free `version_<N>`; mkdir is atomic, so no two runs share one."""
    version = max(_versions(experiment_dir), default=-1) + 1
    while True:
        run_dir = experiment_dir / version_folder(version)
        try:
            run_dir.mkdir()
        except FileExistsError:
            version += 1
            continue
        except OSError as error:  # a read-only or immutable experiment folder
            raise UserError(f"cannot create the run folder {run_dir}: {error.strerror}: make {experiment_dir} "
                            f"writable or pass another --log_dir") from None
        return run_dir


def handed_run_dir() -> Path | None:
    """The folder a cross-validation or a sweep handed this process when it started it."""
    owner, _, path = os.environ.get(RUN_DIR_VARIABLE, "").partition(":")
    return Path(path) if path and owner == str(os.getppid()) else None


def claim_run_folder(command: Command) -> Path:
    """The run's folder, locked by rank 0: the one it resumes, the one it was handed, or a new `version_<N>`; on any
    other rank the folder it resumes, or the pending folder until rank 0's reaches it."""
    resumed, run = command.resume_dir, command.settings.run
    if not is_rank_zero():
        return resumed or Path(run.log_dir) / command.experiment / PENDING_RUN_FOLDER
    if resumed is not None:
        if not lock_run_folder(resumed):
            raise UserError(f"--resume {command.options['resume']}: the run in {resumed} is still running "
                            f"({lock_holder(resumed)} writes into it): wait for it to end or stop it, then resume; "
                            f"a run has one writer at a time")
        return resumed
    handed = handed_run_dir()
    if handed is not None:
        if not lock_run_folder(handed):
            raise UserError(f"the run folder {handed} is still written by {lock_holder(handed)}, a run left from an "
                            f"earlier start: wait for it to end or stop it, then run the same command again")
        return handed
    run_dir = _new_version_folder(_experiment_dir(run.log_dir, command.experiment))
    lock_run_folder(run_dir)
    return run_dir


def remove_stale_temporaries(run_dir: Path) -> None:
    """Delete the partial checkpoints a killed writer left; the folder's lock means no live writer owns them."""
    if not is_rank_zero():
        return
    for path in checkpoints_folder(run_dir).glob(f".*{TEMPORARY_SUFFIX}"):
        if is_checkpoint_temporary(path.name):
            path.unlink(missing_ok=True)


def write_yaml(path: Path, content: dict[str, Any]) -> None:
    """Write a mapping as YAML, keys in their given order."""
    import yaml

    path.write_text(yaml.safe_dump(content, sort_keys=False))


def write_json(path: Path, content: dict[str, Any]) -> None:
    """Write a mapping as indented, strict JSON (tensors as numbers, a value that is not a finite number as null)."""
    path.write_text(json.dumps(plain_json(content), indent=2, allow_nan=False) + "\n")
