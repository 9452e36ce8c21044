"""EpochMetrics: exact sums over an epoch, equal to torchmetrics' own metrics."""

import pytest
import torch
import torch.nn.functional as F
from torchmetrics.classification import BinaryAccuracy, BinaryF1Score, MulticlassAccuracy, MulticlassF1Score
from torchmetrics.regression import MeanAbsoluteError

from utils.errors import UserError
from utils.tasks.metrics import BATCHES_PER_FOLD, OUTPUTS_PER_FOLD, EpochMetrics

LOSS = torch.tensor(1.0)


def scores_for(predictions: torch.Tensor, classes: int) -> torch.Tensor:
    """Class scores whose arg-max is `predictions`."""
    return F.one_hot(predictions, classes).float()


def random_batches(generator: torch.Generator, classes: int, used: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A few (predictions, targets) batches of uneven sizes over the first `used` classes."""
    batches = []
    for _ in range(int(torch.randint(1, 4, (1,), generator=generator))):
        size = int(torch.randint(1, 40, (1,), generator=generator))
        batches.append((torch.randint(0, used, (size,), generator=generator),
                        torch.randint(0, used, (size,), generator=generator)))
    return batches


def test_classification_equals_torchmetrics_also_when_classes_are_missing():
    generator = torch.Generator().manual_seed(0)
    for _ in range(100):
        classes = int(torch.randint(2, 12, (1,), generator=generator))
        used = int(torch.randint(1, classes + 1, (1,), generator=generator))  # the others never occur
        ours = EpochMetrics("classification", classes)
        accuracy, f1 = MulticlassAccuracy(classes, average="micro"), MulticlassF1Score(classes, average="macro")
        for predictions, targets in random_batches(generator, classes, used):
            ours.update(LOSS, scores_for(predictions, classes), targets)
            accuracy.update(predictions, targets)
            f1.update(predictions, targets)
        values = ours.compute()
        assert values["accuracy"].item() == pytest.approx(accuracy.compute().item(), abs=1e-7)
        assert values["f1"].item() == pytest.approx(f1.compute().item(), abs=1e-7)


def test_binary_equals_torchmetrics_including_probabilities_of_exactly_one_half():
    generator = torch.Generator().manual_seed(1)
    for trial in range(50):
        size = int(torch.randint(3, 40, (1,), generator=generator))
        logits = torch.randn(size, 1, generator=generator)
        logits[:3] = 0.0  # a probability of exactly 0.5
        probabilities = torch.sigmoid(logits.reshape(-1))
        targets = torch.randint(0, 2, (size,), generator=generator)
        if trial % 5 == 0:
            targets.zero_()  # no positive target at all
        ours = EpochMetrics("binary", 2)
        ours.update(LOSS, logits, targets)
        values = ours.compute()
        assert values["accuracy"].item() == pytest.approx(BinaryAccuracy()(probabilities, targets).item(), abs=1e-7)
        assert values["f1"].item() == pytest.approx(BinaryF1Score()(probabilities, targets).item(), abs=1e-7)


def test_regression_mae_counts_every_output_of_multi_output_targets():
    predictions, targets = torch.randn(8, 3), torch.randn(8, 3)
    ours = EpochMetrics("regression", 1)
    ours.update(LOSS, predictions[:5], targets[:5])
    ours.update(LOSS, predictions[5:], targets[5:])
    assert ours.compute()["mae"].item() == pytest.approx(MeanAbsoluteError()(predictions, targets).item(), rel=1e-6)


def test_epoch_loss_is_weighted_by_batch_size():
    ours = EpochMetrics("classification", 3)
    ours.update(torch.tensor(1.0), torch.zeros(3, 3), torch.zeros(3, dtype=torch.long))
    # A last, smaller batch.
    ours.update(torch.tensor(4.0), torch.zeros(1, 3), torch.zeros(1, dtype=torch.long))
    assert ours.compute()["loss"].item() == pytest.approx(1.75)


def test_reset_starts_the_next_epoch_from_zero():
    ours = EpochMetrics("classification", 3)
    ours.update(torch.tensor(2.0), scores_for(torch.tensor([0, 1]), 3), torch.tensor([1, 1]))
    ours.compute()
    ours.reset()
    ours.update(torch.tensor(1.0), scores_for(torch.tensor([2]), 3), torch.tensor([2]))
    assert {name: value.item() for name, value in ours.compute().items()} == {"loss": 1.0, "accuracy": 1.0, "f1": 1.0}


@pytest.mark.parametrize(("task", "outputs", "targets", "words"), [
    ("classification", torch.zeros(3, 4), torch.tensor([0, 3, 7]), ("1 targets", "0 to 3", "--num_classes")),
    ("binary", torch.zeros(3), torch.tensor([0, 2, -1]), ("2 targets", "0 and 1")),
])
def test_targets_outside_the_classes_are_reported_when_the_epoch_is_computed(task, outputs, targets, words):
    ours = EpochMetrics(task, 4)
    ours.update(LOSS, outputs, targets)
    with pytest.raises(UserError) as raised:
        ours.compute()
    assert all(word in str(raised.value) for word in words), str(raised.value)


def test_many_batches_fold_into_the_same_values_as_torchmetrics():
    generator = torch.Generator().manual_seed(2)
    ours, accuracy, f1 = EpochMetrics("classification", 5), MulticlassAccuracy(5, average="micro"), \
        MulticlassF1Score(5, average="macro")
    losses, sizes = [], []
    for _ in range(3 * BATCHES_PER_FOLD + 7):  # three folds and some batches still kept at compute
        size = int(torch.randint(1, 9, (1,), generator=generator))
        predictions, targets = torch.randint(0, 5, (size,), generator=generator), torch.randint(0, 5, (size,))
        loss = torch.rand((), generator=generator)
        ours.update(loss, scores_for(predictions, 5), targets)
        accuracy.update(predictions, targets)
        f1.update(predictions, targets)
        losses.append(loss.item() * size)
        sizes.append(size)
    values = ours.compute()
    assert values["accuracy"].item() == pytest.approx(accuracy.compute().item(), abs=1e-7)
    assert values["f1"].item() == pytest.approx(f1.compute().item(), abs=1e-7)
    assert values["loss"].item() == pytest.approx(sum(losses) / sum(sizes), rel=1e-6)


def test_fifty_thousand_classes_keep_sums_linear_in_the_classes_and_outputs_are_not_hoarded():
    classes = 50_000
    ours = EpochMetrics("classification", classes)
    targets = torch.arange(0, classes, 997)
    predictions = torch.where(torch.arange(len(targets)) % 2 == 0, targets, (targets + 1) % classes)
    ours.update(LOSS, scores_for(predictions, classes), targets)
    assert len(targets) * classes >= OUTPUTS_PER_FOLD and not ours.pending  # added up at once, not kept
    values = ours.compute()  # a confusion matrix would need 2.5e9 cells
    assert ours.sums.numel() == 3 + 3 * classes
    assert values["accuracy"].item() == pytest.approx((predictions == targets).double().mean().item(), abs=1e-7)


def test_small_batches_are_kept_until_a_fold_then_added_up():
    ours = EpochMetrics("classification", 3)
    for index in range(BATCHES_PER_FOLD - 1):
        ours.update(LOSS, scores_for(torch.tensor([index % 3]), 3), torch.tensor([0]))
    assert len(ours.pending) == BATCHES_PER_FOLD - 1 and ours.sums is None
    ours.update(LOSS, scores_for(torch.tensor([0]), 3), torch.tensor([0]))
    assert not ours.pending and ours.sums is not None


def test_a_fold_of_empty_batches_adds_nothing():
    ours = EpochMetrics("classification", 3)
    ours.update(LOSS, torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    ours.fold()
    assert ours.sums[1].item() == 0 and ours.sums[3:].sum().item() == 0  # no samples, no counts
