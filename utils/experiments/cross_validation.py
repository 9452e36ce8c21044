"""k-fold cross-validation: one run folder, each fold a complete run of its own in fold_<k>/ inside it."""

import sys
from pathlib import Path
from queue import Empty, Queue

from utils.config.command_line import Command
from utils.config.config_files import config_tokens
from utils.errors import main_command
from utils.experiments.child_runs import MainEntry, exit_description, exit_status, read_results, run_main
from utils.experiments.child_slots import ChildSlot
from utils.experiments.fold_results import fold_means, folds_table, summarise_folds
from utils.experiments.parallel_runs import ParallelRuns, machine_slots
from utils.runs.environment import environment_record
from utils.runs.folder import claim_run_folder, write_json, write_yaml
from utils.runs.hparams_tab import record_final_metrics, record_options
from utils.shared_names import CONFIG_FILE, ENVIRONMENT_FILE, OUTPUT_FILE, RESULTS_FILE, fold_folder, last_checkpoint


def fold_arguments(config: dict, fold_dir: Path, fold: int) -> list[str] | None:
    """The command line of a fold not finished yet (afresh, or resumed from its own last checkpoint), saying so;
    None for a fold that finished earlier."""
    folds = config["folds"]
    if (fold_dir / RESULTS_FILE).is_file():
        print(f"fold {fold} of {folds}: finished earlier, in {fold_dir}")
        return None
    argv = [*config_tokens(config), "--fold", str(fold)]
    if last_checkpoint(fold_dir).is_file():
        print(f"fold {fold} of {folds}: resumed in {fold_dir}")
        return [*argv, "--resume", str(fold_dir)]
    print(f"fold {fold} of {folds}: {fold_dir}")
    return argv


def run_folds_one_by_one(entry: MainEntry, config: dict, run_dir: Path) -> int:
    """Run each unfinished fold in turn, its output going to ours; the first that fails stops the rest."""
    for fold in range(config["folds"]):
        fold_dir = run_dir / fold_folder(fold)
        argv = fold_arguments(config, fold_dir, fold)
        code = 0 if argv is None else run_main(entry.script, argv, fold_dir, resume_hint(run_dir))
        if code != 0:
            print(f"error: fold {fold} stopped ({exit_description(code)}; its output above says why): fix it, then "
                  f"--resume {run_dir} continues with that fold", file=sys.stderr)
            return exit_status(code)
    return 0


def run_folds_at_once(entry: MainEntry, config: dict, run_dir: Path, slots: list[ChildSlot]) -> int:
    """Run the unfinished folds --parallel at a time, each on its slot; one that fails leaves the others running."""
    waiting = Queue()
    for fold in range(config["folds"]):
        argv = fold_arguments(config, run_dir / fold_folder(fold), fold)
        if argv is not None:
            waiting.put((fold, argv))
    runs = ParallelRuns(entry.script, slots)
    failed: dict[int, int] = {}

    def work(slot: ChildSlot) -> None:
        while True:
            try:
                fold, argv = waiting.get_nowait()
            except Empty:
                return
            code = runs.run_child(slot, fold_folder(fold), argv, run_dir / fold_folder(fold))
            if code != 0:
                failed[fold] = code
    runs.drive(work, resume_hint(run_dir))
    for fold, code in sorted(failed.items()):
        print(f"error: fold {fold} stopped ({exit_description(code)}; its {OUTPUT_FILE} says why): fix it, then "
              f"--resume {run_dir} continues with the folds not finished", file=sys.stderr)
    return exit_status(failed[min(failed)]) if failed else 0


def resume_hint(run_dir: Path) -> str:
    """What a stopped cross-validation says to go on."""
    return f"resume with: {main_command()} --resume {run_dir}"


def run_cross_validation(command: Command, entry: MainEntry) -> int:
    """Check everything once, run each unfinished fold, then write and print the folds' results side by side."""
    settings = command.settings
    # Every check a fold makes (the fold count against the classes included) runs here, before any folder exists.
    entry.build_checked(command)
    parallel = command.options["parallel"]
    slots = None if parallel == 1 else machine_slots(parallel, settings.trainer.devices, settings.trainer.accelerator)
    run_dir = claim_run_folder(command)
    config = command.resolved_config()
    write_yaml(run_dir / CONFIG_FILE, config)
    write_yaml(run_dir / ENVIRONMENT_FILE, environment_record())
    if "tensorboard" in settings.trainer.logger:
        record_options(run_dir, config)
    folds = config["folds"]
    code = (run_folds_one_by_one(entry, config, run_dir) if slots is None else
            run_folds_at_once(entry, config, run_dir, slots))
    if code != 0:
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
