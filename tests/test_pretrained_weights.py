"""--weights starts a run from a state dict, a checkpoint or torchvision's named weights; torchvision:NAME nets."""

import json
import subprocess
from pathlib import Path

import pytest
import torch
import torchvision
import yaml
from conftest import FAST, Project, error_line

TINY_IMAGES = '''"""Sixteen random 3x32x32 images in ten classes."""

import torch
from torch.utils.data import Dataset


class TinyImages(Dataset):
    """Random images and labels, made in memory."""

    def __init__(self, num_samples: int = 16) -> None:
        generator = torch.Generator().manual_seed(0)
        self.images = torch.randn(num_samples, 3, 32, 32, generator=generator)
        self.targets = torch.randint(10, (num_samples,), generator=generator)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return self.images[index], self.targets[index]
'''
RESNET = ["--model_name", "torchvision:resnet18", "--dataset", "tiny_images", "--val_fraction", "0.25",
          "--batch_size", "4", *FAST]
# A learning rate too small to move a weight measurably: what the run saves is what it started from.
STILL = ["--optimizer", "sgd", "--optimizer.lr", "1e-12"]
EXPERIMENT = "torchvision_resnet18-tiny_images"


def saved_resnet(path: Path, num_classes: int) -> Path:
    """A resnet18 state dict of `num_classes` outputs, seeded otherwise than any run."""
    torch.manual_seed(123)
    torch.save(torchvision.models.resnet18(num_classes=num_classes).state_dict(), path)
    return path


@pytest.fixture
def images(project: Project) -> Project:
    """The project with data/tiny_images.py."""
    project.write("data/tiny_images.py", TINY_IMAGES)
    return project


def net_parameters(checkpoint: Path) -> dict[str, torch.Tensor]:
    """The net's parameters (not its BatchNorm statistics, which every forward pass updates) in a checkpoint."""
    names = {name for name, _ in torchvision.models.resnet18(num_classes=10).named_parameters()}
    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    return {key.removeprefix("net."): value for key, value in state.items() if key.removeprefix("net.") in names}


def largest_difference(saved: dict[str, torch.Tensor], file: Path, keys: list[str]) -> float:
    """The largest difference between the saved tensors and the file's, over `keys`."""
    original = torch.load(file, weights_only=True)
    return max((saved[key] - original[key]).abs().max().item() for key in keys)


def weights_record(run_dir: Path) -> dict:
    """What environment.yaml records of the starting weights."""
    return yaml.safe_load((run_dir / "environment.yaml").read_text())["weights"]


def test_a_torchvision_net_starts_from_the_file_then_tests_and_resumes_from_its_checkpoint(images, tmp_path):
    weights = saved_resnet(tmp_path / "resnet18.pth", 10)
    process = images.run(*RESNET, *STILL, "--num_classes", "10", "--weights", str(weights))
    assert process.returncode == 0, process.stderr[-3000:]
    assert "weights: loaded 122 of the 122 tensors of ResNet" in process.stdout
    [run_dir] = images.run_dirs()
    assert run_dir.parent.name == EXPERIMENT
    saved = net_parameters(run_dir / "checkpoints" / "last.ckpt")
    assert len(saved) == 62 and largest_difference(saved, weights, list(saved)) < 1e-6
    assert weights_record(run_dir)["loaded"] == 122 and weights_record(run_dir)["shape_mismatch"] == []
    # The checkpoint names its net torchvision:resnet18: test mode rebuilds it from there.
    tested = images.run("--mode", "test", "--ckpt", str(run_dir / "checkpoints" / "last.ckpt"), *FAST)
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "tiny_images" in json.loads((images.run_dirs()[-1] / "results.json").read_text())["test"]
    # A resumed run restores its checkpoint: the weights file is not read again, and its record is kept.
    weights.unlink()
    resumed = images.run("--resume", str(run_dir), "--max_epochs", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "weights:" not in resumed.stdout and weights_record(run_dir)["source"] == str(weights)
    other = error_line(images.run("--resume", str(run_dir), "--max_epochs", "3", "--weights", str(tmp_path)))
    assert "--resume" in other and "drop --weights" in other


def test_this_templates_checkpoint_starts_a_new_run_from_its_net(images, tmp_path):
    first = images.run(*RESNET, "--num_classes", "10")
    assert first.returncode == 0, first.stderr[-3000:]
    [run_dir] = images.run_dirs()
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    second = images.run(*RESNET, *STILL, "--num_classes", "10", "--weights", str(checkpoint))
    assert second.returncode == 0, second.stderr[-3000:]
    assert "loaded 122 of the 122 tensors of ResNet" in second.stdout and "its keys under 'net.'" in second.stdout
    started = net_parameters(images.run_dirs()[-1] / "checkpoints" / "last.ckpt")
    trained = net_parameters(checkpoint)
    assert max((started[key] - trained[key]).abs().max().item() for key in started) < 1e-6


def test_a_1000_class_head_is_refused_strictly_and_left_as_built_otherwise(images, tmp_path):
    weights = saved_resnet(tmp_path / "imagenet_head.pth", 1000)
    line = error_line(images.run(*RESNET, "--num_classes", "10", "--weights", str(weights)))
    assert "fc.weight [1000, 512] in the file, [10, 512] in the net" in line and "--no-weights_strict" in line
    assert images.run_dirs() == []
    process = images.run(*RESNET, *STILL, "--num_classes", "10", "--weights", str(weights), "--no-weights_strict")
    assert process.returncode == 0, process.stderr[-3000:]
    assert "weights: loaded 120 of the 122 tensors" in process.stdout
    assert "kept as built, another shape in the file: fc.weight" in process.stdout
    [run_dir] = images.run_dirs()
    record = weights_record(run_dir)
    assert [item.split()[0] for item in record["shape_mismatch"]] == ["fc.weight", "fc.bias"]
    assert record["strict"] is False and record["missing"] == [] and record["unexpected"] == []
    saved = net_parameters(run_dir / "checkpoints" / "last.ckpt")
    assert largest_difference(saved, weights, [key for key in saved if not key.startswith("fc.")]) < 1e-6
    assert saved["fc.weight"].shape == (10, 512)


def bad_file(tmp_path: Path, kind: str) -> str:
    """A --weights value that cannot start a run."""
    path = tmp_path / f"{kind}.pth"
    if kind == "text":
        path.write_text("not a tensor file")
    elif kind == "not_a_state_dict":
        torch.save({"epoch": 3, "lr": 0.1}, path)
    elif kind == "whole_net":
        torch.save(torch.nn.Linear(3, 2), path)
    elif kind == "other_net":
        torch.save(torch.nn.Linear(3, 2).state_dict(), path)
    return str(path)


@pytest.mark.parametrize("kind, expected", [
    ("missing", "no such file"),
    ("text", "cannot be read with torch.load(weights_only=True)"),
    ("not_a_state_dict", "not a state dict"),
    # torch's own message advises weights_only=False, in bold for a terminal: neither is passed on.
    ("whole_net", "(UnpicklingError: it holds objects that are not tensors or plain values, such as a whole pickled "
                  "net)"),
    ("other_net", "none of its 2 keys (weight, bias) names a tensor of ResNet"),
])
def test_weights_that_cannot_start_a_run_are_one_error_line(images, tmp_path, kind, expected):
    line = error_line(images.run(*RESNET, "--weights", bad_file(tmp_path, kind)))
    assert expected in line and "\x1b" not in line and "two options" not in line
    assert images.run_dirs() == []


@pytest.mark.parametrize("arguments, expected", [
    (["--model_name", "torchvision:resnt18"], "closest: torchvision:resnet18"),
    (["--weights", "IMAGENET1K_V9"], "ResNet18_Weights has no IMAGENET1K_V9: choose one of IMAGENET1K_V1, DEFAULT"),
    (["--weights", "ResNet50_Weights.DEFAULT"], "ResNet50_Weights are not weights of resnet18"),
])
def test_unknown_torchvision_names_are_one_error_line(images, arguments, expected):
    assert expected in error_line(images.run(*RESNET, *arguments))
    assert images.run_dirs() == []


def test_named_weights_that_cannot_be_downloaded_say_to_pass_a_file(images, tmp_path):
    # An empty hub cache and a proxy that refuses at once: the download fails fast, and never reaches the network.
    # torch and urllib read these variables when the run downloads, so a forked run sees them.
    refused = "http://127.0.0.1:9"
    variables = {"TORCH_HOME": str(tmp_path / "torch_home"), "https_proxy": refused, "HTTPS_PROXY": refused,
                 "no_proxy": "", "NO_PROXY": ""}
    try:
        process = images.run(*RESNET, "--weights", "IMAGENET1K_V1", variables=variables, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.skip("the refused download hung on this machine")
    line = error_line(process)
    assert "https://download.pytorch.org/models/resnet18-" in line and "pass --weights PATH" in line
    assert images.run_dirs() == []


def test_an_own_module_takes_the_weights_into_its_net(images, tmp_path):
    source = Path(__file__).parent / "examples" / "injected_module.py"
    images.write("model/injected_module.py", source.read_text())
    weights = saved_resnet(tmp_path / "resnet18.pth", 1000)
    process = images.run("--model_name", "injected_module", "--net", "torchvision:resnet18", "--compile", "false",
                         *RESNET[2:], "--weights", str(weights))
    assert process.returncode == 0, process.stderr[-3000:]
    assert "loaded 122 of the 122 tensors of InjectedModule" in process.stdout and "into 'net.'" in process.stdout


def test_a_torchvision_segmentation_net_starts_from_scratch_without_fetching_a_backbone(monkeypatch):
    from utils.loading.torchvision_nets import torchvision_net_class

    def no_download(*arguments, **settings):
        raise AssertionError(f"a download was asked for: {arguments}")

    # torchvision's builders fetch their backbone's ImageNet weights through torch.hub by default.
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    net = torchvision_net_class("torchvision:lraspp_mobilenet_v3_large")(num_classes=3)
    assert net(torch.zeros(1, 3, 64, 64))["out"].shape == (1, 3, 64, 64)
