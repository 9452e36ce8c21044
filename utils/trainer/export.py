"""--mode export: write a checkpoint's net beside it in one format, load the file back and check its outputs."""

import contextlib
import io
import logging
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from utils.datasets.batches import batch_inputs
from utils.errors import UserError, without_terminal_style
from utils.lightning_package import LightningDataModule
from utils.tasks.outputs import named_entries
from utils.trainer.exporters import FORMATS, ExportFormat, Outputs, flat_outputs

# How far a loaded file's outputs may be from the net's: float32 kernels of another runtime (onnxruntime's fused
# convolutions) differ in their last bits, a wrong graph by far more.
ATOL, RTOL = 1e-4, 1e-4


class ExportRefused(UserError):
    """The net could not be exported, or its file did not give the net's outputs: nothing was written."""


class TensorEntries(nn.Module):
    """A net that returns a dataclass (a model output), returning its tensor entries as a dict: the exporters take
    tensors, tuples and dicts, not a class of the net's."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """The net's outputs' entries that are tensors, by name."""
        entries = named_entries(self.net(inputs)) or {}
        return {name: value for name, value in entries.items() if isinstance(value, torch.Tensor)}


def shown_name(net: nn.Module) -> str:
    """The class name of the user's net, inside TensorEntries too."""
    return type(net.net if isinstance(net, TensorEntries) else net).__name__


def exportable(net: nn.Module, example: torch.Tensor, format_name: str) -> nn.Module:
    """`net`, or for one that returns a dataclass, the net that returns its tensor entries as a dict (which
    TorchScript cannot compile)."""
    with torch.no_grad():
        outputs = net(example)
    if named_entries(outputs) is None or isinstance(outputs, (dict, tuple)):
        return net
    if format_name == "torchscript":
        raise ExportRefused(f"{type(net).__name__} returns a {type(outputs).__name__}, a dataclass, which TorchScript "
                            f"cannot compile: use --format onnx or exported_program, which write its tensor entries "
                            f"as a dict")
    return TensorEntries(net).eval()


def example_batch(datamodule: LightningDataModule, input_key: str) -> torch.Tensor:
    """The inputs of the first test set's first batch, at least two items so the batch size stays dynamic."""
    label = next(iter(datamodule.test_sets))
    inputs = batch_inputs(next(iter(datamodule.test_dataloader()[0])), input_key)
    if not isinstance(inputs, torch.Tensor):
        raise UserError(f"--mode export takes nets whose input is one tensor, but test set {label!r} gives a "
                        f"{type(inputs).__name__}: export the net yourself with torch.export.export")
    # torch.export fixes a dimension of size 1 as a constant, so a one-item example would fix the batch size.
    return inputs if len(inputs) > 1 else torch.cat([inputs, inputs])


def max_difference(got: Outputs, expected: Outputs) -> float:
    """The largest absolute difference between two lists of outputs; infinite when their shapes differ."""
    if [tensor.shape for tensor in got] != [tensor.shape for tensor in expected]:
        return float("inf")
    return max((float((a.float() - b.float()).abs().max()) if a.numel() else 0.0 for a, b in zip(got, expected,
                                                                                                   strict=True)),
               default=0.0)


def checked_difference(export_format: ExportFormat, path: Path, net: nn.Module,
                       batches: list[torch.Tensor]) -> float:
    """Load the written file and return its largest difference from the net over `batches`; refuse one that is
    further from the net than the tolerance allows."""
    loaded = export_format.load(path)
    net_name, worst = shown_name(net), 0.0
    with torch.no_grad():
        for batch in batches:
            expected = flat_outputs(net(batch), net_name)
            got = flat_outputs(loaded(batch), net_name)
            difference = max_difference(got, expected)
            close = difference < float("inf") and all(
                torch.allclose(a.float(), b.float(), atol=ATOL, rtol=RTOL) for a, b in zip(got, expected, strict=True))
            if not close:
                raise ExportRefused(f"the exported {net_name} gives outputs {difference:.2e} away from the "
                                    f"checkpoint's net on a batch of {len(batch)} (atol {ATOL:g}, rtol {RTOL:g}): "
                                    f"nothing was written; try another --format")
            worst = max(worst, difference)
    return worst


def exporter_reason(error: BaseException) -> str:
    """The first line of the exception that started it all (the ONNX exporter wraps torch.export's), uncoloured."""
    while error.__cause__ is not None:
        error = error.__cause__
    lines = [without_terminal_style(line).strip() for line in str(error).splitlines()]
    return next((line for line in lines if line), type(error).__name__)


def write_checked(export_format: ExportFormat, net: nn.Module, example: torch.Tensor, target: Path) -> float:
    """Write the net to a temporary file beside `target`, check it, then move it onto `target` in one step."""
    temporary = target.with_name(f".{target.stem}.export-{os.getpid()}{target.suffix}")
    try:
        # torch logs warnings and prints the graph it gave up on to stderr: the error line below says why, once.
        logging.disable(logging.WARNING)
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                export_format.write(net, example, temporary)
        # An exporter fails in many types of its own (torch's export errors, onnxscript's, TorchScript's frontend).
        except Exception as error:
            raise ExportRefused(f"{export_format.exporter} cannot export {shown_name(net)}: "
                                f"{exporter_reason(error)}") from None
        finally:
            logging.disable(logging.NOTSET)
        difference = checked_difference(export_format, temporary, net, [example, torch.cat([example, example[:1]])])
        os.replace(temporary, target)
        return difference
    finally:
        temporary.unlink(missing_ok=True)


def export_net(net: nn.Module, datamodule: LightningDataModule, checkpoint: str, format_name: str,
               input_key: str) -> dict[str, Any]:
    """Export the checkpoint's net beside it, named after it, and return what results.json records of it."""
    export_format = FORMATS[format_name]
    target = Path(checkpoint).with_suffix(export_format.suffix)
    net = net.to("cpu").eval()
    example = example_batch(datamodule, input_key)
    replaced, started = target.exists(), time.perf_counter()
    difference = write_checked(export_format, exportable(net, example, format_name), example, target)
    return {"format": format_name, "file": str(target), "bytes": target.stat().st_size,
            "seconds": round(time.perf_counter() - started, 3), "replaced": replaced,
            "batch_sizes": [len(example), len(example) + 1], "max_abs_difference": difference,
            "atol": ATOL, "rtol": RTOL}


def export_line(exported: dict[str, Any]) -> str:
    """The line that names the written file and how close its outputs came to the net's."""
    sizes = " and ".join(str(size) for size in exported["batch_sizes"])
    return (f"exported {exported['file']} ({exported['format']}, {exported['bytes'] / 1e6:.2f} MB, "
            f"{exported['seconds']:.1f} s{', replacing the earlier file' if exported['replaced'] else ''}): max abs "
            f"difference {exported['max_abs_difference']:.1e} from the checkpoint's net on batches of {sizes} "
            f"(atol {exported['atol']:g}, rtol {exported['rtol']:g})")
