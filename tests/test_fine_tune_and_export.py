"""The README's whole path, end to end: a torchvision ResNet-18 fine-tuned from a saved state dict with its backbone
frozen, then thawed, the head and the backbone each at its own learning rate, then exported in each format."""

import json
from pathlib import Path

import pytest
import torch
import torchvision
from conftest import Project, copy_project
from test_export import ATOL, RTOL, SUFFIXES, load_and_run
from test_param_groups_and_freezing import lr_columns, state
from test_pretrained_weights import TINY_IMAGES

pytestmark = pytest.mark.filterwarnings("ignore:.torch.jit.load. is deprecated:FutureWarning")

BACKBONE = ("conv1.*", "bn1.*", "layer*")


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, Path, dict[str, torch.Tensor]]:
    """A project in which ResNet-18 trained 2 epochs from a saved state dict, the backbone frozen for the first; the
    run folder and the state dict it started from."""
    project = copy_project(tmp_path_factory.mktemp("fine_tune") / "project")
    project.write("data/tiny_images.py", TINY_IMAGES)
    torch.manual_seed(7)
    pretrained = torchvision.models.resnet18(num_classes=10).state_dict()
    torch.save(pretrained, project.root / "resnet18.pth")
    process = project.run("--model_name", "torchvision:resnet18", "--num_classes", "10", "--dataset", "tiny_images",
                          "--val_fraction", "0.25", "--weights", "resnet18.pth", "--freeze", *BACKBONE,
                          "--unfreeze_at_epoch", "1",
                          "--lr_groups", "fc.*=0.01", "--optimizer.lr", "0.001", "--max_epochs", "2",
                          "--batch_size", "8", "--save_top_k", "2", "--patience", "0", "--logger", "csv",
                          "--log_every_n_steps", "1", "--confusion_images", "off")
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    return project, run_dir, pretrained


def test_the_backbone_starts_from_the_file_stays_frozen_then_thaws_and_each_group_has_its_rate(fine_tuned):
    _, run_dir, pretrained = fine_tuned
    [first] = (run_dir / "checkpoints").glob("epoch000-*.ckpt")
    [second] = (run_dir / "checkpoints").glob("epoch001-*.ckpt")
    for key in ("conv1.weight", "layer1.0.conv1.weight", "layer4.1.conv2.weight"):
        assert torch.equal(state(first, f"net.{key}"), pretrained[key]), key  # frozen through epoch 0
        assert not torch.equal(state(second, f"net.{key}"), pretrained[key]), key  # thawed at epoch 1
    assert not torch.equal(state(first, "net.fc.weight"), pretrained["fc.weight"])  # the head trains throughout
    curves = lr_columns(run_dir)
    assert set(curves) == {"lr-Adam/fc.*", "lr-Adam/rest"}
    assert set(curves["lr-Adam/fc.*"]) == {0.01} and set(curves["lr-Adam/rest"]) == {0.001}


@pytest.mark.parametrize("export_format", SUFFIXES)
def test_the_fine_tuned_resnet_exports_and_loads_back_with_its_outputs(fine_tuned, export_format):
    project, run_dir, _ = fine_tuned
    checkpoint = Path(json.loads((run_dir / "results.json").read_text())["best_checkpoint"])
    checkpoint = checkpoint if checkpoint.is_absolute() else project.root / checkpoint
    process = project.run("--mode", "export", "--ckpt", str(checkpoint), "--format", export_format,
                          "--batch_size", "4")
    assert process.returncode == 0, process.stderr[-3000:]
    net = torchvision.models.resnet18(num_classes=10)
    net.load_state_dict({key.removeprefix("net."): value for key, value in
                         torch.load(checkpoint, weights_only=True)["state_dict"].items() if key.startswith("net.")})
    inputs = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = net.eval()(inputs)
        got = load_and_run(checkpoint.with_suffix(SUFFIXES[export_format]), inputs)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=RTOL)
