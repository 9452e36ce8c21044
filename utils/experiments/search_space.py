"""A sweep file: the search space over any option, checked before any trial runs, then sampled by Optuna."""

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna

from utils.config.command_line import Command
from utils.config.config_files import config_tokens, load_config
from utils.config.framework_options import names_where
from utils.errors import UserError, main_command
from utils.experiments.class_choices import (
    CLASS_CHOICES,
    Choice,
    check_plain_name,
    choice_key,
    fitting,
    options_by_choice,
)
from utils.experiments.sweep_checks import check_builds, replaced_entries
from utils.loading.torch_optimizers import optimizer_classes, scheduler_classes

RANGE_KEYS = ("low", "high", "log", "step")
# What a trial cannot vary: where and how runs are made, rather than what one run trains.
NOT_SWEPT = set(names_where(swept=False))
Number = int | float


@dataclass(frozen=True)
class Dimension:
    """One option the sweep varies: a choice among values, or an int or float range."""

    name: str
    choices: tuple[Any, ...] = ()
    low: Number = 0
    high: Number = 0
    log: bool = False
    step: Number | None = None

    def candidates(self) -> list[Any]:
        """The values checked before any trial runs: every choice, or both ends of the range and one step."""
        if self.choices:
            return list(self.choices)
        # A step's first value too: a fractional step on an integer option is refused with it.
        return [self.low, self.high, *([self.low + self.step] if self.step else [])]

    def sample(self, trial: optuna.Trial) -> Any:
        """The trial's value, drawn by the study's sampler."""
        if self.choices:
            return trial.suggest_categorical(self.name, list(self.choices))
        if all(isinstance(value, int) for value in (self.low, self.high, self.step or 1)):
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)


@dataclass(frozen=True)
class SearchSpace:
    """The options a sweep varies, those it fixes for every trial, and the option names of each optimizer and
    scheduler it may choose."""

    dimensions: tuple[Dimension, ...]
    fixed: dict[str, Any]
    option_names: dict[Choice, frozenset[str]]
    replaced: frozenset[str] = frozenset()  # the worker's options a swept option replaces in each trial
    entries: dict[str, Any] | None = None  # the sweep file as written, recorded in the study

    def trial_options(self, trial: optuna.Trial, base: dict[str, Any]) -> dict[str, Any]:
        """Every option of the trial's run: `base`, then what the sweep sets, each where the trial's optimizer and
        scheduler have it (their parameters are sampled only for the trials that choose them)."""
        chosen = {**{name: value for name, value in self.fixed.items() if name in CLASS_CHOICES},
                  **{dimension.name: dimension.sample(trial) for dimension in self.dimensions
                     if dimension.name in CLASS_CHOICES}}
        names = self.option_names[choice_key(chosen)]
        sampled = {dimension.name: dimension.sample(trial) for dimension in self.dimensions
                   if dimension.name in names and dimension.name not in CLASS_CHOICES}
        kept = {name: value for name, value in base.items() if name not in self.replaced}
        return {**fitting({**kept, **self.fixed}, names), **chosen, **sampled}


def as_number(value: Any) -> Number | None:
    """A YAML number, or a string YAML left unread such as 1e-4; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    for kind in (int, float):
        try:
            return kind(value)
        except (TypeError, ValueError):
            continue
    return None


def parse_range(where: str, name: str, spec: dict[str, Any]) -> Dimension:
    """A `{low, high, log, step}` mapping as a range, refusing one Optuna could not sample."""
    unknown = sorted(set(spec) - set(RANGE_KEYS))
    if unknown:
        raise UserError(f"{where}: {name}: a range takes low, high, log and step, not {unknown[0]!r}")
    low, high, step = as_number(spec.get("low")), as_number(spec.get("high")), as_number(spec.get("step"))
    log = spec.get("log", False)
    if low is None or high is None:
        raise UserError(f"{where}: {name}: a range needs numbers low and high, as in {{low: 0.0001, high: 0.1}}")
    if not low < high:
        raise UserError(f"{where}: {name}: low {low} must be below high {high}")
    if not isinstance(log, bool):
        raise UserError(f"{where}: {name}: log is true or false, not {log!r}")
    if "step" in spec and (step is None or step <= 0):
        raise UserError(f"{where}: {name}: step must be a number above 0, not {spec['step']!r}")
    if log and step is not None:
        raise UserError(f"{where}: {name}: log and step do not combine: Optuna samples on a log scale or in steps")
    if log and low <= 0:
        raise UserError(f"{where}: {name}: a log range needs low above 0, not {low}")
    return Dimension(name, low=low, high=high, log=log, step=step)


def parse_dimension(where: str, name: str, spec: Any) -> Dimension | None:
    """A list as a choice, a mapping as a range; None for a single value, which the sweep fixes."""
    if isinstance(spec, dict):
        return parse_range(where, name, spec)
    if not isinstance(spec, list):
        return None
    if not spec:
        raise UserError(f"{where}: {name}: a choice needs at least one value")
    for choice in spec:
        if choice is not None and not isinstance(choice, (bool, int, float, str)):
            raise UserError(f"{where}: {name}: choices are single values (numbers, text, true or false), "
                            f"not {choice!r}")
    return Dimension(name, choices=tuple(spec))


def check_name(where: str, name: str, known: frozenset[str], choices: dict[str, list[Any]]) -> None:
    """Refuse an option name no trial has, or one a sweep cannot vary."""
    if name in ("monitor", "monitor_mode"):
        raise UserError(f"{where}: --{name} cannot vary: trials are compared by one monitor value; set it on the "
                        f"command line")
    if name in NOT_SWEPT:
        raise UserError(f"{where}: --{name} is not an option a trial can vary: set it on the command line")
    if name not in known:
        close = difflib.get_close_matches(name, sorted(known - NOT_SWEPT), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        kind, _, parameter = name.partition(".")
        if kind in CLASS_CHOICES and parameter:
            hint = class_parameter_hint(kind, parameter, known)
        scope = "; ".join(f"{kind} {', '.join(map(str, values))}" for kind, values in choices.items())
        raise UserError(f"{where}: {name!r} is not an option of {f'any trial ({scope})' if scope else 'this run'}"
                        f"{hint}: {main_command()} --model_name ... --help lists them")


def class_parameter_hint(kind: str, parameter: str, known: frozenset[str]) -> str:
    """For `<kind>.<parameter>`: the closest parameter of the same kind, or the torch classes that have it."""
    close = difflib.get_close_matches(parameter, [name.partition(".")[2] for name in known
                                                  if name.startswith(f"{kind}.")], n=1)
    if close:
        return f" (did you mean {kind}.{close[0]}?)"
    classes = optimizer_classes() if kind == "optimizer" else scheduler_classes()
    having = [name for name, cls in classes.items() if parameter in inspect.signature(cls.__init__).parameters]
    if not having:
        return f" (no {kind} of torch has a parameter {parameter})"
    return f" (the {kind} of each trial has no {parameter}: choose one that has, {kind}: [{', '.join(having)}])"


def class_choices(where: str, entries: dict[str, Any]) -> dict[str, list[Any]]:
    """The optimizers and schedulers the sweep file chooses among, or fixes."""
    choices = {}
    for kind in CLASS_CHOICES:
        if kind in entries:
            dimension = parse_dimension(where, kind, entries[kind])
            choices[kind] = dimension.candidates() if dimension else [entries[kind]]
    return choices


def load_search_space(command: Command, base: dict[str, Any], checked_command: Callable[[list[str]], Command],
                      build_checked: Callable[[Command], Any] | None = None) -> SearchSpace:
    """Read and check the sweep file: names, ranges, and every choice and range end through the run's own checks,
    each with an optimizer and a scheduler that have it; the nets and datasets it chooses built on a batch."""
    path = command.options["sweep"]
    where = f"sweep file {path}"
    entries = load_config(path, kind="sweep file")
    if not entries:
        raise UserError(f"{where} varies no option: give option: [choices] or option: {{low: ..., high: ...}}")
    replaced = replaced_entries(where, entries, command.given)
    base = {name: value for name, value in base.items() if name not in replaced}
    choices = class_choices(where, entries)
    option_names = options_by_choice(where, choices, base, checked_command)
    dimensions, fixed = [], {}
    for name, spec in entries.items():
        check_name(where, str(name), frozenset().union(*option_names.values()), choices)
        check_plain_name(where, str(name), option_names)
        dimension = parse_dimension(where, name, spec)
        if dimension is None:
            fixed[name] = spec
        else:
            dimensions.append(dimension)
    for name, value in [*((d.name, value) for d in dimensions for value in d.candidates()), *fixed.items()]:
        if name in CLASS_CHOICES:
            continue
        choice, names = next((choice, names) for choice, names in option_names.items() if name in names)
        try:
            checked_command(config_tokens({**fitting(base, names), **dict(choice), name: value}))
        except UserError as error:
            raise UserError(f"{where}: {name}: {value!r} is refused: {error}") from None
    if build_checked is not None:
        values = {**{name: [value] for name, value in fixed.items()}, **{d.name: d.candidates() for d in dimensions}}
        check_builds(where, values, {**base, **fixed}, checked_command, build_checked)
    return SearchSpace(tuple(dimensions), fixed, option_names, replaced, entries)
