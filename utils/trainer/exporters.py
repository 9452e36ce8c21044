"""The three formats --mode export writes a net in: how each writes a file and how plain PyTorch or onnxruntime
loads it back."""

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from utils.errors import UserError

INPUT_NAME = "inputs"  # the ONNX graph's input, the name onnxruntime's `run` is given the batch under
Outputs = list[torch.Tensor]


def flat_outputs(outputs: Any, net_name: str) -> Outputs:
    """A net's outputs as the flat list of tensors an exported graph returns: a tuple's items and a dict's values
    in their order, entries that are None left out."""
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    items = outputs.values() if isinstance(outputs, dict) else outputs if isinstance(outputs, list | tuple) else None
    if items is not None:  # an entry that is None (a scripted GoogLeNet's aux outputs in eval) holds nothing to compare
        items = [item for item in items if item is not None]
    if items is None:
        raise UserError(f"--mode export compares the tensors {net_name} returns, but it returned a "
                        f"{type(outputs).__name__}: return a tensor, a tuple or a dict of tensors")
    return [tensor for item in items for tensor in flat_outputs(item, net_name)]


def output_names(outputs: Any, prefix: str = "") -> list[str]:
    """The names of flat_outputs' tensors, in its order: `outputs` for one tensor, a dict's keys, a NamedTuple's
    fields, else `output_<i>`, joined by dots where nested (`out`, `aux`; `logits.0`)."""
    if isinstance(outputs, torch.Tensor):
        return [prefix or "outputs"]
    items = list(outputs.values()) if isinstance(outputs, dict) else list(outputs)
    keys = [str(key) for key in outputs] if isinstance(outputs, dict) else list(getattr(outputs, "_fields", ())) or [
        str(index) if prefix else f"output_{index}" for index in range(len(items))]
    return [name for key, item in zip(keys, items, strict=True) if item is not None
            for name in output_names(item, f"{prefix}.{key}" if prefix else key)]


def batch_dimension() -> tuple[dict[int, Any]]:
    """The dynamic shape of a net's one input: any batch size, every other dimension as in the example."""
    return ({0: torch.export.Dim("batch")},)


def write_exported_program(net: nn.Module, example: torch.Tensor, path: Path) -> None:
    """torch.export's graph of the net, saved as torch.export.save writes it."""
    program = torch.export.export(net, (example,), dynamic_shapes=batch_dimension())
    with warnings.catch_warnings():
        # Said of every net whose weights are not contiguous (channels-last convolutions); they load back whole.
        warnings.filterwarnings("ignore", message="No complete tensor found in the group")
        torch.export.save(program, path)


def write_onnx(net: nn.Module, example: torch.Tensor, path: Path) -> None:
    """The dynamo exporter's ONNX graph, weights inside the one file (ONNX's protobuf limit: 2 GB), its outputs named
    as the net's (a dict's keys) rather than after the graph's last nodes."""
    with torch.no_grad():
        outputs = net(example)
    flat_outputs(outputs, type(net).__name__)  # refuses, in one line, outputs that are not tensors
    names = output_names(outputs)
    torch.onnx.export(net, (example,), path, dynamo=True, external_data=False, input_names=[INPUT_NAME],
                      output_names=names, dynamic_shapes=batch_dimension(), verbose=False)


def write_torchscript(net: nn.Module, example: torch.Tensor, path: Path) -> None:
    """torch.jit.script's module: it compiles the whole forward, branches included, where tracing would freeze
    the branches the example took and answer other inputs wrongly without a word."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
        torch.jit.save(torch.jit.script(net), path)


def load_exported_program(path: Path) -> Callable[[torch.Tensor], Any]:
    """The saved program as a module to call."""
    return torch.export.load(path).module()


def load_onnx(path: Path) -> Callable[[torch.Tensor], Outputs]:
    """An onnxruntime session on the CPU, called as the net is."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda inputs: [torch.from_numpy(array) for array in session.run(None, {INPUT_NAME: inputs.numpy()})]


def load_torchscript(path: Path) -> Callable[[torch.Tensor], Any]:
    """The saved TorchScript module."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
        return torch.jit.load(path)


@dataclass(frozen=True)
class ExportFormat:
    """How one --format writes the net and loads the file back."""

    suffix: str
    write: Callable[[nn.Module, torch.Tensor, Path], None]
    load: Callable[[Path], Callable[[torch.Tensor], Any]]
    exporter: str  # named in the error line of a net it cannot export


FORMATS = {
    "onnx": ExportFormat(".onnx", write_onnx, load_onnx, "torch.onnx.export"),
    "exported_program": ExportFormat(".pt2", write_exported_program, load_exported_program, "torch.export.export"),
    "torchscript": ExportFormat(".pt", write_torchscript, load_torchscript, "torch.jit.script"),
}

