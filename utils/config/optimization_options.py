"""The chosen optimizer's and scheduler's parameters as options: --optimizer.NAME and --scheduler.NAME always, and
plain --NAME too where no class of the user's, no option of the template's and not both of them claim the name."""

from dataclasses import replace

from utils.config import value_types as vt
from utils.config.optimizer_choices import SOURCES, TEMPLATE_DEFAULTS
from utils.config.parser import OptionGroup, UserArgumentParser
from utils.config.signature_options import (
    OptionSpec,
    add_option,
    constructor_parameters,
    option_spec,
    plain,
)
from utils.loading.torch_optimizers import ALWAYS_FILLED, FILLED_IN

# The template's own optimizer options: one default for every optimizer, checked as its other options are.
FRAMEWORK_OPTIMIZER_OPTIONS = {
    "lr": (vt.positive_float, 1e-3, "learning rate, the same default for every optimizer"),
    "weight_decay": (vt.non_negative_float, 0.0, "the same default for every optimizer (adamw's own is 0.01)"),
}
# Option names from before the optimizers' and schedulers' options came from their signatures -> their names now.
FORMER_NAMES = {
    "lr": "optimizer.lr", "weight_decay": "optimizer.weight_decay", "momentum": "optimizer.momentum",
    "nesterov": "optimizer.nesterov", "betas": "optimizer.betas", "step_size": "scheduler.step_size",
    "milestones": "scheduler.milestones", "gamma": "scheduler.gamma", "t_0": "scheduler.T_0",
    "t_mult": "scheduler.T_mult", "min_lr": "scheduler.eta_min", "plateau_patience": "scheduler.patience",
    "plateau_factor": "scheduler.factor",
}


def torch_option_specs(cls: type) -> tuple[list[OptionSpec], list[str]]:
    """A torch optimizer's or scheduler's options, less what the template fills in; and the parameters kept as
    they are because the command line cannot give them."""
    filled = ALWAYS_FILLED | set(FILLED_IN.get(cls.__name__, {}))
    defaults = TEMPLATE_DEFAULTS.get(cls.__name__, {})
    specs, kept = [], []
    for parameter in constructor_parameters(cls):
        if parameter.name in filled:
            continue
        spec = option_spec(cls, parameter)
        if spec is None:
            kept.append(parameter.name)
        elif parameter.name in defaults:
            specs.append(replace(spec, default=plain(defaults[parameter.name]), required=False))
        else:
            specs.append(spec)
    return specs, kept


def plain_name_owners(parser: UserArgumentParser, user_classes: list[type]) -> dict[str, str]:
    """Who a plain --NAME already belongs to: a class of the user's, or the template's own options."""
    owners = {name: "is the template's own option" for name in parser.plain_names()}
    for cls in reversed(user_classes):
        owners.update({parameter.name: f"reaches {cls.__name__}" for parameter in constructor_parameters(cls)})
    return owners


def add_optimization_options(parser: UserArgumentParser, optimizer_class: type, scheduler_class: type | None,
                             owners: dict[str, str]) -> None:
    """Add the optimizer's and the scheduler's options, each in a group named after its class."""
    chosen = {"optimizer": (optimizer_class, "torch.optim"), "scheduler": (scheduler_class, "torch.optim.lr_scheduler")}
    specs = {kind: torch_option_specs(cls) if cls else ([], []) for kind, (cls, _) in chosen.items()}
    names = {kind: {spec.name for spec in kind_specs} for kind, (kind_specs, _) in specs.items()}
    for kind, (cls, module) in chosen.items():
        if cls is None:
            continue
        other = "scheduler" if kind == "optimizer" else "optimizer"
        shared = f"is not an option: the {other} has one too (--{other}.NAME)"
        group = parser.option_group(f"{cls.__name__} options ({module}.{cls.__name__}, from its __init__)",
                                    _description(cls, specs[kind][1]))
        for spec in specs[kind][0]:
            owner = owners.get(spec.name) or (shared.replace("NAME", spec.name) if spec.name in names[other] else "")
            ours = " (the template's default)" if spec.name in TEMPLATE_DEFAULTS.get(cls.__name__, {}) else ""
            _add_torch_option(group, kind, spec, owner, ours)
    for name in (names["optimizer"] & names["scheduler"]) - set(owners):
        parser.hints[f"--{name}"] = f"both have {name}: pass --optimizer.{name} or --scheduler.{name}"
    add_former_name_hints(parser, {kind: cls for kind, (cls, _) in chosen.items()})


def add_former_name_hints(parser: UserArgumentParser, chosen: dict[str, type | None]) -> None:
    """Let the error for a former option name say its name now, or that the chosen class has no such parameter."""
    taken = {name for action in parser.options for name in action.option_strings}
    for former, name in FORMER_NAMES.items():
        kind, parameter = name.split(".")
        if f"--{former}" in taken:
            continue
        if f"--{name}" in taken:
            parser.hints[f"--{former}"] = f"did you mean --{name}?"
        elif chosen[kind] is None:
            parser.hints[f"--{former}"] = f"--{former} is for a scheduler: choose one with --scheduler"
        else:
            parser.hints[f"--{former}"] = f"{chosen[kind].__name__} has no parameter {parameter}: see --help"


def _add_torch_option(group: OptionGroup, kind: str, spec: OptionSpec, owner: str, note: str) -> None:
    option_strings = [f"--{kind}.{spec.name}"] + ([] if owner else [f"--{spec.name}"])
    note += f" (plain --{spec.name} {owner})" if owner else ""
    dest = f"{kind}.{spec.name}"
    if kind == "optimizer" and spec.name in FRAMEWORK_OPTIMIZER_OPTIONS:
        check, default, text = FRAMEWORK_OPTIMIZER_OPTIONS[spec.name]
        group.add_argument(*option_strings, dest=dest, type=check, default=default, metavar="FLOAT",
                           help=f"{text}; default: {default}{note}")
        return
    add_option(group, spec, option_strings, dest, note, required=spec.required)


def _description(cls: type, kept: list[str]) -> str | None:
    filled = [f"{name} ({SOURCES[source]})" for name, source in FILLED_IN.get(cls.__name__, {}).items()]
    parts = [f"filled in by the template: {', '.join(filled)}"] if filled else []
    parts += [f"not options, they keep their defaults: {', '.join(kept)}"] if kept else []
    return "; ".join(parts) or None
