"""Parse the command line in two passes: names first, then the options the named classes' signatures add."""

import argparse
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.config import value_types as vt
from utils.config.checkpoint_defaults import (
    check_kept_by_checkpoint,
    check_same_choices,
    check_same_experiment,
    check_same_net,
    check_same_resumed_net,
    checkpoint_run,
    name_defaults,
    outside_fit,
    stored_dataset_names,
)
from utils.config.config_files import config_tokens, load_config, rename_former_keys, without_replaced_keys
from utils.config.dataset_entries import DatasetEntry, stage_entries
from utils.config.experiment_options import FOLD_LABEL
from utils.config.framework_options import add_framework_options, names_where
from utils.config.injected_parameters import check_net_class, describe_injected
from utils.config.optimization_options import FORMER_NAMES, add_optimization_options, plain_name_owners
from utils.config.parser import UserArgumentParser
from utils.config.settings import Settings
from utils.config.signature_options import add_class_options, class_parameter_names
from utils.errors import UserError
from utils.loading.constructor_parameters import constructor_parameters, net_parameters
from utils.loading.module_package import choose_lightning_package
from utils.loading.torch_optimizers import optimizer_class, scheduler_class
from utils.loading.user_classes import available_names, listing, load_class
from utils.shared_names import CONFIG_FILE, fold_folder, monitor_mode_of
from utils.stored_runs.resume_target import resume_target

# The default job's training (ExampleNet on the MNIST example, none of these given): in its 3 epochs a one-cycle
# schedule peaking at 4e-3 with label smoothing beats Adam's constant 1e-3 (README, Quick start, has the figures).
EXAMPLE_RECIPE = {"scheduler": "one_cycle_lr", "optimizer.lr": 0.004, "label_smoothing": 0.1}
RECIPE_KEYS = ("scheduler", "optimizer", "optimizer.lr", "lr", "label_smoothing", "loss")
HELP = {"-h", "--help"}
NOT_SAVED = set(names_where(saved=False))


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
    option_names: frozenset[str] = frozenset()  # every name an option goes by, without --
    # The options given on the command line, in --config or in the resumed run's config.yaml, by destination.
    given: frozenset[str] = frozenset()
    # Those of them this start states itself, on the command line or in --config; not the resumed run's own.
    stated: frozenset[str] = frozenset()
    left_out: frozenset[str] = frozenset()  # options the chosen model ignores: config.yaml leaves them out
    injected_nets: dict[str, type] = field(default_factory=dict)  # an own module's net parameters' model/ classes
    spelled: dict[str, str] = field(default_factory=dict)  # the stated options' names as typed, by destination

    @property
    def settings(self) -> Settings:
        """The framework's settings, grouped and typed."""
        return Settings.from_options(self.options)

    def typed(self, destination: str) -> str:
        """The option as the user typed it (`--lr`), or as `--destination`."""
        return self.spelled.get(destination, f"--{destination}")

    @property
    def val_labels(self) -> list[str]:
        """The val sets' labels, in order; a cross-validation's own fold comes first."""
        labels = [entry.label for entry in self.val_entries]
        return [FOLD_LABEL, *labels] if self.options.get("folds") else labels

    @property
    def test_labels(self) -> list[str]:
        """The test sets' labels, in order."""
        return [entry.label for entry in self.test_entries]

    def net_arguments(self) -> dict[str, Any]:
        """The arguments the chosen model/ class is built with: the values its signature asks for and the run has."""
        return self.arguments_of(self.model_class)

    def arguments_of(self, cls: type) -> dict[str, Any]:
        """The arguments `cls` is built with: the values its signature asks for and the run has."""
        values = self.class_values()
        return {parameter.name: values[parameter.name] for parameter in constructor_parameters(cls)
                if values.get(parameter.name) is not None}

    def injected(self) -> dict[str, Any]:
        """What an own module's net, optimizer and scheduler parameters are given, as plain values."""
        nets = {name: self.arguments_of(cls) for name, cls in self.injected_nets.items()}
        return describe_injected(self.model_class, self.options, nets)

    def class_values(self) -> dict[str, Any]:
        """The values of the net's and datasets' constructor parameters, by parameter name."""
        names = class_parameter_names([self.model_class, *self.injected_nets.values(), *self.dataset_classes.values()])
        return {name: self.options[name] for name in names if name in self.options}

    def resolved_config(self) -> dict[str, Any]:
        """The whole configuration as config.yaml stores it: rerunnable with --config."""
        config = {key: value for key, value in self.options.items() if key not in NOT_SAVED | self.left_out}
        config["train_dataset"] = self.train_entry.to_text()
        config["val_datasets"] = [entry.to_text() for entry in self.val_entries] or None
        config["test_datasets"] = [entry.to_text() for entry in self.test_entries]
        return config


def experiment_name(names: argparse.Namespace) -> str:
    """The run folder group: --experiment, or `<model_name>-<train label>`."""
    # torchvision:resnet18 -> torchvision_resnet18: Windows refuses a colon in a folder name.
    return names.experiment or f"{names.model_name.replace(':', '_')}-{stage_entries(names)[0].label}"


def example_recipe(names: argparse.Namespace, argv: list[str], config: dict[str, Any]) -> dict[str, Any]:
    """EXAMPLE_RECIPE for the default job's training, when it is ExampleNet on the MNIST example and neither the
    command line nor a config file sets the schedule or the optimizer; else nothing."""
    trains_on = (names.dataset, names.train_dataset, names.val_datasets)  # the test sets change no training
    if names.model_name != "example_net" or any(trains_on) or names.mode != "fit" or names.resume:
        return {}
    return {} if stated_names(argv, config) & set(RECIPE_KEYS) else dict(EXAMPLE_RECIPE)


def stated_names(argv: list[str], config: dict[str, Any]) -> set[str]:
    """The option names the command line and a config file state, as typed (without --)."""
    return {word.removeprefix("--").split("=", 1)[0] for word in argv if word.startswith("--")} | set(config)


def parse_names(argv: list[str], config: dict[str, Any]) -> argparse.Namespace:
    """The options that choose the classes, from the config file's values and the command line."""
    names_parser = UserArgumentParser(add_help=False, allow_abbrev=False)
    add_framework_options(names_parser, first_only=True)
    return names_parser.parse_known_args(config_tokens(config) + argv)[0]


def compare_request(argv: list[str]) -> tuple[list[str], str | None] | None:
    """The run folders `--compare` names and the `--csv` file, or None when the command runs something."""
    names = parse_names(argv, {})
    if names.csv and not names.compare:
        raise UserError(f"--csv {names.csv} writes the table of --compare: add --compare Logs/<experiment>")
    return (names.compare, names.csv) if names.compare else None


def add_net_name_options(parser: UserArgumentParser, model_class: type) -> None:
    """The `--<parameter> NAME` options that choose an own module's nets."""
    parameters = net_parameters(model_class)
    if parameters:
        group = parser.option_group(f"{model_class.__name__} nets (injected: a file of model/ each, as --model_name)")
        for name in parameters:
            group.add_argument(f"--{name}", type=vt.non_empty_text, metavar="NAME",
                               help=f"the net {model_class.__name__}({name}) is given; its options join the others")


def injected_nets(model_class: type, mode: str, argv: list[str], config: dict[str, Any]) -> dict[str, type]:
    """The model/ classes an own module's net parameters are given by `--<parameter> NAME`, by parameter."""
    parameters = net_parameters(model_class)
    if not parameters:
        return {}
    parser = UserArgumentParser(add_help=False, allow_abbrev=False)
    add_net_name_options(parser, model_class)
    given = vars(parser.parse_known_args(config_tokens(config) + argv)[0])
    nets = {}
    for name, parameter in parameters.items():
        if given[name] is not None:
            nets[name] = load_class("model", given[name])
            check_net_class(model_class, name, given[name], nets[name])
        elif parameter.default is inspect.Parameter.empty and mode == "fit" and not HELP & set(argv):
            raise UserError(f"{model_class.__name__}({name}) takes a net: pass --{name} NAME, a file of model/ "
                            f"({', '.join(available_names('model'))}); its options follow as any net's do")
    return nets


def full_parser(model_class: type, dataset_classes: list[type], names: argparse.Namespace,
                nets: list[type]) -> UserArgumentParser:
    """The parser of every option: the template's, the classes', the optimizer's and the scheduler's."""
    parser = UserArgumentParser(prog="main.py", allow_abbrev=False,
                                description="Train, validate, test or predict with a net from model/ "
                                            "on datasets from data/.")
    add_framework_options(parser)
    add_net_name_options(parser, model_class)
    add_class_options(parser, [model_class, *nets, *dataset_classes], parser.destinations())
    add_optimization_options(parser, optimizer_class(names.optimizer), scheduler_class(names.scheduler),
                             plain_name_owners(parser, [model_class, *nets, *dataset_classes]))
    return parser


def unknown_key_message(key: str, config_file: str | None, resume_dir: Path | None) -> str:
    """What a config key that no option of this run takes means: a typo in --config, or a resumed run's net or
    datasets that changed since it was written."""
    if config_file or resume_dir is None:
        return f"config file {config_file} has an unknown key {key!r}: remove it or fix its spelling"
    return (f"--resume {resume_dir}: its config.yaml sets {key!r}, which no option of this run takes (a net or "
            f"dataset other than the run's own?): resume with the run's own net and datasets, or start a new run")


def parse_command_line(argv: list[str]) -> Command:
    """Parse `argv` into a Command, or raise UserError; prints help or the listing and exits when asked."""
    names = parse_names(argv, {})
    config = load_config(names.config) if names.config else {}
    file_keys = set(config)
    resume_dir = resume_checkpoint = None
    stored: dict[str, Any] = {}
    if names.resume:
        # The resumed run's own configuration comes first; --config and the command line can change it.
        names = parse_names(argv, config)
        resume_dir, resume_checkpoint = resume_target(names.resume, names.log_dir, experiment_name(names))
        if resume_checkpoint is None and names.fold is not None:
            raise UserError(f"--resume {names.resume} is a whole cross-validation: drop --fold, or resume one fold "
                            f"with --resume {resume_dir / fold_folder(names.fold)}")
        stored = load_config(str(resume_dir / CONFIG_FILE))
        check_same_experiment(resume_dir, stored, names.experiment)
        check_same_choices(resume_dir, stored, names, stated_names(argv, config))
        config = {**stored, **config}
        check_same_resumed_net(resume_dir, stored, parse_names(argv, config).model_name)
    config = without_replaced_keys(config, argv)
    names = parse_names(argv, config)
    if names.list:
        print(listing())
        sys.exit(0)
    # validate, test and predict default to what the checkpoint's run chose; the config file and command line win.
    trained = checkpoint_run(names.ckpt) if names.ckpt and names.mode != "fit" and not names.resume else {}
    defaults = name_defaults(trained, [*argv, *(f"--{key}" for key in config)])
    defaults.update(example_recipe(names, argv, config))
    names = parse_names(argv, {**defaults, **config})
    check_same_net(names.ckpt, trained, names.model_name)
    train, val, test = stage_entries(names)
    model_class = load_class("model", names.model_name)
    choose_lightning_package(model_class, f"model/{names.model_name}.py")
    nets = injected_nets(model_class, names.mode, argv, config)
    dataset_classes = {entry.name: load_class("data", entry.name) for entry in [train, *val, *test]}
    kept = stored_dataset_names(defaults)
    kept_classes = [model_class, *(cls for name, cls in dataset_classes.items() if name in kept)]
    # The constructor arguments of the checkpoint's run: its net's, and its datasets' that this run still uses.
    defaults.update({name: trained[name] for name in class_parameter_names(kept_classes) if name in trained})
    parser = full_parser(model_class, list(dataset_classes.values()), names, list(dict.fromkeys(nets.values())))
    known = parser.plain_names()
    file_config = rename_former_keys({key: value for key, value in config.items() if key in file_keys}, known,
                                     FORMER_NAMES)
    config = rename_former_keys(config, known, FORMER_NAMES)
    for key in config:
        if key not in known:
            raise UserError(unknown_key_message(key, names.config if key in file_keys else None, resume_dir))
    tokens = config_tokens({**defaults, **config}) + argv
    options, given = vars(parser.parse_args(tokens)), parser.given(tokens)
    stated = parser.given(config_tokens(file_config) + argv)
    spelled = {**{destination: f"{name} (in --config {names.config})" for destination, name in
                  parser.spellings(config_tokens(file_config)).items()}, **parser.spellings(argv)}
    if resume_dir is not None:
        check_kept_by_checkpoint(resume_dir, stored, options, stated, spelled)
    if "monitor_mode" not in given:
        options["monitor_mode"] = monitor_mode_of(options["monitor"])
    left_out = outside_fit(options, stated) if options["mode"] != "fit" else frozenset()
    return Command(options, model_class, train, val, test, dataset_classes, experiment_name(names),
                   resume_dir, resume_checkpoint, frozenset(known), given, stated, left_out, injected_nets=nets,
                   spelled=spelled)
