"""The shapes real tasks use: a tagger's channels-last scores against padded tags, and boxes in a list per image.

The nets and datasets are the README's worked examples in tests/examples/ (tagger_net, tagged_data, box_net,
boxes_data), and small ones written here whose numbers are known by hand.
"""

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import error_line
from forked_main import ForkServer
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_tasks import QUICK, add_examples, last_scalars
from torch.nn import functional as F
from torchmetrics import MeanMetric

from utils.errors import UserError
from utils.tasks.given_targets import GivenTargetsMetrics
from utils.tasks.layout import class_axis, classes_second
from utils.tasks.losses import TaskLoss

TAGGER = ("--model_name", "tagger_net", "--dataset", "tagged_data", "--lr", "0.05", *QUICK, "--max_epochs", "1")

# Predicts each token's tag as its id modulo 3, whatever it learns: the scale only sharpens the scores.
ORACLE_NET = """
import torch
import torch.nn.functional as F
from torch import nn


class OracleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(5.0))

    def forward(self, tokens):
        return self.scale * F.one_hot(tokens % 3, 3).float()
"""

# Four sequences, 10 tokens: 8 tags equal the id modulo 3, two do not (4 -> 0, 9 -> 1). Padding token 0 is
# predicted as tag 0, which is wrong against the padding tag -100 wherever it is counted. A fifth sequence is all
# padding: a batch of it alone has nothing to count.
KNOWN_DATA = """
import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset

ITEMS = [([1, 2, 3, 4], [1, 2, 0, 0]), ([5, 6], [2, 0]), ([7, 8, 9], [1, 2, 1]), ([2], [2]),
         ([4, 5], [-100, -100])]


class KnownData(Dataset):
    def __init__(self, split: str = "train"):
        self.items = [(torch.tensor(tokens), torch.tensor(tags)) for tokens, tags in ITEMS]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]

    @staticmethod
    def collate_fn(items):
        tokens, tags = zip(*items)
        return pad_sequence(tokens, batch_first=True), pad_sequence(tags, batch_first=True, padding_value=-100)
"""


@pytest.mark.parametrize(("outputs", "targets", "axis"), [
    ((4, 10), (4,), 1), ((4, 7, 10), (4, 7), -1), ((4, 10, 7), (4, 7), 1), ((4, 5, 6, 3), (4, 5, 6), -1),
    ((4, 3, 5, 6), (4, 5, 6), 1), ((4, 7, 7), (4, 3), 1),  # the last fits neither: the shape check says why
])
def test_the_class_axis_is_read_from_the_shapes(outputs, targets, axis):
    assert class_axis("classification", torch.zeros(outputs), torch.zeros(targets), None, "Net") == axis
    assert class_axis("multilabel", torch.zeros(outputs), torch.zeros(targets), None, "Net") is None


def test_when_both_axes_fit_class_axis_decides_and_its_absence_is_a_user_error():
    scores, tags = torch.randn(2, 3, 3), torch.zeros(2, 3)
    with pytest.raises(UserError, match="--class_axis 1 or --class_axis -1"):
        class_axis("segmentation", scores, tags, None, "Net")
    assert class_axis("segmentation", scores, tags, -1, "Net") == -1
    assert torch.equal(classes_second(scores, -1), scores.transpose(1, 2))
    assert torch.equal(classes_second(scores, 1), scores)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "l1", "smooth_l1", "bce_with_logits"])
def test_every_loss_leaves_out_the_ignored_targets(loss):
    generator = torch.Generator().manual_seed(0)
    scores, tags = torch.randn(2, 3, 5, generator=generator), torch.randint(0, 3, (2, 5), generator=generator)
    padded = tags.clone()
    padded[1, 3:] = -100
    kept, count = TaskLoss(loss, "classification", ignore_index=-100).mean_and_count(scores, padded)
    # The same loss on the real positions alone, as [N, C] against [N].
    real = padded != -100
    alone = TaskLoss(loss, "classification")(scores.movedim(1, -1)[real], tags[real])
    assert kept.item() == pytest.approx(alone.item())
    assert int(count) == 8 * (1 if loss == "cross_entropy" else 3)  # one number a tag, or one a class score
    # A batch of padding alone: no loss and no gradient, never a NaN to train on.
    nothing = scores.clone().requires_grad_()
    empty = TaskLoss(loss, "classification", ignore_index=-100)(nothing, torch.full_like(tags, -100))
    empty.backward()
    assert empty.item() == 0 and torch.equal(nothing.grad, torch.zeros_like(scores))
    binary = TaskLoss("bce_with_logits", "binary", ignore_index=-1)(scores[:, 0], padded.clamp(-1, 1))
    assert binary.item() == pytest.approx(F.binary_cross_entropy_with_logits(
        scores[:, 0][real], padded.clamp(-1, 1)[real].float()).item())


def fitted(fork_server: ForkServer, project, experiment: str, *arguments: str) -> tuple[Path, dict]:
    """Run main.py to the end (in a fork) under its own experiment; return its run folder and results.json."""
    process = fork_server.run(project.root, "--experiment", experiment, *arguments)
    assert process.returncode == 0, process.stderr[-3000:]
    run_dir = project.logs / experiment / "version_0"
    return run_dir, json.loads((run_dir / "results.json").read_text())


def recorded_task(run_dir: Path) -> dict:
    """The task settings a run's last checkpoint records (with what the pre-run batch read from the shapes)."""
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["hyper_parameters"]["task"]


def test_a_tagger_learns_on_padded_sequences_with_ignore_index(fork_server, project):
    add_examples(project, "tagger_net", "tagged_data")
    run_dir, results = fitted(fork_server, project, "tagger", *TAGGER, "--ignore_index", "-100")
    scalars = last_scalars(run_dir)
    assert {"train/loss", "val/tagged_data/loss", "val/tagged_data/accuracy", "test/tagged_data/f1"} <= set(scalars)
    assert results["val"]["tagged_data"]["accuracy"] > 0.9  # three tags: chance is a third
    assert 0 <= results["test"]["tagged_data"]["loss"] < 0.5
    assert recorded_task(run_dir)["class_axis"] == -1  # read from [B, T, 3] against [B, T]


def test_the_per_token_accuracy_and_loss_leave_out_padding_whatever_the_batches(fork_server, project):
    project.write("model/oracle_net.py", ORACLE_NET)
    project.write("data/known_data.py", KNOWN_DATA)
    arguments = ("--ignore_index", "-100", "--metrics", "accuracy")
    # One sequence a batch: a step on the all-padding one trains on nothing rather than stopping the run at a NaN.
    run_dir, results = fitted(fork_server, project, "known", "--model_name", "oracle_net", "--dataset", "known_data",
                              *arguments, "--batch_size", "1", "--max_epochs", "1", "--lr", "0.001")
    # By hand: 8 of the 10 real tokens are right; counting the padded positions too would give 8 of 17.
    assert results["val"]["known_data"]["accuracy"] == pytest.approx(8 / 10)
    # Each real token's loss is log(e^s + 2) less s where its tag is right: the mean over the 10, not over sequences.
    scale = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]["net.scale"].item()
    by_hand = math.log(math.exp(scale) + 2) - 0.8 * scale
    assert results["test"]["known_data"]["loss"] == pytest.approx(by_hand, rel=1e-5)
    for batch_size in ("2", "5"):
        _, tested = fitted(fork_server, project, f"batches_of_{batch_size}", "--mode", "test", "--ckpt",
                           str(run_dir / "checkpoints" / "last.ckpt"), *arguments, "--batch_size", batch_size)
        assert tested["test"]["known_data"]["loss"] == pytest.approx(by_hand, rel=1e-5)
        assert tested["test"]["known_data"]["accuracy"] == pytest.approx(8 / 10)


def test_shapes_that_fit_both_class_axes_need_class_axis_which_decides(fork_server, project):
    add_examples(project, "tagger_net", "tagged_data")
    square = (*TAGGER, "--ignore_index", "-100", "--min_length", "3", "--max_length", "3")  # [B, 3, 3] for [B, 3]
    last_dir, last = fitted(fork_server, project, "last", *square, "--class_axis", "-1")
    second_dir, second = fitted(fork_server, project, "second", *square, "--class_axis", "1")
    assert last["val"]["tagged_data"]["accuracy"] > 0.9
    # Read across time steps, a token's scores say nothing about the other tokens' tags: about chance.
    assert second["val"]["tagged_data"]["accuracy"] < 0.6
    assert (recorded_task(last_dir)["class_axis"], recorded_task(second_dir)["class_axis"]) == (-1, 1)


TAGS = ("--model_name", "tagger_net", "--dataset", "tagged_data")
REFUSALS = {
    "padding_without_ignore_index": (TAGS, ("target -100", "--ignore_index -100")),
    "both_axes_fit": ((*TAGS, "--ignore_index", "-100", "--min_length", "3", "--max_length", "3"),
                      ("(2, 3, 3)", "(2, 3)", "--class_axis 1 or --class_axis -1")),
    "class_axis_against_the_shapes": ((*TAGS, "--ignore_index", "-100", "--class_axis", "1"),
                                      ("TaggerNet", "channels last", "not on axis 1")),
    "metric_without_ignore_index": ((*TAGS, "--ignore_index", "-100", "--metrics", "dice"),
                                    ("--metrics dice", "--ignore_index -100")),
    "class_axis_for_regression": (("--model_name", "standard_net", "--dataset", "standard_data", "--task",
                                   "regression", "--class_axis", "-1"), ("--class_axis", "--task regression")),
    "ignore_index_for_regression": (("--model_name", "standard_net", "--dataset", "standard_data", "--task",
                                     "regression", "--ignore_index", "0"), ("--ignore_index", "--task regression")),
    "task_metrics_for_list_targets": (("--model_name", "box_net", "--dataset", "boxes_data", "--metrics", "mae"),
                                      ("--metrics needs tensor targets", "gives list", "metrics()")),
    "list_targets_without_own_loss": (("--model_name", "standard_net", "--dataset", "boxes_data"),
                                      ("BoxesData", "got list", "loss(outputs, targets)")),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_shapes_and_options_that_cannot_apply_are_one_error_line(fork_server, project, case):
    add_examples(project, "tagger_net", "tagged_data", "box_net", "boxes_data")
    arguments, words = REFUSALS[case]
    line = error_line(fork_server.run(project.root, *arguments))
    assert all(word in line for word in words), line
    assert not project.logs.exists()


HITS_NET = """
import torch
from torchmetrics import Metric

from model.box_net import BoxNet


class BoxHits(Metric):
    def __init__(self):
        super().__init__()
        self.add_state("hits", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("images", torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, outputs, targets):
        for box, boxes in zip(outputs, targets, strict=True):
            self.hits += ((boxes - box).abs().sum(dim=1).min() < 0.5).float()
            self.images += 1

    def compute(self):
        return self.hits / self.images


class BoxHitsNet(BoxNet):
    def metrics(self):
        return {"hits": BoxHits()}
"""


def test_targets_as_given_weigh_the_loss_by_items_and_reach_the_net_s_metrics_untouched():
    seen = []

    class Boxes(MeanMetric):
        def update(self, outputs, targets):
            seen.append((outputs.requires_grad, targets))
            boxes = targets["boxes"] if isinstance(targets, dict) else [target["boxes"] for target in targets]
            super().update(sum(len(image_boxes) for image_boxes in boxes))

    ours = GivenTargetsMetrics({"boxes": Boxes()})
    outputs = torch.ones(3, 4, requires_grad=True)
    three = [{"boxes": torch.zeros(count, 4), "labels": torch.zeros(count)} for count in (1, 2, 3)]
    ours.update(torch.tensor(1.0), outputs, three)
    ours.update(torch.tensor(4.0), outputs[:1], {"boxes": [torch.zeros(5, 4)], "labels": [torch.zeros(5)]})
    values = ours.compute()
    assert values["loss"].item() == pytest.approx((3 * 1.0 + 1 * 4.0) / 4)  # weighted by the items of each batch
    assert values["boxes"].item() == pytest.approx((6 + 5) / 2)  # boxes per batch: 1 + 2 + 3, then 5
    assert seen[0][1] is three and not seen[0][0]  # the same list of dicts, the outputs without their graph


def epoch_losses(run_dir: Path) -> list[float]:
    """Every value of train/loss a run logged, one per epoch."""
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return [event.value for event in events.Scalars("train/loss")]


def test_a_box_regressor_with_list_targets_trains_on_its_own_loss(fork_server, project):
    add_examples(project, "box_net", "boxes_data")
    boxes = ("--dataset", "boxes_data", "--lr", "0.01", *QUICK)
    run_dir, results = fitted(fork_server, project, "boxes", "--model_name", "box_net", *boxes)
    scalars = last_scalars(run_dir)
    assert set(results["val"]["boxes_data"]) == set(results["test"]["boxes_data"]) == {"loss"}
    assert {"train/loss", "val/boxes_data/loss", "val/loss", "test/boxes_data/loss"} <= set(scalars)
    losses = epoch_losses(run_dir)
    assert len(losses) == 2 and losses[1] < losses[0]  # the epochs' mean train loss goes down
    project.write("model/box_hits_net.py", HITS_NET)
    _, results = fitted(fork_server, project, "hits", "--model_name", "box_hits_net", *boxes, "--monitor", "val/hits",
                        "--monitor_mode", "max")
    assert set(results["val"]["boxes_data"]) == set(results["test"]["boxes_data"]) == {"loss", "hits"}
    assert 0 <= results["val"]["boxes_data"]["hits"] <= 1


DETECTOR_NET = """
import torch

from model.box_net import BoxNet


class BoxListNet(BoxNet):
    \"\"\"Outside training, one dict of boxes and scores per image, as torchvision's detectors return.\"\"\"

    def forward(self, images):
        boxes = super().forward(images)
        if self.training:
            return boxes
        return [{"boxes": box.unsqueeze(0), "scores": box.sum().reshape(1)} for box in boxes]

    def loss(self, outputs, targets):
        if isinstance(outputs, list):
            outputs = torch.cat([output["boxes"] for output in outputs])
        return super().loss(outputs, targets)
"""


def test_a_detector_s_list_of_dicts_is_kept_whole_by_predict(fork_server, project):
    add_examples(project, "box_net", "boxes_data")
    project.write("model/box_list_net.py", DETECTOR_NET)
    run_dir, _ = fitted(fork_server, project, "detector", "--model_name", "box_list_net", "--dataset", "boxes_data",
                        *QUICK)
    process = fork_server.run(project.root, "--mode", "predict", "--ckpt", str(run_dir / "checkpoints" / "last.ckpt"),
                              "--experiment", "detected")
    assert process.returncode == 0, process.stderr[-3000:]
    [predicted] = torch.load(project.logs / "detected" / "version_0" / "predictions.pt",
                                  weights_only=True).values()
    items = len(predicted["extras"]["target"])
    assert items > 0 and set(predicted["outputs"]) == {"boxes", "scores"}
    assert len(predicted["outputs"]["boxes"]) == items and predicted["outputs"]["boxes"][0].shape == (1, 4)
    assert predicted["outputs"]["scores"].shape == (items, 1)


def test_a_torchvision_detector_trains_as_its_own_module_and_by_name_is_one_line(fork_server, project):
    add_examples(project, "detector_net", "shapes_data")
    run_dir, results = fitted(fork_server, project, "detector", "--model_name", "detector_net", "--dataset",
                              "shapes_data", "--num_samples", "4", "--batch_size", "2", "--max_epochs", "1")
    [iou] = results["val"]["shapes_data"].values()
    assert 0 <= iou <= 1 and "val/iou" in torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)[
        "validation_history"][2]
    predicted = fork_server.run(project.root, "--mode", "predict", "--ckpt", str(run_dir / "checkpoints" / "last.ckpt"),
                                "--experiment", "detected")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    [boxes] = torch.load(project.logs / "detected" / "version_0" / "predictions.pt", weights_only=True).values()
    assert set(boxes["outputs"]) == {"boxes", "labels", "scores"} and len(boxes["outputs"]["boxes"]) == 4
    line = error_line(fork_server.run(project.root, "--model_name", "torchvision:fasterrcnn_mobilenet_v3_large_320_fpn",
                                      "--dataset", "shapes_data"))
    assert "is a detector: in training its forward takes the targets" in line and "(README: Detectors" in line
