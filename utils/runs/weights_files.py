"""Where --weights comes from: a state dict or checkpoint file, or a torchvision net's named weights."""

from collections.abc import Mapping
from pathlib import Path

import torch

from utils.errors import UserError, without_terminal_style
from utils.loading.torchvision_nets import is_torchvision_name, weights_member

# Where a checkpoint keeps the net's tensors: Lightning's, and the usual keys of training scripts (torchvision's own
# reference scripts save {"model": ...}).
STATE_KEYS = ("state_dict", "model_state_dict", "model")
FILE_KINDS = ("a file of torch.save(net.state_dict()), this template's .ckpt or another Lightning checkpoint "
              "(its state_dict)")


def is_state_dict(value: object) -> bool:
    """Whether `value` maps names to tensors, as net.state_dict() does."""
    return isinstance(value, Mapping) and bool(value) and all(
        isinstance(key, str) and isinstance(item, torch.Tensor) for key, item in value.items())


def state_dict_in(source: str, loaded: object) -> dict[str, torch.Tensor]:
    """The state dict a loaded file holds, itself or under one of STATE_KEYS; anything else is refused."""
    if is_state_dict(loaded):
        return dict(loaded)
    for key in STATE_KEYS:
        if isinstance(loaded, Mapping) and is_state_dict(loaded.get(key)):
            return dict(loaded[key])
    what = f"a dict of {', '.join(map(repr, list(loaded)[:5]))}" if isinstance(loaded, Mapping) \
        else f"a {type(loaded).__name__}"
    raise UserError(f"--weights {source} holds {what}, not a state dict (names to tensors): pass {FILE_KINDS}")


def read_weights_file(path: str) -> dict[str, torch.Tensor]:
    """The state dict of a file, read with torch.load(weights_only=True): tensors and plain values, no code."""
    if not Path(path).is_file():
        raise UserError(f"--weights {path}: no such file: pass {FILE_KINDS}, or for a torchvision: net the name "
                        f"of its weights (IMAGENET1K_V1)")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a pickle of objects, a truncated or foreign file: each raises its own type
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "Weights only load failed" in first:  # torch's advice to turn weights_only off is never passed on
            first = "it holds objects that are not tensors or plain values, such as a whole pickled net"
        first = without_terminal_style(first)[:200]
        raise UserError(f"--weights {path} cannot be read with torch.load(weights_only=True) ({type(error).__name__}: "
                        f"{first}): pass {FILE_KINDS}; a whole pickled net is refused, save net.state_dict() "
                        f"instead") from None
    return state_dict_in(path, loaded)


def download_weights(member: object, text: str) -> dict[str, torch.Tensor]:
    """The state dict of torchvision weights, from torch's hub cache or downloaded into it (read with
    weights_only=True: torch.hub's own default is False)."""
    try:
        return member.get_state_dict(progress=False, weights_only=True, map_location="cpu")
    except Exception as error:  # no network raises URLError, a proxy refusal HTTPError or OSError, a bad file others
        raise UserError(f"--weights {text}: torchvision's {member} could not be downloaded ({type(error).__name__}: "
                        f"{str(error)[:200]}): download {member.url} on a machine with internet and pass --weights "
                        f"PATH") from None


def read_weights(text: str, model_name: str) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict --weights names and how to describe where it came from."""
    member = weights_member(model_name, text) \
        if is_torchvision_name(model_name) and not Path(text).exists() else None
    if member is not None:
        return download_weights(member, text), f"torchvision's {member}"
    return read_weights_file(text), text
