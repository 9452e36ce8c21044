"""Sweeping the optimizer or the scheduler: each trial runs with the chosen class's own options and defaults.

The parameters of an optimizer or a scheduler (`optimizer.betas`, `scheduler.step_size`) are options only where
that class is chosen, so a trial takes each option, given or swept, only when its chosen classes have it.
"""

import itertools
from collections.abc import Callable
from typing import Any

from utils.config.command_line import Command
from utils.config.config_files import config_tokens
from utils.config.experiment_options import SWEEP_OPTIONS
from utils.errors import UserError

# The options whose value is a class that brings options of its own, `<option>.<parameter>`.
CLASS_CHOICES = ("optimizer", "scheduler")
# The optimizer and scheduler a trial runs with, as (option, value) pairs: the key of its option names.
Choice = tuple[tuple[str, Any], ...]


def is_class_option(name: str) -> bool:
    """Whether `name` is a parameter of the optimizer or the scheduler, as config.yaml writes it (`optimizer.eps`)."""
    kind, dot, _ = name.partition(".")
    return bool(dot) and kind in CLASS_CHOICES


def choice_key(options: dict[str, Any]) -> Choice:
    """The optimizer and scheduler that `options` choose, as far as they choose them."""
    return tuple((kind, options[kind]) for kind in CLASS_CHOICES if kind in options)


def describe(choice: Choice) -> str:
    """`optimizer: 'sgd', scheduler: 'step_lr'`, for messages."""
    return ", ".join(f"{kind}: {value!r}" for kind, value in choice)


def base_options(command: Command) -> dict[str, Any]:
    """What every trial starts from: the worker's options less the sweep's own, and less the optimizer's and the
    scheduler's parameters it was not given, which each trial's own classes fill in with their defaults."""
    return {name: value for name, value in command.resolved_config().items()
            if name not in SWEEP_OPTIONS and (not is_class_option(name) or name in command.given)}


def fitting(options: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """The options that a run whose option names are `names` has."""
    return {name: value for name, value in options.items() if name in names}


def options_by_choice(where: str, choices: dict[str, list[Any]], base: dict[str, Any],
                      checked_command: Callable[[list[str]], Command]) -> dict[Choice, frozenset[str]]:
    """The option names of a trial, for every combination of the optimizers and schedulers the sweep chooses;
    each combination, with the given parameters it has, is checked as a typed command line would be."""
    neutral = {name: value for name, value in base.items() if not is_class_option(name)}
    given = {name: value for name, value in base.items() if is_class_option(name)}
    found = {}
    for pairs in itertools.product(*([(kind, value) for value in values] for kind, values in choices.items())):
        try:
            names = checked_command(config_tokens({**neutral, **dict(pairs)})).option_names
            if fitting(given, names):
                checked_command(config_tokens({**neutral, **fitting(given, names), **dict(pairs)}))
        except UserError as error:
            raise UserError(f"{where}: {describe(pairs) or 'its command line'} is refused: {error}") from None
        found[pairs] = names
    for name, value in given.items():
        if not any(name in names for names in found.values()):
            raise UserError(f"{where}: --{name} {value} reaches no trial: no {name.partition('.')[0]} the sweep "
                            f"chooses has {name.partition('.')[2]}; drop it")
    return found


def check_plain_name(where: str, name: str, option_names: dict[Choice, frozenset[str]]) -> None:
    """Refuse a plain name that, in some trials, both the optimizer and the scheduler have: it would reach neither."""
    for choice, names in option_names.items():
        owners = [kind for kind in CLASS_CHOICES if f"{kind}.{name}" in names]
        if name not in names and owners:
            raise UserError(f"{where}: {name!r} is a parameter of both the optimizer and the scheduler with "
                            f"{describe(choice)}: write {' or '.join(f'{kind}.{name}' for kind in owners)}")
