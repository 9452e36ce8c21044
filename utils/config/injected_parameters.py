"""What an own LightningModule's injected parameters are given: a net of model/ chosen by `--<parameter> NAME`, and
the run's --optimizer and --scheduler, each described by plain values a checkpoint can store to rebuild it.

An optimizer or a scheduler is handed over as `functools.partial` of the chosen class with its options, as Hydra's
`_partial_: true` does: the module calls it with `params=...` or `optimizer=...`.
"""

import inspect
from typing import Any

import torch

from utils.config.settings import prefixed
from utils.errors import UserError
from utils.loading.constructor_parameters import NET, OPTIMIZER, SCHEDULER, injected_kinds
from utils.loading.torch_optimizers import FILLED_IN, scheduler_class


def describe_injected(cls: type, options: dict[str, Any], net_arguments: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Plain values saying what to inject into each parameter of `cls`: a net's name and arguments, an optimizer's or
    a scheduler's name and arguments (None for --scheduler none); a net parameter left unnamed keeps its default."""
    described: dict[str, Any] = {}
    for name, kind in injected_kinds(cls).items():
        if kind == NET:
            if options.get(name) is not None:
                described[name] = {"kind": NET, "model_name": options[name], "model_kwargs": net_arguments[name]}
        elif kind == OPTIMIZER:
            described[name] = {"kind": OPTIMIZER, "name": options["optimizer"],
                               "arguments": prefixed(options, "optimizer")}
        else:
            described[name] = scheduler_description(cls, options)
    return described


def scheduler_description(cls: type, options: dict[str, Any]) -> dict[str, Any] | None:
    """The scheduler's name and arguments, with what the template fills in that it knows before the Trainer exists."""
    chosen = scheduler_class(options["scheduler"])
    if chosen is None:
        return None
    known = {"max_epochs": options.get("max_epochs") or 1, "lr": options.get("optimizer.lr"),
             "monitor_mode": options.get("monitor_mode")}
    filled = FILLED_IN.get(chosen.__name__, {})
    if "total_steps" in filled.values():
        raise UserError(f"--scheduler {options['scheduler']} needs the run's number of optimizer steps, which "
                        f"{cls.__name__} is handed before training knows it: choose another scheduler, or build "
                        f"it in {cls.__name__}.configure_optimizers")
    arguments = {**prefixed(options, "scheduler"), **{name: known[source] for name, source in filled.items() if source}}
    return {"kind": SCHEDULER, "name": options["scheduler"], "arguments": arguments}


def check_net_class(owner: type, parameter: str, name: str, net_class: type) -> None:
    """Refuse a `--<parameter> NAME` whose class is not a torch.nn.Module."""
    if not (inspect.isclass(net_class) and issubclass(net_class, torch.nn.Module)):
        raise UserError(f"--{parameter} {name}: {owner.__name__}({parameter}) takes a torch.nn.Module, and "
                        f"model/{name}.py's {getattr(net_class, '__name__', net_class)} is not one: name a net")
