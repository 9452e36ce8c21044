"""The metrics: torchmetrics by name, updated a group of batches at a time to the same values as batch by batch."""

import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score, MulticlassJaccardIndex
from torchmetrics.functional.classification import multiclass_auroc, multiclass_calibration_error

from utils.errors import UserError
from utils.tasks.kinds import outputs_reading
from utils.tasks.metric_catalogue import build_metric, metric_class, snake_case
from utils.tasks.metrics import BATCHES_PER_GROUP, StageMetrics, build_metrics, logged_keys


def test_names_aliases_and_dotted_paths_reach_torchmetrics_classes():
    assert [snake_case(name) for name in ("F1Score", "AUROC", "R2Score", "PeakSignalNoiseRatio")] == [
        "f1_score", "auroc", "r2_score", "peak_signal_noise_ratio"]
    assert metric_class("f1") is metric_class("f1_score")
    assert metric_class("iou") is metric_class("jaccard_index")
    assert metric_class("torchmetrics.classification.MulticlassAUROC").__name__ == "MulticlassAUROC"
    assert type(build_metric("psnr:data_range=1.0", None, None)).__name__ == "PeakSignalNoiseRatio"
    with pytest.raises(UserError, match="did you mean 'accuracy'"):
        metric_class("acuracy")
    with pytest.raises(UserError, match="psnr:data_range=VALUE"):
        build_metric("psnr", None, None)


def test_groups_of_batches_give_the_values_of_torchmetrics_fed_batch_by_batch():
    generator = torch.Generator().manual_seed(2)
    ours = StageMetrics(build_metrics("classification", ["accuracy", "f1"], 5))
    accuracy, f1 = MulticlassAccuracy(5, average="micro"), MulticlassF1Score(5, average="macro")
    weighted, items = 0.0, 0
    for _ in range(3 * BATCHES_PER_GROUP + 7):  # three groups and some batches still kept at compute
        size = int(torch.randint(1, 9, (1,), generator=generator))
        scores, targets = torch.randn(size, 5, generator=generator), torch.randint(0, 5, (size,), generator=generator)
        loss = torch.rand((), generator=generator)
        ours.update(loss, scores, targets)
        accuracy.update(scores, targets)
        f1.update(scores, targets)
        weighted, items = weighted + loss.item() * size, items + size
    values = ours.compute()
    assert values["accuracy"].item() == pytest.approx(accuracy.compute().item(), abs=1e-7)
    assert values["f1"].item() == pytest.approx(f1.compute().item(), abs=1e-7)
    assert values["loss"].item() == pytest.approx(weighted / items, rel=1e-6)  # weighted by batch size


@pytest.mark.parametrize("task", ["binary", "multilabel"])
def test_logits_between_zero_and_one_count_as_positive_whatever_the_batches(task):
    # Logits of 0.3 (probability 0.57) and -0.3: a positive and a negative, as a logit above 0 is.
    logits = torch.tensor([0.3, -0.3, 0.3, -0.3]) if task == "binary" else torch.tensor([[0.3, -0.3], [-0.3, 0.3]])
    targets = (logits > 0).long()
    values = []
    for size in (1, len(logits)):  # one item a batch, or all at once
        ours = StageMetrics(build_metrics(task, ["accuracy", "f1"], 2), reading="logits")
        for start in range(0, len(logits), size):
            ours.update(torch.tensor(0.0), logits[start:start + size], targets[start:start + size])
        values.append({name: value.item() for name, value in ours.compute().items()})
    assert values[0] == values[1] == {"loss": 0.0, "accuracy": 1.0, "f1": 1.0}


def test_a_step_keeps_its_tensors_until_a_group_is_full():
    ours = StageMetrics(build_metrics("classification", ["accuracy"], 3))
    for _ in range(BATCHES_PER_GROUP - 1):
        ours.update(torch.tensor(1.0), torch.randn(2, 3), torch.tensor([0, 1]))
    assert len(ours.pending) == BATCHES_PER_GROUP - 1
    ours.update(torch.tensor(1.0), torch.randn(2, 3), torch.tensor([0, 1]))
    assert not ours.pending


def test_batches_of_many_outputs_are_kept_fewer_at_a_time():
    ours = StageMetrics(build_metrics("segmentation", ["accuracy"], 4))
    scores, targets = torch.randn(2, 4, 256, 256), torch.randint(0, 4, (2, 256, 256))  # 2 ** 19 outputs a batch
    ours.update(torch.tensor(1.0), scores, targets)
    assert len(ours.pending) == 1
    ours.update(torch.tensor(1.0), scores, targets)  # 2 ** 20 outputs kept: the metrics are updated
    assert not ours.pending
    assert ours.compute()["accuracy"].item() == pytest.approx((scores.argmax(1) == targets).float().mean().item())


def test_segmentation_batches_of_different_image_sizes_are_scored_one_by_one():
    ours = StageMetrics(build_metrics("segmentation", ["accuracy", "iou"], 3))
    reference = MulticlassJaccardIndex(3)
    for size in (4, 6):
        targets = torch.randint(0, 3, (2, size, size))
        scores = torch.nn.functional.one_hot(targets, 3).movedim(-1, 1).float()
        scores[:, 2, 0, 0] = 9.0  # one wrong pixel per image at most
        ours.update(torch.tensor(0.5), scores, targets)
        reference.update(scores, targets)
    values = ours.compute()
    assert values["iou"].item() == pytest.approx(reference.compute().item(), abs=1e-7)
    assert 0.9 < values["accuracy"].item() <= 1.0


def test_reset_starts_the_next_epoch_from_nothing():
    ours = StageMetrics(build_metrics("classification", ["accuracy"], 3))
    ours.update(torch.tensor(2.0), torch.tensor([[9.0, 0, 0], [9.0, 0, 0]]), torch.tensor([1, 1]))
    assert ours.compute()["accuracy"].item() == 0.0
    ours.reset()
    ours.update(torch.tensor(1.0), torch.tensor([[0, 0, 9.0]]), torch.tensor([2]))
    assert {name: value.item() for name, value in ours.compute().items()} == {"loss": 1.0, "accuracy": 1.0}


def test_a_binary_target_other_than_zero_or_one_is_one_user_error():
    ours = StageMetrics(build_metrics("binary", ["accuracy"], None))
    ours.update(torch.tensor(1.0), torch.zeros(3), torch.tensor([0, 2, 1]))
    with pytest.raises(UserError, match="the metric accuracy refused a batch"):
        ours.compute()


def test_logged_keys_name_every_dataset_and_the_means():
    keys = logged_keys(["auroc"], ["clean", "noisy"], ["test_set"])
    expected = {"train/loss", "train/auroc", "val/auroc", "val/clean/auroc", "val/noisy/loss", "test/test_set/auroc"}
    assert expected <= set(keys)


def test_only_outputs_trained_as_logits_reach_the_metrics_as_their_sigmoid():
    assert outputs_reading("binary", None, own_loss=False) == "logits"  # bce_with_logits, the task's default
    assert outputs_reading("multilabel", "bce_with_logits", own_loss=False) == "logits"
    assert outputs_reading("binary", "mse", own_loss=False) == "probabilities"  # trained toward 0 and 1 themselves
    assert outputs_reading("binary", None, own_loss=True) == "logits"  # a net's own loss: logits, unless
    assert outputs_reading("binary", None, own_loss=True, sigmoid_outputs=True) == "probabilities"  # a sigmoid's
    assert outputs_reading("multilabel", "mse", own_loss=False, sigmoid_outputs=True) == "probabilities"
    assert outputs_reading("classification", None, own_loss=False) == "class_logits"  # cross_entropy's: softmax
    assert outputs_reading("segmentation", "cross_entropy", own_loss=False) == "class_logits"
    assert outputs_reading("classification", None, own_loss=True) is None  # a net's own loss: as they are
    assert outputs_reading("regression", None, own_loss=False) is None


def test_class_scores_that_all_lie_in_zero_to_one_reach_the_metrics_through_their_softmax_in_every_group():
    # torchmetrics alone reads a group of scores inside [0, 1] as probabilities and any other through its softmax.
    generator = torch.Generator().manual_seed(0)
    scores = torch.rand(96, 4, generator=generator)
    scores[48:] += 3.0  # the second group's scores lie outside [0, 1]
    targets = torch.randint(4, (96,), generator=generator)
    ours = StageMetrics(build_metrics("classification", ["auroc", "calibration_error"], 4),
                        reading=outputs_reading("classification", None, own_loss=False))
    for start in (0, 48):
        ours.update(torch.tensor(0.0), scores[start:start + 48], targets[start:start + 48])
        ours.flush()
    values = ours.compute()
    probabilities = scores.softmax(1)
    expected_auroc = multiclass_auroc(probabilities, targets, num_classes=4)
    expected_calibration = multiclass_calibration_error(probabilities, targets, num_classes=4)
    assert values["auroc"].item() == pytest.approx(expected_auroc.item(), abs=1e-6)
    assert values["calibration_error"].item() == pytest.approx(expected_calibration.item(), abs=1e-6)


@pytest.mark.parametrize("task", ["binary", "multilabel"])
def test_outputs_trained_toward_0_and_1_count_at_one_half_whatever_else_their_batch_holds(task):
    # Two batches alike but for one output past 1: torchmetrics alone would take the second's sigmoid and count its 0.4
    # (sigmoid 0.6) as positive.
    outputs, targets = torch.tensor([[0.6, 0.4], [1.3, 0.4]]), torch.tensor([[1, 0], [1, 0]])
    ours = StageMetrics(build_metrics(task, ["accuracy"], 2), reading="probabilities")
    for batch_outputs, batch_targets in zip(outputs, targets, strict=True):
        shape = (2,) if task == "binary" else (1, 2)
        ours.update(torch.tensor(0.0), batch_outputs.reshape(shape), batch_targets.reshape(shape))
        ours.flush()  # each batch a group of its own
    assert ours.compute()["accuracy"].item() == 1.0


def test_a_set_whose_every_target_is_ignored_scores_nothing_even_with_a_ranking_metric():
    # auroc over no target at all ends in torchmetrics' IndexError; the set has nothing to score, which is NaN.
    ours = StageMetrics(build_metrics("classification", ["accuracy", "auroc", "average_precision"], 3, -100),
                        reading="class_logits")
    ours.update(torch.tensor(float("nan")), torch.randn(4, 3), torch.full((4,), -100), 0)
    values = ours.compute()
    assert set(values) == {"loss", "accuracy", "auroc", "average_precision"}
    assert all(value.isnan() for value in values.values())
