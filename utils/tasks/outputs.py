"""The part of a net's outputs that feeds the default loss and the metrics."""

from typing import Any

import torch

from utils.errors import UserError


def prediction(outputs: Any, output_key: str, net_name: str) -> torch.Tensor:
    """A tensor as it is, element 0 of a tuple or list, or the `output_key` entry of a dict."""
    if isinstance(outputs, dict):
        if output_key not in outputs:
            raise UserError(f"{net_name} returns a dict without the key {output_key!r} (its keys: "
                            f"{', '.join(map(str, outputs))}): set --output_key to the entry the loss and metrics "
                            f"read")
        outputs = outputs[output_key]
    elif isinstance(outputs, (tuple, list)) and outputs:
        outputs = outputs[0]
    if not isinstance(outputs, torch.Tensor):
        raise UserError(f"{net_name} must return a tensor, a tuple whose first element is one, or a dict of them; "
                        f"got {type(outputs).__name__}")
    return outputs
