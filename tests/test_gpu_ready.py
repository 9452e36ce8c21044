"""GPU speed-ups, tested on their CPU path: --torch_compile, --channels_last, bf16-mixed, pinned memory, and the
GPU benchmark's line on a machine without a GPU."""

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
import yaml
from conftest import FAST, PROJECT, error_line

from main import build_checked, checked_command
from utils.trainer.speedups import NetSpeedups, pins_memory

STANDARD = ("--model_name", "standard_net", "--dataset", "standard_data", "--accelerator", "cpu", *FAST)

NET_WITH_COMPILE = '''
from torch import nn


class CompilingNet(nn.Module):
    """A net with a parameter of its own named compile."""

    def __init__(self, compile: bool = False) -> None:
        super().__init__()
        self.compile_asked = compile
        self.layer = nn.Linear(16, 10)

    def forward(self, x):
        return self.layer(x)
'''

TINY_CONV_NET = '''
from torch import nn


class TinyConvNet(nn.Module):
    """Two convolutions and a linear head on 3 x 8 x 8 images."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                                      nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        return self.head(self.features(x))
'''

TINY_IMAGES = '''
import torch
from torch.utils.data import Dataset


class TinyImages(Dataset):
    """64 random 3 x 8 x 8 images in 4 classes."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.images = torch.randn(64, 3, 8, 8, generator=generator)
        self.labels = torch.randint(0, 4, (64,), generator=generator)

    def __len__(self):
        return 64

    def __getitem__(self, index):
        return self.images[index], self.labels[index]
'''


def results(run_dir) -> dict:
    """The run's results.json."""
    return json.loads((run_dir / "results.json").read_text())


def only_run(project, *arguments: str, env: dict | None = None):
    """Run main.py, check it succeeded, and return the newest run folder."""
    process = project.run(*arguments, env=env)
    assert process.returncode == 0, process.stderr[-3000:]
    return project.run_dirs()[-1]


def test_a_compiled_net_trains_and_its_checkpoint_tests_without_the_flag(project):
    # A fresh interpreter: torch.compile starts compiler threads, which a fork of the test's server would inherit.
    # TORCH_LOGS=graph_code: torch prints each graph it traces for compilation.
    compiled = project.run(*STANDARD, "--torch_compile", env={"TORCH_LOGS": "graph_code"})
    assert compiled.returncode == 0, compiled.stderr[-3000:]
    assert "TRACED GRAPH" in compiled.stderr
    fitted = project.run_dirs()[-1]
    assert yaml.safe_load((fitted / "config.yaml").read_text())["torch_compile"] is True
    checkpoint = fitted / "checkpoints" / "last.ckpt"
    keys = set(torch.load(checkpoint, weights_only=True)["state_dict"])
    assert {"net.layers.0.weight", "net.layers.2.bias"} <= keys  # the keys of a net never compiled
    assert not any("_orig_mod" in key for key in keys)
    tested = only_run(project, "--mode", "test", "--ckpt", str(checkpoint), "--limit_test_batches", "2")
    assert yaml.safe_load((tested / "config.yaml").read_text())["torch_compile"] is False
    assert results(tested)["test"]["standard_data"]["loss"] == pytest.approx(
        results(fitted)["test"]["standard_data"]["loss"], rel=1e-5)


def test_a_net_parameter_named_compile_is_the_nets_option_beside_the_frameworks_torch_compile(project):
    project.write("model/compiling_net.py", NET_WITH_COMPILE)
    arguments = ("--model_name", "compiling_net", "--dataset", "standard_data", "--accelerator", "cpu")
    shown = project.run(*arguments, "--help")
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert "--compile, --no-compile" in shown.stdout and "--torch_compile, --no-torch_compile" in shown.stdout
    run_dir = only_run(project, *arguments, *FAST, "--compile")
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert (config["compile"], config["torch_compile"]) == (True, False)
    stored = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["hyper_parameters"]
    assert stored["model_kwargs"] == {"compile": True}


@pytest.mark.parametrize("option", ["--torch_compile", "--channels_last"])
def test_an_own_lightning_module_refuses_the_net_speedups_it_would_ignore(project, option):
    project.write("model/tensor_lit_module.py", (PROJECT / "tests" / "examples" / "tensor_lit_module.py").read_text())
    line = error_line(project.run("--model_name", "tensor_lit_module", "--dataset", "standard_data", option))
    assert line.startswith(f"error: {option}: TensorLitModule is a LightningModule")
    assert project.run_dirs() == []


def test_a_net_that_keeps_its_compile_parameter_as_an_attribute_is_still_compiled_in_place():
    net = torch.nn.Linear(4, 2)
    net.compile = True  # as `self.compile = compile` in a net's __init__
    keys = list(net.state_dict())
    NetSpeedups(compile_net=True).apply(net)  # torch.compile is lazy: nothing is compiled before a call
    assert net.compile is True and list(net.state_dict()) == keys


def test_bf16_mixed_precision_trains_on_the_cpu(project):
    run_dir = only_run(project, *STANDARD, "--precision", "bf16-mixed")
    loss = results(run_dir)["test"]["standard_data"]["loss"]
    assert loss == loss and yaml.safe_load((run_dir / "config.yaml").read_text())["precision"] == "bf16-mixed"


def test_channels_last_stores_the_conv_weights_channels_last_and_gives_the_same_losses(project):
    project.write("model/tiny_conv_net.py", TINY_CONV_NET)
    project.write("data/tiny_images.py", TINY_IMAGES)
    arguments = ("--model_name", "tiny_conv_net", "--dataset", "tiny_images", "--accelerator", "cpu", "--batch_size",
                 "16", "--max_epochs", "1", "--limit_train_batches", "1")
    plain = only_run(project, *arguments)
    channels_last = only_run(project, *arguments, "--channels_last")
    for run_dir, expected in ((plain, False), (channels_last, True)):
        weight = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"][
            "net.features.0.weight"]
        assert weight.is_contiguous(memory_format=torch.channels_last) is expected
    for stage in ("val", "test"):
        assert results(channels_last)[stage]["tiny_images"]["loss"] == pytest.approx(
            results(plain)[stage]["tiny_images"]["loss"], rel=1e-5)


def test_channels_last_turns_only_the_four_dimensional_inputs():
    images, mask = torch.randn(2, 3, 4, 4), torch.randn(2, 4)
    turned = NetSpeedups(channels_last=True).inputs({"image": images, "mask": mask})
    assert turned["image"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(turned["image"], images) and turned["mask"] is mask
    assert NetSpeedups().inputs(images) is images


@pytest.mark.parametrize(("device_type", "pinned"), [("cuda", True), ("cpu", False), ("mps", False)])
def test_the_loaders_pin_memory_for_a_cuda_device_only(device_type, pinned):
    assert pins_memory(device_type) is pinned
    datamodule, _ = build_checked(checked_command(["--model_name", "standard_net", "--dataset", "standard_data"]))
    datamodule.trainer = SimpleNamespace(world_size=1, global_rank=0,
                                         strategy=SimpleNamespace(root_device=torch.device(device_type)))
    loaders = [datamodule.train_dataloader(), *datamodule.val_dataloader(), *datamodule.test_dataloader()]
    assert [loader.pin_memory for loader in loaders] == [pinned] * 3


@pytest.mark.skipif(torch.cuda.is_available(), reason="with a GPU the benchmark measures instead")
def test_the_gpu_benchmark_says_in_one_line_that_there_is_no_gpu():
    process = subprocess.run([sys.executable, "benchmarks/bench_gpu.py"], cwd=PROJECT, capture_output=True,
                             text=True, timeout=120)
    assert process.returncode == 0, process.stderr[-3000:]
    assert process.stdout.splitlines() == ["bench_gpu.py: no CUDA GPU here, so nothing was measured: run it on a "
                                           "machine with one"]
