"""Learning rates per parameter group (a net's own param_groups() or --lr_groups) and --freeze/--unfreeze_at_epoch."""

import csv
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml
from conftest import FAST, Project, copy_project, error_line

from model.standard_net import StandardNet
from utils.config.settings import OptimizationSettings
from utils.errors import UserError
from utils.optimization import build_optimizer, group_rates
from utils.parameter_groups import optimizer_groups, pattern_groups
from utils.trainer.finetuning import FreezeUntilEpoch

EXAMPLES = Path(__file__).parent / "examples"
STANDARD = ("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "64", "--batch_size", "16",
            "--confusion_images", "off")
GROUPED_NET = '''
from torch import nn


class GroupedNet(nn.Module):
    def __init__(self, num_features: int = 16, num_classes: int = 10, leave_head_out: bool = False):
        super().__init__()
        self.body = nn.Linear(num_features, 8)
        self.head = nn.Linear(8, num_classes)
        self.leave_head_out = leave_head_out

    def forward(self, x):
        return self.head(self.body(x).relu())

    def param_groups(self):
        body = {"params": self.body.parameters(), "lr": 0.01, "name": "body"}
        return [body] if self.leave_head_out else [body, {"params": self.head.parameters(), "weight_decay": 0.1}]
'''


@pytest.fixture(scope="module")
def grouped_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A project whose model/ also holds GroupedNet (two groups: body at lr 0.01, head at --optimizer.lr)."""
    project = copy_project(tmp_path_factory.mktemp("groups") / "project")
    project.write("model/grouped_net.py", GROUPED_NET)
    project.write("model/tensor_lit_module.py", (EXAMPLES / "tensor_lit_module.py").read_text())
    return project


def run_folder(project: Project, *arguments: str) -> Path:
    """Run main.py to its end and return the one run folder it made."""
    before = set(project.run_dirs())
    process = project.run(*FAST, "--logger", "csv", "--log_every_n_steps", "1", *arguments)
    assert process.returncode == 0, process.stderr[-3000:]
    [made] = set(project.run_dirs()) - before
    return made


def lr_columns(run_dir: Path) -> dict[str, list[float]]:
    """Each logged learning-rate curve of the run's metrics.csv, by its name."""
    with open(run_dir / "csv" / "metrics.csv") as file:
        rows = list(csv.DictReader(file))
    return {name: [float(row[name]) for row in rows if row[name]] for name in rows[0] if name.startswith("lr")}


def state(path: Path, key: str) -> torch.Tensor:
    """One tensor of a checkpoint's state_dict."""
    return torch.load(path, weights_only=True)["state_dict"][key]


def test_a_nets_own_groups_each_log_their_learning_rate_and_are_recorded(grouped_project):
    run_dir = run_folder(grouped_project, "--model_name", "grouped_net", "--dataset", "standard_data",
                         "--num_samples", "64", "--batch_size", "16", "--experiment", "own_groups")
    curves = lr_columns(run_dir)
    assert set(curves) == {"lr-Adam/body", "lr-Adam/pg2"}
    assert curves["lr-Adam/body"] == [0.01, 0.01] and curves["lr-Adam/pg2"] == [0.001, 0.001]
    recorded = yaml.safe_load((run_dir / "csv" / "hparams.yaml").read_text())["param_groups"]
    assert recorded == [{"name": "body", "lr": 0.01, "weight_decay": 0.0, "parameters": 16 * 8 + 8},
                        {"name": "pg2", "lr": 0.001, "weight_decay": 0.1, "parameters": 8 * 10 + 10}]


def test_lr_groups_give_a_pattern_its_rate_and_one_cycle_scales_each_group(grouped_project):
    run_dir = run_folder(grouped_project, *STANDARD, "--lr_groups", "layers.2.*=0.1", "--scheduler", "one_cycle_lr",
                         "--experiment", "patterns")
    curves = lr_columns(run_dir)
    assert set(curves) == {"lr/layers.2.*", "lr/rest"}
    # one_cycle_lr's max_lr is each group's own lr: the head's curve stays 100 times the rest's at every step (with
    # one max_lr for both, the two curves would be one).
    head = curves["lr/layers.2.*"]
    assert max(head) <= 0.1 and len(set(head)) == 2
    assert all(head == pytest.approx(100 * rest) for head, rest in zip(curves["lr/layers.2.*"], curves["lr/rest"],
                                                                       strict=True))
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["lr_groups"] == ["layers.2.*=0.1"]


def test_frozen_weights_stay_until_the_thaw_epoch_then_train(grouped_project):
    before = set(grouped_project.run_dirs())
    process = grouped_project.run(*STANDARD, *FAST[2:], "--max_epochs", "2", "--save_top_k", "2", "--patience", "0",
                                  "--freeze", "layers.0.*", "--unfreeze_at_epoch", "1", "--experiment", "thaw")
    assert process.returncode == 0, process.stderr[-3000:]
    summary = process.stdout + process.stderr
    assert "650       Trainable params" in summary and "1.1 K     Non-trainable params" in summary
    [run_dir] = set(grouped_project.run_dirs()) - before
    [first] = (run_dir / "checkpoints").glob("epoch000-*.ckpt")
    [second] = (run_dir / "checkpoints").glob("epoch001-*.ckpt")
    torch.manual_seed(42)  # the run's seed, drawn again just before the net is built
    initial = StandardNet().state_dict()
    assert torch.equal(state(first, "net.layers.0.weight"), initial["layers.0.weight"])
    assert not torch.equal(state(first, "net.layers.2.weight"), initial["layers.2.weight"])
    assert not torch.equal(state(second, "net.layers.0.weight"), initial["layers.0.weight"])


def test_a_resumed_run_keeps_its_freeze_and_thaws_at_its_epoch(grouped_project):
    run_dir = run_folder(grouped_project, *STANDARD, "--freeze", "layers.0.*", "--unfreeze_at_epoch", "2",
                         "--experiment", "resumed_thaw")
    last = run_dir / "checkpoints" / "last.ckpt"
    frozen = state(last, "net.layers.0.weight")
    for epochs, thawed in (("2", False), ("3", True)):
        head = state(last, "net.layers.2.weight")
        process = grouped_project.run("--resume", str(run_dir), "--max_epochs", epochs)
        assert process.returncode == 0, process.stderr[-3000:]
        assert not torch.equal(state(last, "net.layers.2.weight"), head)
        assert torch.equal(state(last, "net.layers.0.weight"), frozen) is not thawed


@pytest.mark.parametrize(("arguments", "start"), [
    (("--freeze", "body*"), "error: --freeze body*: matches no parameter of StandardNet, whose parameters are named "
                            "layers.0.weight, layers.0.bias, layers.2.weight, layers.2.bias"),
    (("--lr_groups", "layers.2.*=0.1", "head.*=0.1"), "error: --lr_groups head.*: matches no parameter of StandardNet"),
    (("--lr_groups", "layers.*=0.1", "layers.2.*=0.2"), "error: --lr_groups layers.2.*: every parameter it matches"),
    (("--lr_groups", "layers.2.*"), "error: argument --lr_groups: expected PATTERN=LR"),
    (("--unfreeze_at_epoch", "1"), "error: --unfreeze_at_epoch: nothing is frozen to thaw"),
    (("--freeze", "layers.*"), "error: --freeze layers.*: freezes every trainable parameter of StandardNet"),
])
def test_bad_groups_and_freezes_are_one_error_line_and_no_run_folder(grouped_project, arguments, start):
    before = set(grouped_project.run_dirs())
    line = error_line(grouped_project.run(*STANDARD, *FAST, *arguments))
    assert line.startswith(start), line
    assert set(grouped_project.run_dirs()) == before


@pytest.mark.parametrize(("arguments", "start"), [
    (("--leave_head_out",), "error: GroupedNet.param_groups(): the trainable parameters head.weight, head.bias are "
                            "in no group, so they would not train"),
    (("--lr_groups", "body.*=0.1"), "error: --lr_groups: GroupedNet defines param_groups()"),
])
def test_a_nets_own_groups_must_hold_every_trainable_parameter(grouped_project, arguments, start):
    before = set(grouped_project.run_dirs())
    line = error_line(grouped_project.run("--model_name", "grouped_net", "--dataset", "standard_data", *FAST,
                                          *arguments))
    assert line.startswith(start), line
    assert set(grouped_project.run_dirs()) == before


@pytest.mark.parametrize("option", [("--freeze", "layer*"), ("--lr_groups", "layer*=0.1")])
def test_an_own_lightning_module_refuses_groups_and_freezing(grouped_project, option):
    line = error_line(grouped_project.run("--model_name", "tensor_lit_module", "--dataset", "standard_data", *option))
    assert line.startswith(f"error: {option[0]}: TensorLitModule is a LightningModule and configures its optimizer")


def test_the_first_matching_pattern_wins_and_the_rest_train_at_the_optimizers_lr():
    net = StandardNet()
    groups = pattern_groups(net, ["layers.0.weight=0.5", "layers.0.*=0.2"])
    assert [(group["name"], group.get("lr"), len(group["params"])) for group in groups] == [
        ("layers.0.weight", 0.5, 1), ("layers.0.*", 0.2, 1), ("rest", None, 2)]
    optimizer = build_optimizer(groups, OptimizationSettings(optimizer_arguments={"lr": 0.01}))
    assert group_rates(optimizer) == [0.5, 0.2, 0.01]


def test_a_parameter_in_two_of_a_nets_groups_is_refused():
    net = StandardNet()
    net.param_groups = lambda: [{"params": net.parameters()}, {"params": [net.layers[0].weight]}]
    with pytest.raises(UserError, match=r"parameter layers\.0\.weight is in groups pg1 and pg2"):
        optimizer_groups(net, OptimizationSettings())


def test_a_thaw_across_several_processes_is_refused():
    freezing = FreezeUntilEpoch({"layers.0.weight"}, unfreeze_at_epoch=1)
    with pytest.raises(UserError, match="processes of this run would each train the thawed parameters"):
        freezing.setup(SimpleNamespace(world_size=2), SimpleNamespace(net=StandardNet()), "fit")
    module = SimpleNamespace(net=StandardNet())
    FreezeUntilEpoch({"layers.0.weight"}, unfreeze_at_epoch=None).setup(SimpleNamespace(world_size=2), module, "fit")
    assert not module.net.layers[0].weight.requires_grad and module.net.layers[0].bias.requires_grad


def test_a_run_resumed_in_the_middle_of_a_thawed_epoch_trains_the_thawed_parameters():
    # Lightning does not start an epoch resumed in its middle: the thaw comes when training starts.
    module, freezing = SimpleNamespace(net=StandardNet()), FreezeUntilEpoch({"layers.0.weight"}, unfreeze_at_epoch=1)
    freezing.setup(SimpleNamespace(world_size=1), module, "fit")
    freezing.on_train_start(SimpleNamespace(current_epoch=0), module)
    assert not module.net.layers[0].weight.requires_grad
    freezing.on_train_start(SimpleNamespace(current_epoch=1), module)
    assert module.net.layers[0].weight.requires_grad
