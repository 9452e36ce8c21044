"""torchvision's nets by name: `--model_name torchvision:resnet18` builds torchvision.models' resnet18, no model/ file.

The net's options are the builder's and the net class's keyword parameters that have defaults (num_classes,
dropout, ...), read from their signatures as a model/ class's are; the builder's `weights` and `progress` are not
options, --weights covers them. Only the values a run changes are handed to the builder, so a builder that sets one
itself (wide_resnet50_2's width_per_group) keeps its own.
"""

import difflib
import importlib
import inspect
import re
import typing
from types import ModuleType
from typing import Any

from utils.errors import UserError, pip_command

PREFIX = "torchvision:"
BUILDER_ONLY = ("weights", "progress")  # and weights_backbone, never options: --weights covers them
WEIGHTS_NAME = re.compile(r"(?:[A-Za-z0-9_]+_Weights\.)?[A-Z][A-Z0-9_]*")


def is_torchvision_name(name: Any) -> bool:
    """Whether a --model_name names a torchvision net (`torchvision:NAME`)."""
    return isinstance(name, str) and name.startswith(PREFIX)


def torchvision_models() -> ModuleType:
    """torchvision.models, imported only when a run names one of its nets (it is slow to import)."""
    try:
        return importlib.import_module("torchvision.models")
    except ImportError as error:
        raise UserError(f"torchvision nets need torchvision, which cannot be imported ({error}): {pip_command()} "
                        f"torchvision (requirements.txt names the version)") from None


def builder_name(name: str) -> str:
    """The torchvision builder a `torchvision:NAME` names, refusing an unknown one with the closest names."""
    models, wanted = torchvision_models(), name.removeprefix(PREFIX)
    available = models.list_models()
    if wanted not in available:
        close = difflib.get_close_matches(wanted, available, n=5, cutoff=0.5)
        hint = f"closest: {', '.join(PREFIX + item for item in close)}; " if close else ""
        raise UserError(f"unknown torchvision net {name!r}: {hint}every name: torchvision.models.list_models() "
                        f"({len(available)} nets)")
    kinds = {models.detection: "a detector: in training its forward takes the targets and returns its losses, and "
                               "a net of the template is given the inputs alone (the targets go to the loss)",
             models.optical_flow: "an optical-flow net: it takes two images and returns a flow field per "
                                  "refinement, which its training loss weighs together"}
    for module, kind in kinds.items():
        if wanted in models.list_models(module=module):
            raise UserError(f"{name} is {kind}: train it in a LightningModule of your own in model/ (README: "
                            f"Detectors and other nets that take their targets)")
    return wanted


def _hints(function: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except (NameError, TypeError):
        return {}


def net_parameters(builder: Any) -> list[inspect.Parameter]:
    """The builder's and its net class's keyword parameters with defaults, annotations resolved, each name once."""
    net_class = _hints(builder).get("return")
    functions = [builder, net_class.__init__] if inspect.isclass(net_class) else [builder]
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    found: dict[str, inspect.Parameter] = {}
    for function in functions:
        hints = _hints(function)
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind in kinds and parameter.default is not inspect.Parameter.empty \
                    and parameter.name not in found and not parameter.name.startswith(BUILDER_ONLY):
                found[parameter.name] = parameter.replace(
                    kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints.get(parameter.name, parameter.annotation))
    return list(found.values())


def torchvision_net_class(name: str) -> type:
    """A class standing for the builder: its __init__ signature lists the net's options, calling it builds the net."""
    import torch

    wanted = builder_name(name)
    builder = torchvision_models().get_model_builder(wanted)
    parameters = net_parameters(builder)
    defaults = {parameter.name: parameter.default for parameter in parameters}
    # A segmentation or detection builder would fetch an ImageNet backbone by default: a net starts from scratch.
    fixed = {"weights": None, "progress": False}
    fixed.update({"weights_backbone": None} if "weights_backbone" in inspect.signature(builder).parameters else {})

    def build(cls: type, **values: Any) -> torch.nn.Module:
        changed = {key: value for key, value in values.items() if key not in defaults or value != defaults[key]}
        try:
            return builder(**fixed, **changed)
        except (TypeError, ValueError) as error:
            raise UserError(f"torchvision's {wanted} cannot be built with {changed}: {error}") from None

    def init(self: Any, **values: Any) -> None:
        """Never called: building returns the torchvision net itself."""

    init.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *parameters])
    return type(_class_name(builder, wanted), (torch.nn.Module,), {
        "__new__": build, "__init__": init, "__module__": builder.__module__,
        "__doc__": f"torchvision.models.{wanted} (weights: --weights FILE, or a name of "
                   f"torchvision.models.get_model_weights({wanted!r}))"})


def _class_name(builder: Any, wanted: str) -> str:
    net_class = _hints(builder).get("return")
    return net_class.__name__ if inspect.isclass(net_class) else wanted


def weights_member(name: str, text: str) -> Any | None:
    """The torchvision weights enum member `text` names for the net `name` (IMAGENET1K_V1,
    ResNet18_Weights.IMAGENET1K_V1, DEFAULT), None for text that does not look like one; unknown names are refused."""
    if not WEIGHTS_NAME.fullmatch(text):
        return None
    wanted = builder_name(name)
    try:
        enum = torchvision_models().get_model_weights(wanted)
    except ValueError:
        raise UserError(f"--weights {text}: torchvision's {wanted} has no pretrained weights: pass --weights "
                        f"FILE") from None
    owner, _, member = text.rpartition(".")
    if owner and owner != enum.__name__:
        raise UserError(f"--weights {text}: {owner} are not weights of {wanted}, whose are {enum.__name__}")
    if member not in enum.__members__:
        raise UserError(f"--weights {text}: {enum.__name__} has no {member}: choose one of "
                        f"{', '.join(enum.__members__)}, or pass --weights FILE")
    return enum[member]
