"""What a sweep file's values mean together, checked before the first trial: the nets and datasets it chooses
built and run on a batch, a swept option that another option would override, and a study of another search space."""

import itertools
import json
from collections.abc import Callable
from typing import Any

import optuna

from utils.config.command_line import Command
from utils.config.config_files import config_tokens
from utils.errors import UserError

# The per-stage dataset options, which --dataset sets at once and each of which overrides it for its stage.
DATASET_ENTRIES = ("train_dataset", "val_datasets", "test_datasets")
# Options that choose what a trial builds: each combination the sweep can draw is built and run on a batch.
BUILT_CHOICES = ("model_name", "dataset", *DATASET_ENTRIES)
# A product of choices beyond this many combinations is checked choice by choice, with the others as given.
MOST_COMBINATIONS = 16
SEARCH_SPACE_ATTRIBUTE = "sweep_file"


def replaced_entries(where: str, entries: dict[str, Any], given: frozenset[str]) -> frozenset[str]:
    """The per-stage dataset options a swept `dataset` replaces in each trial; one given by the user is refused, as
    it would override the swept value and every trial would train on the same data."""
    if "dataset" not in entries:
        return frozenset()
    overriding = [name for name in DATASET_ENTRIES if name in given and name not in entries]
    if overriding:
        raise UserError(f"{where}: dataset is swept, but --{overriding[0]} overrides it in every trial: drop "
                        f"--{overriding[0]}, or sweep {overriding[0]} instead of dataset")
    return frozenset(name for name in DATASET_ENTRIES if name not in entries)


def built_combinations(values: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the swept nets and datasets, or each value alone when they are too many."""
    combinations = [dict(zip(values, picked, strict=True)) for picked in itertools.product(*values.values())]
    if len(combinations) <= MOST_COMBINATIONS:
        return combinations
    return [{name: value} for name, choices in values.items() for value in choices]


def check_builds(where: str, values: dict[str, list[Any]], base: dict[str, Any],
                 checked_command: Callable[[list[str]], Command], build_checked: Callable[[Command], Any]) -> None:
    """Build the data and the net of every net and dataset the sweep chooses, and run them on a batch."""
    built = {name: choices for name, choices in values.items() if name in BUILT_CHOICES}
    for combination in built_combinations(built) if built else []:
        try:
            build_checked(checked_command(config_tokens({**base, **combination})))
        except UserError as error:
            shown = ", ".join(f"{name}: {value!r}" for name, value in combination.items())
            raise UserError(f"{where}: {shown} cannot train: {error}") from None


def check_same_search_space(study: optuna.Study, entries: dict[str, Any], where: str) -> None:
    """Record the sweep file's search space in a new study; refuse a study that holds trials of another one."""
    described = json.loads(json.dumps(entries, sort_keys=True, default=str))
    stored = study.user_attrs.get(SEARCH_SPACE_ATTRIBUTE)
    if stored is None:
        earlier = {name for trial in study.get_trials(deepcopy=False) for name in trial.params}
        if earlier - set(entries):
            raise UserError(f"study {study.study_name!r} holds trials that vary {', '.join(sorted(earlier))}, which "
                            f"{where} does not: pass another --study for this search space")
        study.set_user_attr(SEARCH_SPACE_ATTRIBUTE, described)
    elif stored != described:
        changed = sorted(name for name in {*stored, *described} if stored.get(name) != described.get(name))
        raise UserError(f"study {study.study_name!r} was started with another search space ({', '.join(changed)} "
                        f"differ from {where}): pass another --study, or restore the sweep file it was started with")
