"""The optimizer's parameter groups of a net (its own `param_groups()`, or --lr_groups patterns over its parameter
names) and the parameters --freeze names, each checked before any run folder exists."""

from fnmatch import fnmatchcase
from typing import Any

from torch import nn

from utils.config.settings import OptimizationSettings
from utils.config.value_types import split_lr_group
from utils.errors import UserError

REST_GROUP = "rest"  # the --lr_groups group of the parameters no pattern matches
SHOWN_NAMES = 6


def some_names(net: nn.Module) -> str:
    """A few of the net's parameter names, for an error line."""
    names = [name for name, _ in net.named_parameters()]
    return ", ".join(names[:SHOWN_NAMES]) + (", ..." if len(names) > SHOWN_NAMES else "")


def matching_names(net: nn.Module, option: str, pattern: str) -> list[str]:
    """The names of the net's parameters that the glob `pattern` matches; none is a UserError."""
    names = [name for name, _ in net.named_parameters() if fnmatchcase(name, pattern)]
    if not names:
        raise UserError(f"--{option} {pattern}: matches no parameter of {type(net).__name__}, whose parameters are "
                        f"named {some_names(net)}: use glob patterns over these names, such as 'layers.0.*'")
    return names


def pattern_groups(net: nn.Module, entries: list[str]) -> list[dict[str, Any]]:
    """One group per --lr_groups entry, named by its pattern (the first match wins), and the rest at the
    optimizer's lr."""
    rates = dict(split_lr_group(entry) for entry in entries)
    members: dict[str, list[nn.Parameter]] = {pattern: [] for pattern in rates}
    rest = []
    for name, parameter in net.named_parameters():
        pattern = next((pattern for pattern in rates if fnmatchcase(name, pattern)), None)
        (rest if pattern is None else members[pattern]).append(parameter)
    for pattern, parameters in members.items():
        if not parameters:
            matching_names(net, "lr_groups", pattern)
            raise UserError(f"--lr_groups {pattern}: every parameter it matches is taken by an earlier pattern (the "
                            f"first match wins): drop it, or put it first")
    groups = [{"params": members[pattern], "lr": rate, "name": pattern} for pattern, rate in rates.items()]
    return groups + ([{"params": rest, "name": REST_GROUP}] if rest else [])


def own_groups(net: nn.Module) -> list[dict[str, Any]]:
    """The groups the net's `param_groups()` returns, each named (`pg1`, ... when it names none), checked: every
    trainable parameter in exactly one group."""
    net_name = type(net).__name__
    names = {id(parameter): name for name, parameter in net.named_parameters()}
    groups, owner = [], {}
    for number, group in enumerate(net.param_groups(), start=1):
        if not isinstance(group, dict) or "params" not in group:
            raise UserError(f"{net_name}.param_groups(): group {number} is not a dict with 'params', as torch.optim "
                            f"takes: return a list of {{'params': [...], 'lr': ...}}")
        group = {**group, "params": list(group["params"]), "name": str(group.get("name", f"pg{number}"))}
        for parameter in group["params"]:
            name = names.get(id(parameter))
            if name is None:
                raise UserError(f"{net_name}.param_groups(): group {group['name']} holds a tensor that is not a "
                                f"parameter of the net: give each group the net's own parameters")
            if name in owner:
                raise UserError(f"{net_name}.param_groups(): parameter {name} is in groups {owner[name]} and "
                                f"{group['name']}: put each parameter in one group")
            owner[name] = group["name"]
        groups.append(group)
    left_out = [name for name, parameter in net.named_parameters() if parameter.requires_grad and name not in owner]
    if left_out:
        raise UserError(f"{net_name}.param_groups(): the trainable parameters {', '.join(left_out[:SHOWN_NAMES])} "
                        f"are in no group, so they would not train: add them to a group, or set requires_grad=False")
    if len({group["name"] for group in groups}) < len(groups):
        raise UserError(f"{net_name}.param_groups(): two groups have one name: give each group its own 'name'")
    return groups


def optimizer_groups(net: nn.Module, settings: OptimizationSettings) -> list[dict[str, Any]] | None:
    """The parameter groups the optimizer gets, or None for one group of every parameter; a group that names no
    lr or weight_decay takes the optimizer's."""
    own = callable(getattr(net, "param_groups", None))
    if own and settings.lr_groups:
        raise UserError(f"--lr_groups: {type(net).__name__} defines param_groups(), which sets its groups itself: "
                        f"drop --lr_groups, or change param_groups()")
    if own:
        return own_groups(net)
    return pattern_groups(net, settings.lr_groups) if settings.lr_groups else None


def describe_groups(groups: list[dict[str, Any]], settings: OptimizationSettings) -> list[dict[str, Any]]:
    """Plain values for the run's records: each group's name, lr, weight_decay and number of parameters."""
    default_decay = settings.optimizer_arguments.get("weight_decay")
    return [{"name": group["name"], "lr": group.get("lr", settings.lr),
             "weight_decay": group.get("weight_decay", default_decay),
             "parameters": sum(parameter.numel() for parameter in group["params"])} for group in groups]


def frozen_names(net: nn.Module, settings: OptimizationSettings) -> set[str]:
    """The names of the parameters --freeze matches, checked: each pattern matches, something still trains, and
    --unfreeze_at_epoch comes with --freeze."""
    if settings.unfreeze_at_epoch is not None and not settings.freeze:
        raise UserError("--unfreeze_at_epoch: nothing is frozen to thaw: add --freeze PATTERN, or drop "
                        "--unfreeze_at_epoch")
    frozen = {name for pattern in settings.freeze or [] for name in matching_names(net, "freeze", pattern)}
    trainable = {name for name, parameter in net.named_parameters() if parameter.requires_grad}
    if frozen and trainable <= frozen:
        raise UserError(f"--freeze {' '.join(settings.freeze)}: freezes every trainable parameter of "
                        f"{type(net).__name__}, so nothing would train: freeze fewer")
    return frozen
