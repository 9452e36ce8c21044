"""Soft targets (label smoothing, mixup, label distributions): the loss trains on them as they are, the metrics read
the hard targets they lean to; targets that are no probabilities, and outputs no loss can read, are one line."""

import json

import pytest
import torch
import torch.nn.functional as F
from conftest import error_line

from utils.errors import UserError
from utils.tasks.kinds import fitted, shape_problem
from utils.tasks.layout import class_axis
from utils.tasks.losses import TaskLoss, check_probabilities
from utils.tasks.metric_catalogue import check_metric_fits_task

# Scales its inputs, which are the class scores themselves: what it predicts is known whatever it learns.
SCALED_INPUTS = """
import torch
from torch import nn


class ScaledInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, scores):
        return self.scale * scores
"""

# Scores and the class probabilities of six items, the first two one-hot, as a mixup pipeline gives them: the
# likeliest scores match the likeliest class in the first four items and not in the last two.
SOFT_CLASSES = [([2.0, 0.0, 0.0], [1.0, 0.0, 0.0]), ([0.0, 1.0, 0.0], [0.0, 1.0, 0.0]),
                ([1.0, 0.5, 0.0], [0.7, 0.3, 0.0]), ([0.0, 0.0, 1.0], [0.2, 0.0, 0.8]),
                ([1.0, 0.0, 0.0], [0.1, 0.6, 0.3]), ([0.0, 2.0, 1.0], [0.0, 0.45, 0.55])]
# One logit an item against targets from 0 to 1, the first two 0 and 1: the logit's side matches the side of 0.5
# in the first four.
SOFT_BINARY = [(2.0, 1.0), (-1.0, 0.0), (1.5, 0.9), (-0.5, 0.1), (0.5, 0.3), (-2.0, 0.6)]

DATASET = """
import torch
from torch.utils.data import Dataset

ITEMS = {items}


class {name}(Dataset):
    def __init__(self, split: str = "train"):
        self.items = [(torch.tensor(scores), torch.tensor(target)) for scores, target in ITEMS]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]
"""

# Batches of 4 and 2: the epoch's loss weighs each item alike, not each batch.
RUN = ("--model_name", "scaled_inputs", "--batch_size", "4", "--max_epochs", "1", "--lr", "0.01", "--metrics",
       "accuracy", "--confusion_images", "off")


def write_files(project, name: str, items: list) -> None:
    """The net and a dataset of `items` under data/<name>.py."""
    project.write("model/scaled_inputs.py", SCALED_INPUTS)
    class_name = "".join(part.capitalize() for part in name.split("_"))
    project.write(f"data/{name}.py", DATASET.format(items=repr(items), name=class_name))


def finished_run(fork_server, project, *arguments: str) -> tuple[dict, float, str]:
    """A run's test results, the scale its last checkpoint holds (one epoch: the checkpoint tested), its output."""
    process = fork_server.run(project.root, *RUN, *arguments, "--experiment", "soft")
    assert process.returncode == 0, process.stderr[-3000:]
    run_dir = project.logs / "soft" / "version_0"
    scale = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]["net.scale"]
    return json.loads((run_dir / "results.json").read_text())["test"], scale, process.stdout


def test_class_probabilities_train_cross_entropy_as_they_are_and_accuracy_reads_the_likeliest_class(fork_server,
                                                                                                     project):
    write_files(project, "soft_classes", SOFT_CLASSES)
    results, scale, output = finished_run(fork_server, project, "--dataset", "soft_classes")
    assert "gives float targets of the class scores' shape, read as class probabilities" in output
    scores, targets = (torch.tensor([item[part] for item in SOFT_CLASSES]) for part in (0, 1))
    by_hand = -(targets * F.log_softmax(scale * scores, dim=1)).sum(1).mean()
    assert results["soft_classes"]["loss"] == pytest.approx(by_hand.item(), rel=1e-5)
    assert results["soft_classes"]["accuracy"] == pytest.approx(4 / 6)


def test_soft_binary_targets_train_as_they_are_and_the_metrics_count_from_half_up(fork_server, project):
    write_files(project, "soft_binary", SOFT_BINARY)
    results, scale, _ = finished_run(fork_server, project, "--dataset", "soft_binary", "--task", "binary")
    logits, targets = (torch.tensor([item[part] for item in SOFT_BINARY]) for part in (0, 1))
    # Rounded to 0 and 1, the targets would give another loss: the one the run reported before soft targets counted.
    by_hand = F.binary_cross_entropy_with_logits(scale * logits, targets)
    assert by_hand.item() != pytest.approx(F.binary_cross_entropy_with_logits(scale * logits, targets.round()).item())
    assert results["soft_binary"]["loss"] == pytest.approx(by_hand.item(), rel=1e-5)
    assert results["soft_binary"]["accuracy"] == pytest.approx(4 / 6)


@pytest.mark.parametrize(("items", "arguments", "expected"), [
    ([([1.0, 0.0], [1.0, 1.0])] * 4, (), "gives float targets of the class scores' shape (2, 2), which --task "
     "classification reads as class probabilities, but they are none (an item's sum to 2"),
    ([([1.0, 0.0], [0.5, 0.5])] * 4, ("--ignore_index", "0"), "gives class probabilities (float targets of the class "
     "scores' shape (2, 2)), which hold no class index for --ignore_index 0 to leave out"),
    ([(1.0, 1.5)] * 4, ("--task", "binary"), "has the target 1.5, but --task binary needs targets from 0 to 1"),
    ([([1.0, 0.0], [0.5, 0.5])] * 4, ("--task", "regression", "--metrics", "accuracy:task=multiclass,num_classes=2"),
     "--metrics accuracy scores classes, and --task regression hands it real-valued outputs"),
    ([([1.0, 0.0], [1, 0])] * 4, (), "(these targets of the scores' shape are integers, not probabilities: give class "
     "indices, one_hot.argmax(1), or float probabilities, one_hot.float())"),
], ids=["not_probabilities", "with_ignore_index", "binary_past_one", "class_metric_for_regression",
        "integer_one_hot"])
def test_targets_no_loss_can_read_as_given_are_one_error_line(fork_server, project, items, arguments, expected):
    write_files(project, "odd_targets", items)
    process = fork_server.run(project.root, *RUN, "--dataset", "odd_targets", *arguments)
    assert expected in error_line(process)
    assert not project.logs.exists() or not list(project.logs.iterdir())


def test_a_later_batch_of_targets_that_are_no_probabilities_stops_the_run_in_one_line(fork_server, project):
    # The pre-run check reads two items; nothing in torch refuses such a batch later, so the loss checks each.
    write_files(project, "odd_targets", [*SOFT_CLASSES[:4], ([1.0, 0.0, 0.0], [1.0, 1.0, 0.0])])
    process = fork_server.run(project.root, *RUN, "--dataset", "odd_targets")
    assert process.returncode == 2 and "Traceback" not in process.stderr, process.stderr[-3000:]
    assert process.stderr.strip().splitlines()[-1].startswith(
        "error: a batch gives float targets of the class scores' shape (1, 3), which --task classification reads as "
        "class probabilities, but they are none (an item's sum to 2")


def test_scores_trained_by_mse_toward_0_and_1_are_read_at_one_half_under_binary(fork_server, project):
    # The way the refusal of a classification metric under regression points: 0.3 is negative, -2.0 a miss.
    write_files(project, "risk", [(2.0, 1.0), (-1.0, 0.0), (1.5, 1.0), (-0.5, 0.0), (0.3, 0.0), (-2.0, 1.0)])
    results, _, _ = finished_run(fork_server, project, "--dataset", "risk", "--task", "binary", "--loss", "mse")
    assert results["risk"]["accuracy"] == pytest.approx(5 / 6)


def test_bf16_outputs_meet_soft_targets_unrounded_in_the_loss():
    outputs = torch.randn(4, 3).bfloat16()
    targets = torch.tensor([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.2, 0.2, 0.6]])
    loss, _ = TaskLoss("cross_entropy", "classification").mean_and_count(outputs, targets)
    assert loss.item() == pytest.approx(F.cross_entropy(outputs.float(), targets).item(), rel=1e-6)
    binary, _ = TaskLoss("bce_with_logits", "binary").mean_and_count(outputs[:, 0], targets[:, 0])
    assert binary.item() == pytest.approx(F.binary_cross_entropy_with_logits(outputs[:, 0].float(),
                                                                              targets[:, 0]).item(), rel=1e-6)


@pytest.mark.parametrize(("ending", "expected"), [
    ("F.log_softmax(self.layer(x), dim=1)", "a log_softmax (an nn.LogSoftmax layer or F.log_softmax"),
    ("F.logsigmoid(self.layer(x))", "a log_sigmoid (an nn.LogSigmoid layer or F.logsigmoid"),
])
def test_a_log_softmax_or_log_sigmoid_under_bce_with_logits_is_one_error_line(fork_server, project, ending, expected):
    project.write("model/log_net.py", f"""
import torch.nn.functional as F
from torch import nn


class LogNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(16, 10)

    def forward(self, x):
        return {ending}
""")
    process = fork_server.run(project.root, "--model_name", "log_net", "--dataset", "standard_data", "--task",
                              "multilabel")
    assert f"LogNet returns the result of {expected}" in error_line(process)
    assert "reads them as logits, and none of these is ever positive" in error_line(process)


def test_probabilities_on_the_last_axis_of_a_sequence_are_read_there_and_moved_with_the_scores():
    scores = torch.randn(2, 5, 3)
    targets = torch.softmax(torch.randn(2, 5, 3), dim=-1)
    assert class_axis("classification", scores, targets, None, "Tagger") == -1
    assert class_axis("classification", scores.transpose(1, 2), targets.transpose(1, 2), None, "Tagger") == 1
    with pytest.raises(UserError, match="pass --class_axis 1 or --class_axis -1"):
        square = torch.full((2, 3, 3), 1 / 3)
        class_axis("classification", torch.randn(2, 3, 3), square, None, "Tagger")
    _, hard = fitted("classification", scores.transpose(1, 2), targets.transpose(1, 2))
    for dtype in (torch.float16, torch.float64):  # numpy's np.eye(C)[y] gives float64
        assert class_axis("classification", scores, targets.to(dtype), None, "Tagger") == -1
    assert torch.equal(hard, targets.argmax(-1))
    loss, items = TaskLoss("cross_entropy", "classification").mean_and_count(scores.transpose(1, 2),
                                                                              targets.transpose(1, 2))
    assert items == 10
    assert loss.item() == pytest.approx(-(targets * F.log_softmax(scores, -1)).sum(-1).mean().item(), rel=1e-6)


def test_the_metrics_read_soft_binary_targets_from_half_up_and_keep_the_ignored_value():
    _, hard = fitted("binary", torch.zeros(5), torch.tensor([0.2, 0.5, 0.7, 1.0, -100.0]))
    assert hard.tolist() == [0, 1, 1, 1, -100]
    # A later batch's target outside 0 to 1 stays outside, so the metrics refuse it rather than count it.
    _, hard = fitted("binary", torch.zeros(3), torch.tensor([1.5, -0.3, 1.2]))
    assert hard.tolist() == [2, -1, 2]


def test_probabilities_rounded_to_bfloat16_still_sum_to_one_and_void_pixels_are_named():
    probabilities = torch.distributions.Dirichlet(torch.full((50,), 0.05)).sample((64,))
    check_probabilities("classification", probabilities.bfloat16(), "a batch", None)  # bf16-true rounds the batch
    void = F.one_hot(torch.tensor([[0, 1], [2, 0]]), 3).float().movedim(-1, 0)[None]
    void[..., 0, 0] = 0.0
    with pytest.raises(UserError, match=r"a void pixel\?, has no class: give class indices, with --ignore_index"):
        check_probabilities("segmentation", void, "dataset 'train' (Masks)", None)
    classes_last = F.one_hot(torch.randint(3, (2, 4, 4)), 3).float()
    assert "the targets hold their classes last, as F.one_hot gives them" in shape_problem(
        "segmentation", torch.randn(2, 3, 4, 4), classes_last)


# A net with its own loss and its own metric, whose logits all lie in [0, 1]: read through their sigmoid, as the
# template reads an own loss's outputs, each is positive; read as probabilities, none is.
OWN_METRIC_NET = """
import torch.nn.functional as F
from torchmetrics.classification import BinaryAccuracy

from model.scaled_inputs import ScaledInputs


class OwnMetricNet(ScaledInputs):
    def loss(self, outputs, target):
        return F.binary_cross_entropy_with_logits(outputs, target)

    def metrics(self):
        return {"acc": BinaryAccuracy()}
"""


def test_metrics_none_leaves_a_net_whose_shapes_fit_reading_its_own_metrics_as_before(fork_server, project):
    write_files(project, "positives", [(0.1, 1.0), (0.2, 1.0), (0.3, 1.0), (0.4, 1.0)])
    project.write("model/own_metric_net.py", OWN_METRIC_NET)
    process = fork_server.run(project.root, "--model_name", "own_metric_net", "--dataset", "positives", "--task",
                              "binary", "--metrics", "none", "--max_epochs", "1", "--lr", "0.001", "--experiment",
                              "own")
    assert process.returncode == 0, process.stderr[-3000:]
    results = json.loads((project.logs / "own" / "version_0" / "results.json").read_text())["test"]["positives"]
    assert set(results) == {"loss", "acc"} and results["acc"] == 1.0


# pytorch/examples' VAE flattens its images and scores them in its own loss: its outputs [B, 16] never take the
# shape of its targets, the images [B, 1, 4, 4]. Here without the sampling, so the loss can be checked by hand.
FLAT_AUTOENCODER = """
import torch
import torch.nn.functional as F
from torch import nn


class FlatAutoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.5))

    def forward(self, x):
        return self.scale * x.view(-1, 16)

    def loss(self, recon, x):
        return F.mse_loss(recon, x.view(-1, 16))
"""

IMAGES = """
import torch
from torch.utils.data import Dataset


class Images(Dataset):
    def __init__(self, split: str = "train"):
        self.images = torch.arange(6 * 16, dtype=torch.float32).reshape(6, 1, 4, 4) / 96

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], self.images[index]
"""


def test_a_net_whose_own_loss_reads_other_shapes_logs_that_loss_alone_under_metrics_none(fork_server, project):
    project.write("model/flat_autoencoder.py", FLAT_AUTOENCODER)
    project.write("data/images.py", IMAGES)
    arguments = ("--model_name", "flat_autoencoder", "--dataset", "images", "--task", "regression")
    assert "only the metrics need these shapes, and --metrics none logs the loss alone" in error_line(
        fork_server.run(project.root, *arguments))
    assert "give --metrics none alone, or drop none" in error_line(
        fork_server.run(project.root, *arguments, "--metrics", "none", "mae"))
    process = fork_server.run(project.root, *arguments, "--metrics", "none", "--batch_size", "4", "--max_epochs", "1",
                              "--experiment", "flat")
    assert process.returncode == 0, process.stderr[-3000:]
    run_dir = project.logs / "flat" / "version_0"
    results = json.loads((run_dir / "results.json").read_text())["test"]["images"]
    scale = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]["net.scale"]
    images = torch.arange(6 * 16, dtype=torch.float32) / 96
    assert results == {"loss": pytest.approx(((scale - 1) ** 2 * images**2).mean().item(), rel=1e-5)}


@pytest.mark.parametrize("name", ["accuracy", "auroc", "dice", "mean_iou"])
def test_a_metric_of_classes_under_regression_is_refused_before_the_run(name):
    with pytest.raises(UserError, match=f"--metrics {name} scores classes, and --task regression hands it"):
        check_metric_fits_task(name, "regression")
    check_metric_fits_task("mae", "regression")


def test_a_trailing_1_of_regression_targets_is_dropped_as_one_of_the_outputs_is():
    outputs, targets = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([[1.0], [2.0], [3.0]])
    loss, count = TaskLoss("mse", "regression").mean_and_count(outputs, targets)
    assert (loss.item(), count) == (pytest.approx(1 / 3), 3)  # broadcast to [3, 3] it would be 21 / 9
    assert shape_problem("regression", outputs, targets) is None
