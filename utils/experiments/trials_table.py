"""What a sweep worker shows at the end: the study's trials as a table, and the best trial's config as a file."""

import os
from pathlib import Path
from typing import Any

import optuna
import yaml

from utils.errors import main_command
from utils.experiments.search_space import SearchSpace


def cell(value: Any) -> str:
    """A table cell: numbers to four significant digits, anything else as text, nothing as '-'."""
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def trials_table(study: optuna.Study, space: SearchSpace, monitor: str) -> str:
    """One row per trial of the study: number, state, sampled values and objective."""
    names = [dimension.name for dimension in space.dimensions]
    header = ["trial", "state", *names, monitor]
    rows = [[str(trial.number), trial.state.name.lower() + (" (not needed)" if trial.user_attrs.get("surplus") else ""),
             *(cell(trial.params.get(name)) for name in names), cell(trial.value)]
            for trial in study.get_trials(deepcopy=False)]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
                     for row in [header, *rows])


def write_best_config(study: optuna.Study, path: Path) -> str:
    """Write the best complete trial's config.yaml to `path` (atomically: several workers may write it); say so."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return "no trial has completed yet, so there is no best config"
    best = study.best_trial
    config = best.user_attrs.get("config")
    if config is None:
        return f"best: trial {best.number} ({cell(best.value)}), which has no config recorded in the study"
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(f"# best trial {best.number} of study {study.study_name!r}: {cell(best.value)}\n"
                       + yaml.safe_dump(config, sort_keys=False))
    os.replace(partial, path)
    return (f"best: trial {best.number} ({cell(best.value)}), in {best.user_attrs.get('run_dir')}\n"
            f"its config: {path}  ({main_command()} --config {path} trains it again)")
