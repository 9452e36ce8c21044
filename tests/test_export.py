"""--mode export: a checkpoint's net written beside it as ONNX, a torch.export program or TorchScript, which plain
onnxruntime, torch.export.load and torch.jit.load load back and run at another batch size with the net's outputs.

Every `python main.py` runs in a fork of one process that has imported torch and Lightning (tests/forked_main.py),
in one project copy shared by the tests of this file.
"""

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path

import onnxruntime
import pytest
import torch
from conftest import FAST, PROJECT, Project, copy_project, error_line, main_environment, with_plain_pip
from forked_main import ForkServer

# The tests load TorchScript files as users still do; torch says that TorchScript is deprecated.
pytestmark = pytest.mark.filterwarnings("ignore:.torch.jit.load. is deprecated:FutureWarning")

# A net, its datasets, and the shape of one input item. A torchvision ResNet-18 case joins here once
# `--model_name torchvision:resnet18` exists.
NETS = {
    "standard_net": (("--dataset", "standard_data", "--hidden", "8", "--num_samples", "200"), (16,)),
    "example_net": (("--channels", "4", "--hidden", "8"), (1, 28, 28)),
}
SUFFIXES = {"onnx": ".onnx", "exported_program": ".pt2", "torchscript": ".pt"}
OTHER_BATCH = 5  # the example is a test batch of --batch_size 8
ATOL = RTOL = 1e-4
PINS = dict(re.findall(r"^(\S+)==(\S+)$", (PROJECT / "requirements.txt").read_text(), re.MULTILINE))
# Branches on its inputs' values (torch.export and the ONNX exporter refuse to trace that) and takes keyword
# arguments (torch.jit.script refuses those).
BRANCHY_NET = '''
from torch import nn


class BranchyNet(nn.Module):
    def __init__(self, num_features: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        self.linear = nn.Linear(num_features, num_classes)

    def forward(self, x, **unused):
        if x.sum() > 0:
            return self.linear(x)
        return -self.linear(x)
'''
REFUSALS = {"onnx": "error: torch.onnx.export cannot export BranchyNet: Could not guard on data-dependent expression",
            "exported_program": "error: torch.export.export cannot export BranchyNet: Could not guard on "
                                "data-dependent expression",
            "torchscript": "error: torch.jit.script cannot export BranchyNet: Compiled functions can't take "
                           "variable number of arguments"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """One project copy for the tests of this file, with the refused net and the project's requirements.txt."""
    project = copy_project(tmp_path_factory.mktemp("export") / "project")
    project.write("model/branchy_net.py", BRANCHY_NET)
    project.write("requirements.txt", (PROJECT / "requirements.txt").read_text())
    return project


def best_checkpoint(project: Project, net: str, *arguments: str) -> Path:
    """Train `net` at a tiny size and return its best checkpoint."""
    before = set(project.run_dirs())
    process = project.run("--model_name", net, "--batch_size", "16", "--experiment", net, *arguments, *FAST)
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = set(project.run_dirs()) - before
    return Path(json.loads((run_dir / "results.json").read_text())["best_checkpoint"])


@pytest.fixture(scope="module", params=list(NETS))
def trained(request: pytest.FixtureRequest, project: Project) -> tuple[str, Path]:
    """A net of NETS and its best checkpoint."""
    return request.param, project.root / best_checkpoint(project, request.param, *NETS[request.param][0])


def checkpoint_net(project: Project, checkpoint: Path) -> torch.nn.Module:
    """The net a checkpoint holds, built as a user would: its class from model/, its weights under `net.`."""
    stored = torch.load(checkpoint, weights_only=True)
    name = stored["hyper_parameters"]["model_name"]
    spec = importlib.util.spec_from_file_location(name, project.root / "model" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = getattr(module, name.title().replace("_", ""))(**stored["hyper_parameters"]["model_kwargs"])
    net.load_state_dict({key.removeprefix("net."): value for key, value in stored["state_dict"].items()
                         if key.startswith("net.")})
    return net.eval()


def load_and_run(path: Path, inputs: torch.Tensor) -> torch.Tensor:
    """Run an exported file as plain PyTorch or onnxruntime does, with no template import."""
    if path.suffix == ".onnx":
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: inputs.numpy()})[0])
    if path.suffix == ".pt2":
        return torch.export.load(path).module()(inputs)
    return torch.jit.load(path)(inputs)


@pytest.mark.parametrize("export_format", SUFFIXES)
def test_an_exported_net_loads_back_and_gives_the_checkpoints_outputs_at_another_batch_size(
        project: Project, trained: tuple[str, Path], export_format: str):
    net_name, checkpoint = trained
    before = set(project.run_dirs())
    process = project.run("--mode", "export", "--ckpt", str(checkpoint), "--format", export_format,
                          "--batch_size", "8")
    assert process.returncode == 0, process.stderr[-3000:]
    written = checkpoint.with_suffix(SUFFIXES[export_format])
    [line] = [line for line in process.stdout.splitlines() if line.startswith("exported ")]
    assert re.match(rf"exported {re.escape(str(written))} \({export_format}, .* max abs "
                    rf"difference \S+ from the checkpoint's net on batches of 8 and 9 \(atol 0.0001, rtol 0.0001\)",
                    line), line
    [run_dir] = set(project.run_dirs()) - before
    recorded = json.loads((run_dir / "results.json").read_text())["export"]
    assert project.root / recorded["file"] == written and recorded["max_abs_difference"] <= ATOL
    inputs = torch.randn(OTHER_BATCH, *NETS[net_name][1])
    with torch.no_grad():
        expected, got = checkpoint_net(project, checkpoint)(inputs), load_and_run(written, inputs)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=RTOL)
    assert [path.name for path in written.parent.iterdir() if path.name.startswith(".")] == []


def test_exporting_again_replaces_the_file_and_says_so(project: Project, trained: tuple[str, Path]):
    _, checkpoint = trained
    for _ in range(2):
        process = project.run("--mode", "export", "--ckpt", str(checkpoint), "--format", "torchscript")
        assert process.returncode == 0, process.stderr[-3000:]
    assert "(torchscript, " in process.stdout and ", replacing the earlier file): max abs" in process.stdout
    assert torch.jit.load(checkpoint.with_suffix(".pt")) is not None


@pytest.fixture(scope="module")
def branchy_checkpoint(project: Project) -> Path:
    """The best checkpoint of BRANCHY_NET, which trains but cannot be exported."""
    return project.root / best_checkpoint(project, "branchy_net", "--dataset", "standard_data")


@pytest.mark.parametrize("export_format", SUFFIXES)
def test_a_net_the_exporter_refuses_is_one_error_line_and_writes_nothing(
        project: Project, branchy_checkpoint: Path, export_format: str):
    checkpoints, runs = sorted(branchy_checkpoint.parent.iterdir()), project.run_dirs()
    process = project.run("--mode", "export", "--ckpt", str(branchy_checkpoint), "--format", export_format)
    assert error_line(process).startswith(REFUSALS[export_format])
    assert sorted(branchy_checkpoint.parent.iterdir()) == checkpoints and project.run_dirs() == runs


@pytest.mark.parametrize(("arguments", "expected"), [
    (("--format", "onnx"), "error: --format onnx is for --mode export: add --mode export --ckpt PATH, or drop "
                           "--format"),
    (("--mode", "export", "--format", "onnx"), "error: --mode export needs --ckpt PATH: a checkpoint from a run's "
                                               "checkpoints/ folder"),
], ids=["format-without-export", "export-without-ckpt"])
def test_format_and_export_go_together_with_a_checkpoint(project: Project, arguments: tuple[str, ...], expected: str):
    runs = project.run_dirs()
    assert error_line(project.run("--dataset", "standard_data", *arguments, *FAST)) == expected
    assert project.run_dirs() == runs


def test_export_without_format_names_the_formats(project: Project, branchy_checkpoint: Path):
    process = project.run("--mode", "export", "--ckpt", str(branchy_checkpoint))
    assert error_line(process) == ("error: --mode export needs --format onnx, exported_program or torchscript: the "
                                   "file it writes beside --ckpt")


def test_an_own_lightning_module_is_refused_in_one_line(project: Project):
    project.write("model/tensor_lit_module.py", (PROJECT / "tests/examples/tensor_lit_module.py").read_text())
    checkpoint = project.root / best_checkpoint(project, "tensor_lit_module", "--dataset", "standard_data")
    process = project.run("--mode", "export", "--ckpt", str(checkpoint), "--format", "exported_program")
    assert error_line(process).startswith("error: --mode export writes a net from model/ that MInterface wraps; "
                                          "TensorLitModule is its own LightningModule: export it yourself")
    assert not checkpoint.with_suffix(".pt2").exists()


@pytest.fixture(scope="module")
def without_onnx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    """A fork server in which onnx, onnxscript and onnxruntime look uninstalled."""
    environment = {**main_environment(), "PYTHONPATH": str(Path(__file__).parent / "hidden_packages"),
                   "HIDDEN_PACKAGES": "onnx onnxscript onnxruntime"}
    server = ForkServer(tmp_path_factory.mktemp("fork_server"), environment)
    yield server
    server.close()


def test_onnx_without_its_packages_is_one_error_line_naming_the_install(
        without_onnx: ForkServer, project: Project, branchy_checkpoint: Path):
    runs = project.run_dirs()
    process = without_onnx.run(project.root, "--mode", "export", "--ckpt", str(branchy_checkpoint), "--format", "onnx")
    assert with_plain_pip(error_line(process)) == (
        f"error: --format onnx needs onnx and onnxscript and onnxruntime, which this Python does not have: pip install "
        f"onnx=={PINS['onnx']} onnxscript=={PINS['onnxscript']} onnxruntime=={PINS['onnxruntime']}")
    assert project.run_dirs() == runs


def test_output_entries_that_are_none_hold_nothing_to_compare():
    from typing import NamedTuple

    from utils.trainer.exporters import flat_outputs

    class Outputs(NamedTuple):  # a scripted GoogLeNet's, whose aux entries are None in eval
        logits: torch.Tensor
        aux2: torch.Tensor | None
        aux1: torch.Tensor | None

    logits = torch.zeros(2, 4)
    assert flat_outputs(Outputs(logits, None, None), "GoogLeNet") == [logits]


DICT_NET = '''
from torch import nn


class DictNet(nn.Module):
    def __init__(self, num_features: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        self.head, self.aux = nn.Linear(num_features, num_classes), nn.Linear(num_features, 2)

    def forward(self, x):
        return {"out": self.head(x), "aux": self.aux(x)}
'''


def test_an_onnx_graph_names_its_outputs_as_the_net_does(project: Project):
    from utils.trainer.exporters import output_names

    project.write("model/dict_net.py", DICT_NET)
    checkpoint = project.root / best_checkpoint(project, "dict_net", "--dataset", "standard_data", "--num_samples",
                                                "200", "--output_key", "out")
    process = project.run("--mode", "export", "--ckpt", str(checkpoint), "--format", "onnx")
    assert process.returncode == 0, process.stderr[-3000:]
    session = onnxruntime.InferenceSession(str(checkpoint.with_suffix(".onnx")), providers=["CPUExecutionProvider"])
    assert [output.name for output in session.get_outputs()] == ["out", "aux"]
    assert output_names(torch.zeros(2)) == ["outputs"] and output_names((torch.zeros(2),) * 2) == ["output_0",
                                                                                                  "output_1"]


def test_a_net_returning_a_dataclass_exports_its_tensor_entries_as_a_dict(project: Project):
    # A Hugging Face style output with an unset loss: trained on its logits, exported as {"logits", "hidden"}.
    project.write("model/dict_net.py", "from dataclasses import dataclass\n\nimport torch\n" + DICT_NET.replace(
        'return {"out": self.head(x), "aux": self.aux(x)}', "return Output(self.head(x), self.aux(x))") + '''

@dataclass
class Output:
    logits: torch.Tensor
    hidden: torch.Tensor
    loss: torch.Tensor | None = None
''')
    checkpoint = project.root / best_checkpoint(project, "dict_net", "--dataset", "standard_data", "--num_samples",
                                                "200")
    process = project.run("--mode", "export", "--ckpt", str(checkpoint), "--format", "exported_program")
    assert process.returncode == 0, process.stderr[-3000:]
    outputs = torch.export.load(checkpoint.with_suffix(".pt2")).module()(torch.randn(3, 16))
    assert set(outputs) == {"logits", "hidden"} and outputs["logits"].shape == (3, 10)
    line = error_line(project.run("--mode", "export", "--ckpt", str(checkpoint), "--format", "torchscript"))
    assert "DictNet returns a Output, a dataclass, which TorchScript cannot compile: use --format onnx" in line, line
