"""What a resume may not change: the options that decide a cross-validation's folds, and whether it is one."""

from pathlib import Path
from typing import Any

from utils.config.config_files import load_config
from utils.errors import UserError, main_command
from utils.shared_names import CONFIG_FILE

# The options that decide which items each fold trains and validates on (the task decides the stratification):
# changed mid-run, the folds already trained and those still to train would be cut from different splits.
SPLIT_OPTIONS = ("folds", "fold", "seed", "val_fraction", "task", "train_dataset")


def whole_cross_validation(resume_dir: Path, stored: dict[str, Any]) -> Path:
    """The folder of the whole cross-validation: the resumed folder, or its parent when one fold was resumed."""
    return resume_dir.parent if stored.get("fold") is not None else resume_dir


def check_single_run_stays_single(resume_dir: Path, options: dict[str, Any]) -> None:
    """Refuse --folds on the resume of a single run: that run would become a cross-validation in place."""
    if options.get("folds"):
        raise UserError(f"--folds {options['folds']} --resume {resume_dir}: that folder holds a single run, which "
                        f"cannot become a cross-validation in place: drop --folds to continue the run, or drop "
                        f"--resume to start a new cross-validation")


def check_folds_kept(resume_dir: Path, now: dict[str, Any], train_parameters: list[str]) -> None:
    """Refuse a resume that changes what defines a cross-validation (its folds, seed, split, train data)."""
    stored = load_config(str(resume_dir / CONFIG_FILE), "the resumed run's config")
    if not stored.get("folds"):
        check_single_run_stays_single(resume_dir, now)
        return
    for name in (*SPLIT_OPTIONS, *train_parameters):
        if name in stored and stored[name] != now.get(name):
            whole = whole_cross_validation(resume_dir, stored)
            raise UserError(f"--resume {resume_dir} continues a cross-validation with {name}={stored[name]!r}; "
                            f"{name}={now.get(name)!r} would cut its folds from another split: drop --{name} "
                            f"({main_command()} --resume {whole} continues the whole cross-validation), or start a "
                            f"new one without --resume")
