"""Find the run folder and checkpoint that `--resume PATH|last` continues."""

import os
from pathlib import Path

from utils.errors import UserError
from utils.loading.yaml_files import read_yaml_mapping
from utils.run_lock import is_locked, is_rank_zero, lock_holder
from utils.shared_names import CONFIG_FILE, VERSION_PREFIX, checkpoints_folder, last_checkpoint, version_number


def is_cross_validation(run_dir: Path) -> bool:
    """Whether a run folder holds a whole cross-validation (its runs in fold_<k>/) rather than one run."""
    config = run_dir / CONFIG_FILE
    if not config.is_file():
        return False
    values = read_yaml_mapping(str(config), "config file")
    return bool(values.get("folds")) and values.get("fold") is None


def _version(path: Path) -> int:
    """N of a `version_<N>` folder; -1 for any other name (a `version_0_backup` copy)."""
    number = version_number(path.name)
    return -1 if number is None else number


def newest_resumable_run(log_dir: str, experiment: str) -> Path:
    """The highest-numbered run of an experiment that has a last.ckpt and no live process writing into it (the
    newest of them for a rank other than 0: rank 0 holds the one it chose)."""
    experiment_dir = Path(log_dir) / experiment
    runs = [path for path in experiment_dir.glob(f"{VERSION_PREFIX}*") if _version(path) >= 0 and
            (last_checkpoint(path).is_file() or is_cross_validation(path))]
    if not runs:
        live = sorted(path.name for path in experiment_dir.glob(f"{VERSION_PREFIX}*") if is_locked(path))
        still = f" ({', '.join(live)} still running, with no checkpoint yet)" if live else ""
        raise UserError(f"--resume last found no run with checkpoints/last.ckpt under {experiment_dir}{still}: "
                        f"pass the run folder or checkpoint to resume, or the --model_name/--experiment of that run")
    runs.sort(key=_version, reverse=True)
    if not is_rank_zero():
        return runs[0]
    for run_dir in runs:
        if not is_locked(run_dir):
            return run_dir
    raise UserError(f"--resume last: every run with checkpoints/last.ckpt under {experiment_dir} is still running "
                    f"({', '.join(path.name for path in runs)}): wait for one to end, or start a new run")


def check_writable(run_dir: Path, asked: str) -> None:
    """Refuse to resume a run whose folder or checkpoints folder cannot be written (a read-only disk, say)."""
    for folder in (run_dir, checkpoints_folder(run_dir)):
        if folder.is_dir() and not os.access(folder, os.W_OK):
            raise UserError(f"--resume {asked}: cannot write into {folder}, where the resumed run would write its "
                            f"checkpoints and logs: make it writable, or copy the run folder to a writable place "
                            f"and resume the copy")


def check_not_running(run_dir: Path, asked: str) -> None:
    """Refuse to resume a run a live process still writes into (rank 0 takes the lock once everything is checked)."""
    check_writable(run_dir, asked)
    if is_rank_zero() and is_locked(run_dir):
        raise UserError(f"--resume {asked}: the run in {run_dir} is still running ({lock_holder(run_dir)} writes "
                        f"into it): wait for it to end or stop it, then resume; a run has one writer at a time")


def resume_target(target: str, log_dir: str, experiment: str) -> tuple[Path, Path | None]:
    """Return (run folder, checkpoint) for a run folder, a checkpoint inside one, or `last`.

    A cross-validation's folder has no checkpoint of its own: each of its folds resumes from its own.
    """
    path = newest_resumable_run(log_dir, experiment) if target == "last" else Path(target)
    if path.is_dir() and is_cross_validation(path):
        check_not_running(path, target)
        return path, None
    if target == "last":
        check_not_running(path, target)
        return path, last_checkpoint(path)
    if path.is_dir():
        run_dir, checkpoint = path, last_checkpoint(path)
    elif path.is_file():
        run_dir, checkpoint = path.parent.parent, path
    else:
        raise UserError(f"--resume {target} does not exist: pass a run folder, a checkpoint in one, or last")
    check_not_running(run_dir, target)  # first: a live run may not have written its first checkpoint yet
    if not checkpoint.is_file():
        raise UserError(f"--resume {target}: {checkpoint} does not exist; the run saved no checkpoint to resume from")
    if not (run_dir / CONFIG_FILE).is_file():
        raise UserError(f"--resume {target} is not inside a run folder (no {run_dir / CONFIG_FILE}): "
                        f"resume from a checkpoint in Logs/<experiment>/version_<N>/checkpoints/")
    return run_dir, checkpoint

