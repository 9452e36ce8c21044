"""Which Lightning package a run uses, read from the user's class without importing Lightning.

`lightning.pytorch` and `pytorch_lightning` are the same code under two names, but two class hierarchies: a Trainer of
one refuses a module, datamodule or callback of the other. A run takes the package of the user's own LightningModule
(`pytorch_lightning` for a plain net) and records it in the environment before any framework file imports Lightning,
so DDP's ranks and the child runs of a sweep or a cross-validation take it too.
"""

import inspect
import os
import sys

import torch

from utils.errors import UserError

PACKAGE_VARIABLE = "TEMPLATE_LIGHTNING_PACKAGE"
DEFAULT_PACKAGE = "pytorch_lightning"
PACKAGES = ("lightning.pytorch", "pytorch_lightning")
PACKAGE_MODULE = "utils.lightning_package"


def lightning_package_of(cls: type) -> str | None:
    """`lightning.pytorch` or `pytorch_lightning` for a LightningModule of that package, None for any other class."""
    for base in inspect.getmro(cls):
        if base.__name__ == "LightningModule":
            for package in PACKAGES:
                if base.__module__.startswith(f"{package}."):
                    return package
    return None


def choose_lightning_package(cls: type, file_label: str) -> None:
    """Refuse a class that is neither a net nor a LightningModule; record the package its run takes."""
    if not (inspect.isclass(cls) and issubclass(cls, torch.nn.Module)):
        raise UserError(f"{file_label} defines {getattr(cls, '__name__', cls)!r}, which is neither a torch.nn.Module "
                        f"(a net the template trains) nor a LightningModule (a module that trains itself): derive it "
                        f"from torch.nn.Module, lightning.LightningModule or pytorch_lightning.LightningModule")
    package = lightning_package_of(cls) or DEFAULT_PACKAGE
    loaded = sys.modules.get(PACKAGE_MODULE)
    if loaded is not None and package != loaded.PACKAGE:
        raise RuntimeError(f"{PACKAGE_MODULE} was imported with {loaded.PACKAGE} before {cls.__name__} asked for "
                           f"{package}: choose the package before the framework imports Lightning")
    os.environ[PACKAGE_VARIABLE] = package
