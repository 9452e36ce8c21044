"""The speed-ups a run may ask for on a GPU: a compiled net, channels-last, pinned memory."""

from dataclasses import dataclass
from typing import Any

import torch
from lightning_utilities.core.apply_func import apply_to_collection
from torch import nn


def pins_memory(device_type: str) -> bool:
    """Whether the loaders pin their batches in page-locked memory: for a CUDA device, whose copies then overlap."""
    # Lightning's batch transfer copies non_blocking to CUDA already (lightning_fabric/utilities/apply_func.py).
    return device_type == "cuda"


def channels_last_tensor(value: torch.Tensor) -> torch.Tensor:
    """A 4-D tensor (a batch of images) stored channels-last; any other tensor as it is."""
    if value.dim() == 4:
        return value.contiguous(memory_format=torch.channels_last)
    return value


@dataclass
class NetSpeedups:
    """What --torch_compile and --channels_last ask of the net and its batches; applied to the net once."""

    compile_net: bool = False
    channels_last: bool = False
    applied: bool = False

    def apply(self, net: nn.Module) -> None:
        """Store the net channels-last and compile it in place (its state_dict keys stay), the first call only."""
        if self.applied:
            return
        self.applied = True
        if self.channels_last:
            net.to(memory_format=torch.channels_last)
        if self.compile_net:
            nn.Module.compile(net)  # not net.compile(): a net may keep its own `compile` parameter under that name

    def inputs(self, inputs: Any) -> Any:
        """The net's inputs, their 4-D tensors channels-last under --channels_last; otherwise as they are."""
        if not self.channels_last:
            return inputs
        return apply_to_collection(inputs, torch.Tensor, channels_last_tensor)
