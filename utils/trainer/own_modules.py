"""The escape hatch: a class in model/ that is itself a LightningModule is trained as it is."""

from pathlib import Path

from pytorch_lightning import Callback, LightningModule

from utils.config.command_line import Command
from utils.errors import UserError
from utils.runs.checkpoints import check_net_arguments, read_checkpoint
from utils.trainer.dataset_labels import DatasetLabels
from utils.trainer.module_monitor import ModuleMonitor
from utils.trainer.own_module_sets import PerSetMetrics
from utils.trainer.run_state import RunState


def is_own_module(cls: type) -> bool:
    """Whether a model/ class is a LightningModule of its own (rather than a net MInterface wraps)."""
    return isinstance(cls, type) and issubclass(cls, LightningModule)


def defines_hook(cls: type, name: str) -> bool:
    """Whether a LightningModule class defines `name` itself (or a base of the user's does), not just Lightning."""
    return any(name in vars(base) for base in cls.__mro__
               if not base.__module__.startswith(("pytorch_lightning.", "lightning.")))


def check_module_defines_mode(cls: type, mode: str) -> None:
    """Refuse --mode validate or test on an own module that defines no step for it."""
    step = {"validate": "validation_step", "test": "test_step"}.get(mode)
    if step and not defines_hook(cls, step):
        raise UserError(f"--mode {mode}: {cls.__name__} defines no {step}, so there is nothing to {mode}: "
                        f"add {step} to it, or use another --mode")


def own_module_from_checkpoint(path: str | Path) -> LightningModule:
    """Rebuild an own module from the arguments a checkpoint stores, then load its weights strictly."""
    checkpoint = read_checkpoint(str(path))
    net = checkpoint["template_net"]
    cls = check_net_arguments(str(path), net["model_name"], net["model_kwargs"])
    module = cls(**net["model_kwargs"])
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        details = [line.strip() for line in str(error).splitlines()[1:] if line.strip()] or [str(error)]
        raise UserError(f"checkpoint {path} does not fit {cls.__name__} as model/{net['model_name']}.py defines it "
                        f"now ({details[0]}): use a checkpoint of the current module") from None
    return module


def module_callbacks(command: Command, run_dir: Path) -> list[Callback]:
    """The run-state recorder; for an own module also the callbacks that keep its keys per dataset and its monitor."""
    recorder = RunState(command.options["model_name"], command.net_arguments())
    if not is_own_module(command.model_class):
        return [recorder]
    labels = {"val": command.val_labels, "test": command.test_labels}
    monitor = ModuleMonitor(command.settings.trainer.monitor, run_dir)
    fitting = command.settings.run.mode == "fit"
    return [PerSetMetrics(labels), DatasetLabels(labels), *([monitor] if fitting else []), recorder]
