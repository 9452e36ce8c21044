"""Parse the command line in two passes: names first, then the options the named classes' signatures add."""

import argparse
import difflib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.dataset_entries import DatasetEntry, parse_entries, parse_entry
from utils.errors import UserError
from utils.framework_options import add_framework_options, add_name_options
from utils.registry import available_names, first_docstring_line, load_class
from utils.resume import resume_target
from utils.signature_options import add_class_options

MNIST_DEFAULTS = {
    "train_dataset": "example_train_data",
    "val_datasets": ["clean=example_eval_data", "noisy=example_eval_data:noise_std=1.0"],
    "test_datasets": ["example_test_data"],
}
NOT_SAVED = {"config", "list", "resume"}


class UserArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are UserErrors, shown by main as one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Raise instead of printing usage and exiting, suggesting the closest option for an unknown one."""
        hint = ""
        unknown = re.match(r"unrecognized arguments: (--[^\s=]+)", message)
        if unknown:
            names = [name for action in self._actions for name in action.option_strings]
            close = difflib.get_close_matches(unknown.group(1), names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
        raise UserError(f"{message}{hint} (see python main.py --help)")


@dataclass
class Command:
    """Everything the command line resolved to."""

    options: dict[str, Any]
    model_class: type
    train_entry: DatasetEntry
    val_entries: list[DatasetEntry]
    test_entries: list[DatasetEntry]
    dataset_classes: dict[str, type]
    experiment: str
    resume_dir: Path | None = None
    resume_checkpoint: Path | None = None

    def resolved_config(self) -> dict[str, Any]:
        """The whole configuration as config.yaml stores it: rerunnable with --config."""
        config = {key: value for key, value in self.options.items() if key not in NOT_SAVED}
        config["train_dataset"] = self.train_entry.to_text()
        config["val_datasets"] = [entry.to_text() for entry in self.val_entries]
        config["test_datasets"] = [entry.to_text() for entry in self.test_entries]
        return config


def load_config(path: str) -> dict[str, Any]:
    """Read a YAML mapping of option defaults."""
    import yaml

    file = Path(path)
    if file.is_dir():
        raise UserError(f"config file {path} is a folder: pass the path of a YAML file")
    if not file.is_file():
        raise UserError(f"config file {path} does not exist: pass the path of a YAML file")
    try:
        config = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise UserError(f"config file {path} is not UTF-8 text: save it as a UTF-8 YAML file") from None
    except OSError as error:
        raise UserError(f"config file {path} cannot be read ({error.strerror}): check its permissions") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise UserError(f"config file {path} is not valid YAML{where}: {problem}") from None
    if not isinstance(config, dict):
        raise UserError(f"config file {path} must hold a mapping of option: value")
    return config


def config_tokens(config: dict[str, Any]) -> list[str]:
    """Turn config values into command-line words, so they are checked exactly as typed options are."""
    tokens: list[str] = []
    for key, value in config.items():
        if value is None:
            continue
        if isinstance(value, bool):
            tokens.append(f"--{key}" if value else f"--no-{key}")
        elif isinstance(value, list) and key == "devices":
            tokens += [f"--{key}", ",".join(map(str, value))]
        elif isinstance(value, list):
            tokens += [f"--{key}", *map(str, value)]
        else:
            tokens += [f"--{key}", str(value)]
    return tokens


def stage_entries(names: argparse.Namespace) -> tuple[DatasetEntry, list[DatasetEntry], list[DatasetEntry]]:
    """Resolve the train, val and test entries from --dataset, the per-stage options and the MNIST defaults."""
    if names.dataset:
        shorthand = [names.dataset]
        train = parse_entry(names.train_dataset or names.dataset)
        val = parse_entries(names.val_datasets or shorthand, "--val_datasets")
        test = parse_entries(names.test_datasets or shorthand, "--test_datasets")
    elif names.train_dataset:
        if not names.val_datasets:
            raise UserError("--train_dataset needs --val_datasets too (or use --dataset NAME for all stages)")
        train = parse_entry(names.train_dataset)
        val = parse_entries(names.val_datasets, "--val_datasets")
        test = parse_entries(names.test_datasets or names.val_datasets, "--test_datasets")
    else:
        train = parse_entry(MNIST_DEFAULTS["train_dataset"])
        val = parse_entries(names.val_datasets or MNIST_DEFAULTS["val_datasets"], "--val_datasets")
        test = parse_entries(names.test_datasets or MNIST_DEFAULTS["test_datasets"], "--test_datasets")
    return train, val, test


def experiment_name(names: argparse.Namespace) -> str:
    """The run folder group: --experiment, or `<model_name>-<train label>`."""
    return names.experiment or f"{names.model_name}-{stage_entries(names)[0].label}"


def listing() -> str:
    """The available nets and datasets, each with the first line of its docstring."""
    lines = []
    for package, title in (("model", "nets (--model_name)"), ("data", "datasets (--dataset, entries)")):
        lines.append(f"{title}:")
        for name in available_names(package):
            try:
                summary = first_docstring_line(load_class(package, name))
            except UserError as error:
                summary = f"(cannot load: {error})"
            lines.append(f"  {name:<24} {summary}")
    return "\n".join(lines)


def parse_command_line(argv: list[str]) -> Command:
    """Parse `argv` into a Command, or raise UserError; prints help or the listing and exits when asked."""
    names_parser = UserArgumentParser(add_help=False, allow_abbrev=False)
    add_name_options(names_parser)
    names, _ = names_parser.parse_known_args(argv)
    config = load_config(names.config) if names.config else {}
    resume_dir = resume_checkpoint = None
    if names.resume:
        # The resumed run's own configuration comes first; --config and the command line can change it.
        names, _ = names_parser.parse_known_args(config_tokens(config) + argv)
        resume_dir, resume_checkpoint = resume_target(names.resume, names.log_dir, experiment_name(names))
        config = {**load_config(str(resume_dir / "config.yaml")), **config}
    argv = config_tokens(config) + argv
    names, _ = names_parser.parse_known_args(argv)
    if names.list:
        print(listing())
        sys.exit(0)
    train, val, test = stage_entries(names)
    model_class = load_class("model", names.model_name)
    dataset_classes = {entry.name: load_class("data", entry.name) for entry in [train, *val, *test]}

    parser = UserArgumentParser(prog="main.py", allow_abbrev=False,
                                description="Train, validate, test or predict with a net from model/ "
                                            "on datasets from data/.")
    add_name_options(parser)
    add_framework_options(parser)
    framework_options = {action.dest for action in parser._actions}
    add_class_options(parser, [model_class, *dataset_classes.values()], framework_options)
    known = {action.dest for action in parser._actions}
    for key in config:
        if key not in known:
            raise UserError(f"config file {names.config} has an unknown key {key!r}: remove it or fix its spelling")
    options = vars(parser.parse_args(argv))
    return Command(options, model_class, train, val, test, dataset_classes, experiment_name(names),
                   resume_dir, resume_checkpoint)
