"""End-to-end runs of main.py as a user runs them: exit codes, run folders, metric values."""

import json
import subprocess

from conftest import FAST, error_line
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_confusion_images import images

STANDARD = ("--model_name", "standard_net", "--dataset", "standard_data")

CONSTANT_NET = '''
import torch
from torch import nn


class ConstantNet(nn.Module):
    """Always predicts class 0."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(num_classes))
        self.num_classes = num_classes

    def forward(self, x):
        logits = torch.full((x.shape[0], self.num_classes), -10.0)
        logits[:, 0] = 10.0
        return logits + 0 * self.bias
'''

FIXED_LABELS = '''
import torch
from torch.utils.data import Dataset


class FixedLabels(Dataset):
    """Sixteen random points that all carry the same label."""

    def __init__(self, label: int = 0, size: int = 16):
        self.inputs = torch.randn(size, 4)
        self.label = label

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, index):
        return self.inputs[index], self.label
'''


def test_standard_net_learns_standard_data_and_writes_a_complete_run_folder(project):
    process = project.run(*STANDARD, "--max_epochs", "3")
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    assert run_dir == project.logs / "standard_net-standard_data" / "version_0"
    for name in ("config.yaml", "hparams.yaml", "environment.yaml", "results.json", "checkpoints/last.ckpt"):
        assert (run_dir / name).is_file(), name
    assert list(run_dir.glob("events.out.tfevents.*"))
    best = [path for path in (run_dir / "checkpoints").iterdir() if path.name != "last.ckpt"]
    assert len(best) == 1 and best[0].name.startswith("epoch") and "val_loss" in best[0].name
    results = json.loads((run_dir / "results.json").read_text())
    assert results["val"]["standard_data"]["accuracy"] > 0.6  # chance is 0.1 with 10 classes
    assert results["test"]["standard_data"]["accuracy"] > 0.6
    assert "accuracy" in process.stdout and "standard_data" in process.stdout  # the results table


def test_each_val_set_is_reported_on_its_own_not_mixed(project):
    project.write("model/constant_net.py", CONSTANT_NET)
    project.write("data/fixed_labels.py", FIXED_LABELS)
    process = project.run("--model_name", "constant_net", "--train_dataset", "fixed_labels",
                          "--val_datasets", "right=fixed_labels:label=0", "wrong=fixed_labels:label=1",
                          "--test_datasets", "right=fixed_labels:label=0", "wrong=fixed_labels:label=1",
                          "--max_epochs", "1", "--num_classes", "2")
    assert process.returncode == 0, process.stderr[-3000:]
    results = json.loads((project.run_dirs()[0] / "results.json").read_text())
    for stage in ("val", "test"):
        assert results[stage]["right"]["accuracy"] == 1.0
        assert results[stage]["wrong"]["accuracy"] == 0.0
        assert results[stage]["mean"]["accuracy"] == 0.5


def test_tensorboard_events_hold_per_dataset_scalars(project):
    process = project.run(*STANDARD, "--val_datasets", "a=standard_data", "b=standard_data:noise=3.0",
                          "--max_epochs", "2", "--num_samples", "2000", "--batch_size", "64",
                          "--log_every_n_steps", "5")
    assert process.returncode == 0, process.stderr[-3000:]
    accumulator = EventAccumulator(str(project.run_dirs()[0]))
    accumulator.Reload()
    tags = set(accumulator.Tags()["scalars"])
    for key in ("val/a/loss", "val/a/accuracy", "val/b/f1", "val/loss", "val/accuracy", "train/loss",
                "train/accuracy", "test/standard_data/accuracy", "test/loss", "train/loss_step"):
        assert key in tags, (key, sorted(tags))
    # Every fifth optimizer step over both epochs (2 x 29 steps), at Lightning's step numbers (the step count - 1).
    assert [event.step for event in accumulator.Scalars("train/loss_step")] == list(range(4, 58, 5))
    assert "train/loss_step=" in process.stdout  # the progress bar shows the latest step's loss
    assert len(accumulator.Scalars("val/a/loss")) == 2  # one point per epoch
    noisy, clean = accumulator.Scalars("val/b/loss")[-1].value, accumulator.Scalars("val/a/loss")[-1].value
    assert noisy > clean  # the noisy copy is really a different dataset


def test_default_mnist_job_runs_offline_with_two_val_sets(project):
    process = project.run(*FAST)
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    assert run_dir.parent.name == "example_net-example_train_data"
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["val"]) == {"clean", "noisy", "mean"}
    assert set(results["test"]) == {"example_test_data"}


def test_half_an_mnist_epoch_reaches_97_percent_accuracy_on_the_whole_test_set(project):
    # 200 of the epoch's 430 batches: 98.1% (100: 97.1%, 150: 97.7%, the whole epoch 98.9%); the test set is whole.
    process = project.run("--max_epochs", "1", "--limit_train_batches", "200", "--limit_val_batches", "2",
                          "--confusion_images", "off", timeout=600)
    assert process.returncode == 0, process.stderr[-3000:]
    results = json.loads((project.run_dirs()[0] / "results.json").read_text())
    assert results["test"]["example_test_data"]["accuracy"] >= 0.97


def test_runs_started_together_get_distinct_folders(project):
    started = [project.start(*STANDARD, *FAST) for _ in range(3)]  # three processes side by side
    for run in started:
        process = project.wait(run)
        assert process.returncode == 0, process.stderr[-3000:]
    run_dirs = project.run_dirs()
    assert [path.name for path in run_dirs] == ["version_0", "version_1", "version_2"]
    writers = []
    for run_dir in run_dirs:
        # Event file names end in <host>.<pid>.<n>: one writing process per folder, a different one each.
        pids = {path.name.split(".")[-2] for path in run_dir.glob("events.out.tfevents.*")}
        assert len(pids) == 1
        writers.append(pids.pop())
        assert json.loads((run_dir / "results.json").read_text())["run_dir"].endswith(run_dir.name)
    assert len(set(writers)) == 3


def test_validate_test_and_predict_on_a_checkpoint(project):
    assert project.run(*STANDARD, "--max_epochs", "2").returncode == 0
    checkpoint = str(project.run_dirs()[0] / "checkpoints" / "last.ckpt")
    fitted = json.loads((project.run_dirs()[0] / "results.json").read_text())

    validate = project.run(*STANDARD, "--mode", "validate", "--ckpt", checkpoint)
    assert validate.returncode == 0, validate.stderr[-3000:]
    test = project.run(*STANDARD, "--mode", "test", "--ckpt", checkpoint,
                       "--test_datasets", "clean=standard_data", "noisy=standard_data:noise=3.0")
    assert test.returncode == 0, test.stderr[-3000:]
    predict = project.run(*STANDARD, "--mode", "predict", "--ckpt", checkpoint)
    assert predict.returncode == 0, predict.stderr[-3000:]

    validate_dir, test_dir, predict_dir = project.run_dirs()[1:]
    validated = json.loads((validate_dir / "results.json").read_text())
    assert "confusion/val/standard_data" in images(validate_dir)
    assert abs(validated["val"]["standard_data"]["accuracy"] - fitted["val"]["standard_data"]["accuracy"]) < 1e-6
    tested = json.loads((test_dir / "results.json").read_text())
    assert set(tested["test"]) == {"clean", "noisy", "mean"}
    assert tested["test"]["clean"]["accuracy"] > tested["test"]["noisy"]["accuracy"]
    import torch

    predictions = torch.load(predict_dir / "predictions.pt", weights_only=True)
    assert predictions["standard_data"]["outputs"].shape == (200, 10)  # the 10% held out of 2000 items, 10 classes


def test_mode_test_without_checkpoint_is_refused(project):
    line = error_line(project.run(*STANDARD, "--mode", "test"))
    assert "--ckpt" in line
    assert not project.logs.exists()


ONE_LATE_WRONG_TARGET = '''
import torch
from torch.utils.data import Dataset


class OneLateWrongTarget(Dataset):
    """Sixty-four points labelled 0 or 1, except item 50, labelled `wrong`: past what a run checks up front."""

    def __init__(self, wrong: int = 12):
        self.inputs = torch.randn(64, 16)
        self.targets = [index % 2 for index in range(64)]
        self.targets[50] = wrong

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, index):
        return self.inputs[index], self.targets[index]
'''


def stopped_by_user_error(process: subprocess.CompletedProcess) -> str:
    """The one `error:` line of a run stopped after it started (Lightning has printed its own lines before)."""
    assert process.returncode == 2 and "Traceback" not in process.stderr, process.stderr[-3000:]
    [line] = [line for line in process.stderr.splitlines() if line.startswith("error:")]
    return line


def test_a_wrong_target_deep_in_the_data_is_one_error_line(project):
    project.write("data/one_late_wrong_target.py", ONE_LATE_WRONG_TARGET)
    data = ("--model_name", "standard_net", "--dataset", "one_late_wrong_target", "--batch_size", "8")
    # The loss meets it first (cross entropy); with a loss that takes any number, the epoch's metrics report it.
    line = stopped_by_user_error(project.run(*data, "--max_epochs", "1"))
    assert "target outside the class indices 0 to 9" in line and "Target 12" in line
    binary = ("--task", "binary", "--loss", "bce_with_logits", "--num_classes", "1", "--wrong", "2")
    line = stopped_by_user_error(project.run(*data, *binary, "--max_epochs", "1"))
    assert "the metric accuracy refused a batch" in line and "[0, 1]" in line
    assert not project.run_dirs()  # neither had saved a checkpoint, so neither left a run folder behind
