"""Checks of the options that make one command drive several runs: k-fold cross-validation and sweeps."""

from typing import Any

from utils.config.framework_options import names_where
from utils.errors import UserError

# Options only a sweep worker reads; a trial's own config.yaml leaves them out, so it reruns the trial alone.
SWEEP_OPTIONS = names_where(sweep_only=True)
FOLD_LABEL = "fold"


def drives_several_runs(options: dict[str, Any]) -> bool:
    """Whether this command runs a whole cross-validation or a sweep rather than one run."""
    return bool(options.get("sweep")) or (bool(options.get("folds")) and options.get("fold") is None)


def _check_folds(options: dict[str, Any]) -> None:
    folds, fold = options["folds"], options["fold"]
    if folds is None:
        if fold is not None:
            raise UserError(f"--fold {fold} picks one fold of a cross-validation: give --folds K too")
        return
    if folds < 2:
        raise UserError(f"--folds {folds}: a cross-validation needs at least 2 folds")
    if options["mode"] != "fit":
        raise UserError(f"--folds trains one run per fold: drop it for --mode {options['mode']}, or test a "
                        f"fold's checkpoint with --ckpt")
    if fold is not None and fold >= folds:
        raise UserError(f"--fold {fold} is not a fold of --folds {folds}: pick one from 0 to {folds - 1}")


def _check_sweep(options: dict[str, Any]) -> None:
    if not options["sweep"]:
        given = [name for name in ("trials", "study", "storage") if options[name] is not None]
        if given:
            raise UserError(f"--{given[0]} belongs to a sweep: give --sweep FILE.yaml too, or drop it")
        return
    if options["trials"] is None:
        raise UserError("--sweep needs --trials N: the number of finished trials the study holds in the end")
    if options["mode"] != "fit":
        raise UserError(f"--sweep trains one run per trial: drop --mode {options['mode']}")
    if options["folds"] is not None:
        raise UserError("--sweep and --folds do not combine: sweep first, then cross-validate the best config")
    if options.get("resume"):
        raise UserError("--sweep continues its study by itself: run the same command again instead of --resume")


def check_experiment_options(options: dict[str, Any]) -> None:
    """Refuse folds, sweep and parallel options that do not fit together or with the mode."""
    _check_folds(options)
    _check_sweep(options)
    if options.get("parallel", 1) != 1 and not drives_several_runs(options):
        raise UserError(f"--parallel {options['parallel']} runs the trials of a --sweep or the folds of --folds K at "
                        f"once: give one of them, or drop --parallel")
