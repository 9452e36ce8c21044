"""A sweep worker: runs trials of an Optuna study until it holds --trials finished ones, each trial a run folder.

Any number of workers, on one machine or many, share a study through its storage: each asks Optuna for the next
trial, runs it as `python main.py` with the sampled options, and reports its best monitor value as the objective.
"""

import json
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import optuna
import yaml

from utils.config.command_line import Command
from utils.config.config_files import config_tokens
from utils.errors import UserError
from utils.experiments.child_runs import MainEntry, read_results, run_main
from utils.experiments.class_choices import base_options
from utils.experiments.parallel_runs import ParallelRuns, machine_slots
from utils.experiments.pruning import TRIAL_VARIABLE
from utils.experiments.search_space import SearchSpace, load_search_space
from utils.experiments.studies import check_storage_url, default_storage, is_surplus, open_study, taken_trials
from utils.experiments.sweep_checks import check_same_search_space
from utils.experiments.trials_table import trials_table, write_best_config
from utils.runs.folder import EXPERIMENT_PATTERN
from utils.shared_names import CONFIG_FILE, trial_folder

# A worker (or a slot of --parallel) whose own trials fail this many times in a row stops: the cause is rarely in the
# sampled values alone.
FAILURES_IN_A_ROW = 3
GO_ON = "run the same command again to go on with the study"
# Starts a trial's run and returns its exit code: (name, argv, run folder, environment).
Launch = Callable[[str, list[str], Path, dict[str, str]], int]


def run_in_turn(script: Path, name: str, argv: list[str], run_dir: Path, environment: dict[str, str]) -> int:
    """Run a trial's `python main.py`, its output going to ours."""
    return run_main(script, argv, run_dir, GO_ON, environment)


class TrialRunner:
    """The objective: one trial as a run of its own in `<study folder>/trial_<number>/`."""

    def __init__(self, study: optuna.Study, space: SearchSpace, base_config: dict[str, Any], study_dir: Path,
                 trial_description: dict[str, Any], launch: Launch) -> None:
        self.study, self.space, self.base_config, self.study_dir = study, space, base_config, study_dir
        self.trial_description, self.launch = trial_description, launch
        self.trials = trial_description["trials"]
        self.failures_in_a_row = 0

    def run(self, trial: optuna.Trial) -> int:
        """Run the trial's `python main.py` and return its exit code."""
        run_dir = self.study_dir / trial_folder(trial.number)
        trial.set_user_attr("run_dir", str(run_dir))
        options = self.space.trial_options(trial, self.base_config)
        described = {key: value for key, value in self.trial_description.items() if key != "trials"}
        environment = {TRIAL_VARIABLE: json.dumps({**described, "trial": trial.number})}
        code = self.launch(trial_folder(trial.number), config_tokens(options), run_dir, environment)
        if (run_dir / CONFIG_FILE).is_file():
            # Kept in the study, so any worker on any machine writes the best trial's config.
            trial.set_user_attr("config", yaml.safe_load((run_dir / CONFIG_FILE).read_text()))
        return code

    def __call__(self, trial: optuna.Trial) -> float:
        """The trial's best monitor value; NaN (a failed trial) when it stopped with an error or was not needed."""
        if is_surplus(self.study, trial.number, self.trials):
            trial.set_user_attr("surplus", True)
            return float("nan")
        code = self.run(trial)
        results = read_results(Path(trial.user_attrs["run_dir"])) if code == 0 else {}
        if results.get("pruned"):
            self.failures_in_a_row = 0
            raise optuna.TrialPruned(results["pruned"])
        if results.get("best_score") is None:
            self.failures_in_a_row += 1
            return float("nan")
        self.failures_in_a_row = 0
        return results["best_score"]


def study_name(options: dict[str, Any]) -> str:
    """--study, or the sweep file's name without its extension; it names the study's folder too."""
    name = options["study"] or Path(options["sweep"]).stem
    if not EXPERIMENT_PATTERN.fullmatch(name) or ".." in name:
        raise UserError(f"study name {name!r} must be usable as one folder name: letters, digits, '_', '-', '.'; "
                        f"pass --study NAME")
    return name


def make_folder(folder: Path | None) -> None:
    """Create a folder of the sweep (and its parents) unless it exists; None: nothing to create."""
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create the folder {folder}: {error.strerror}: pass another --log_dir") from None


def run_trials(study: optuna.Study, runner: TrialRunner, trials: int) -> None:
    """Ask for trials one at a time while fewer than `trials` are finished or running anywhere."""
    while len(taken_trials(study)) < trials:
        study.optimize(runner, n_trials=1)
        if runner.failures_in_a_row >= FAILURES_IN_A_ROW:
            raise UserError(f"{FAILURES_IN_A_ROW} trials in a row stopped with an error (their output above says "
                            f"why): fix the cause, then run the same command again to go on with the study")


def run_sweep(command: Command, entry: MainEntry) -> int:
    """Check the sweep, open the study, run trials until it holds --trials, then print them and the best config."""
    options, settings = command.options, command.settings
    name = study_name(options)
    base_config = base_options(command)
    space = load_search_space(command, base_config, entry.checked_command, entry.build_checked)
    storage = options["storage"] or default_storage(settings.run.log_dir, command.experiment)
    check_storage_url(storage)
    entry.build_checked(command)
    slots = None if options["parallel"] == 1 else machine_slots(options["parallel"], settings.trainer.devices,
                                                                  settings.trainer.accelerator)
    study_dir = Path(settings.run.log_dir) / command.experiment / name
    # The default storage lives in the experiment's folder; the study's folder waits until the storage opened.
    make_folder(study_dir.parent if not options["storage"] else None)
    direction = "minimize" if settings.trainer.monitor_mode == "min" else "maximize"
    study = open_study(storage, name, direction, options["pruner"])
    check_same_search_space(study, space.entries or {}, f"sweep file {options['sweep']}")
    make_folder(study_dir)
    description = {"storage": storage, "study": name, "pruner": options["pruner"], "trials": options["trials"]}

    def runner(launch: Launch) -> TrialRunner:
        return TrialRunner(study, space, base_config, study_dir, description, launch)

    print(f"sweep: study {name!r} with {len(taken_trials(study))} of {options['trials']} trials finished or "
          f"running, worker {os.getpid()}")
    if slots is None:
        run_trials(study, runner(partial(run_in_turn, entry.script)), options["trials"])
    else:
        runs = ParallelRuns(entry.script, slots)
        runs.drive(lambda slot: run_trials(study, runner(partial(runs.run_child, slot)), options["trials"]), GO_ON)
    print(f"\n{trials_table(study, space, settings.trainer.monitor)}\n")
    print(write_best_config(study, study_dir / "best_config.yaml"))
    return 0
