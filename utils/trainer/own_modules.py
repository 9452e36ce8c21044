"""The escape hatch: a class in model/ that is itself a LightningModule is trained as it is."""

from pathlib import Path
from typing import Any

from pytorch_lightning import Callback, LightningModule

from utils.errors import UserError
from utils.runs.checkpoints import check_net_arguments, read_checkpoint
from utils.trainer.dataset_labels import DatasetLabels
from utils.trainer.run_state import RunState


def is_own_module(cls: type) -> bool:
    """Whether a model/ class is a LightningModule of its own (rather than a net MInterface wraps)."""
    return isinstance(cls, type) and issubclass(cls, LightningModule)


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


def module_callbacks(model_name: str, model_kwargs: dict[str, Any], own_module: bool, labels: dict[str, list[str]],
                     monitor: str | None) -> list[Callback]:
    """The run-state recorder, and for an own module the callback that labels its keys by dataset."""
    recorder = RunState(model_name, model_kwargs)
    return [DatasetLabels(labels, monitor), recorder] if own_module else [recorder]
