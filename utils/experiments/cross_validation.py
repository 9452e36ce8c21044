"""k-fold cross-validation: one run folder, each fold a complete run of its own in fold_<k>/ inside it."""

import sys
from pathlib import Path

from utils.config.command_line import Command
from utils.config.config_files import config_tokens
from utils.experiments.child_runs import MainEntry, read_results, run_main
from utils.experiments.fold_results import fold_means, folds_table, summarise_folds
from utils.runs.environment import environment_record
from utils.runs.folder import claim_run_folder, write_json, write_yaml
from utils.runs.hparams_tab import record_final_metrics, record_options
from utils.shared_names import CONFIG_FILE, ENVIRONMENT_FILE, RESULTS_FILE, fold_folder, last_checkpoint


def run_fold(entry: MainEntry, config: dict, fold_dir: Path, fold: int) -> int:
    """Run one fold not finished yet: afresh, or resumed from its own last checkpoint; return its exit code."""
    folds = config["folds"]
    if (fold_dir / RESULTS_FILE).is_file():
        print(f"fold {fold} of {folds}: finished earlier, in {fold_dir}")
        return 0
    argv = [*config_tokens(config), "--fold", str(fold)]
    if last_checkpoint(fold_dir).is_file():
        print(f"fold {fold} of {folds}: resumed in {fold_dir}")
        argv += ["--resume", str(fold_dir)]
    else:
        print(f"fold {fold} of {folds}: {fold_dir}")
    return run_main(entry.script, argv, fold_dir, f"resume with: python main.py --resume {fold_dir.parent}")


def run_cross_validation(command: Command, entry: MainEntry) -> int:
    """Check everything once, run each unfinished fold, then write and print the folds' results side by side."""
    settings = command.settings
    # Every check a fold makes (the fold count against the classes included) runs here, before any folder exists.
    entry.build_checked(command)
    run_dir = claim_run_folder(command)
    config = command.resolved_config()
    write_yaml(run_dir / CONFIG_FILE, config)
    write_yaml(run_dir / ENVIRONMENT_FILE, environment_record())
    if "tensorboard" in settings.trainer.logger:
        record_options(run_dir, config)
    folds = config["folds"]
    for fold in range(folds):
        code = run_fold(entry, config, run_dir / fold_folder(fold), fold)
        if code != 0:
            print(f"error: fold {fold} stopped with exit code {code} (its output above says why): fix it, then "
                  f"--resume {run_dir} continues with that fold", file=sys.stderr)
            return code
    fold_runs = {fold_folder(fold): read_results(run_dir / fold_folder(fold)) for fold in range(folds)}
    results = {"mode": "fit", "run_dir": str(run_dir), "folds": folds, "monitor": settings.trainer.monitor,
               "fold_runs": fold_runs, **summarise_folds(list(fold_runs.values()))}
    write_json(run_dir / RESULTS_FILE, results)
    if "tensorboard" in settings.trainer.logger:
        record_final_metrics(run_dir, fold_means(results))
    print(f"\n{folds_table(results)}\n\nrun folder: {run_dir}  (tensorboard --logdir {run_dir} shows the folds "
          f"side by side)")
    return 0
