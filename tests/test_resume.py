"""Checkpoints to trust: exact resume, recovery after SIGKILL, a NaN stop, and loading outside the template."""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import error_line
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

DROPOUT_NET = '''
from torch import nn


class DropoutNet(nn.Module):
    """A perceptron with dropout, so its training draws from the global random generator."""

    def __init__(self, num_features: int = 16, num_classes: int = 10):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(num_features, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, num_classes))

    def forward(self, x):
        return self.layers(x)
'''

SLOW_DATA = '''
import time

import torch
from torch.utils.data import Dataset


class SlowData(Dataset):
    """Random points whose batches take a while to load, so a run can be killed mid-epoch."""

    def __init__(self, num_features: int = 16, num_classes: int = 10, delay: float = 0.1):
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(320, num_features, generator=generator)
        self.y = torch.randint(num_classes, (320,), generator=generator)
        self.delay = delay

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return self.x[index], self.y[index]

    def __getitems__(self, indices):
        time.sleep(self.delay)
        return self.x[indices], self.y[indices]
'''

EXPLODING_NET = '''
import torch
from torch import nn


class ExplodingNet(nn.Module):
    """Turns NaN after a number of training calls."""

    def __init__(self, num_features: int = 16, num_classes: int = 10, explode_after: int = 6):
        super().__init__()
        self.layer = nn.Linear(num_features, num_classes)
        self.explode_after, self.calls = explode_after, 0

    def forward(self, x):
        if self.training:
            self.calls += 1
        out = self.layer(x)
        return out * float("nan") if self.calls > self.explode_after else out
'''

COMMON = ("--dataset", "standard_data", "--num_samples", "400", "--batch_size", "32", "--deterministic",
          "--log_every_n_steps", "1", "--confusion_images", "off")


def weights(checkpoint_path) -> dict:
    """The net's tensors in a checkpoint."""
    return torch.load(checkpoint_path, map_location="cpu", weights_only=True)["state_dict"]


def assert_same_weights(first, second) -> None:
    """Bitwise equality of every tensor."""
    first, second = weights(first), weights(second)
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


def steps_of(run_dir, tag: str) -> list[int]:
    """The steps of one TensorBoard scalar, as TensorBoard shows them."""
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return [event.step for event in events.Scalars(tag)]


def test_two_epochs_resumed_to_four_equal_four_epochs_bitwise(project):
    project.write("model/dropout_net.py", DROPOUT_NET)
    full = project.run("--model_name", "dropout_net", *COMMON, "--max_epochs", "4", "--experiment", "full")
    assert full.returncode == 0, full.stderr[-3000:]
    part = project.run("--model_name", "dropout_net", *COMMON, "--max_epochs", "2", "--experiment", "part")
    assert part.returncode == 0, part.stderr[-3000:]
    resumed = project.run("--resume", "last", "--experiment", "part", "--max_epochs", "4")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "exists and is not empty" not in resumed.stderr  # the resumed run's own checkpoints, as expected

    part_dir = project.logs / "part" / "version_0"
    assert [path.name for path in (project.logs / "part").iterdir()] == ["version_0"]  # continued in its own folder
    assert_same_weights(project.logs / "full" / "version_0" / "checkpoints" / "last.ckpt",
                        part_dir / "checkpoints" / "last.ckpt")
    assert steps_of(part_dir, "val/loss") == steps_of(project.logs / "full" / "version_0", "val/loss")
    full_results = json.loads((project.logs / "full" / "version_0" / "results.json").read_text())
    part_results = json.loads((part_dir / "results.json").read_text())
    assert part_results["test"] == full_results["test"]
    assert "max_epochs: 4" in (part_dir / "config.yaml").read_text()


def test_a_run_killed_mid_epoch_resumes_to_the_same_weights(project):
    project.write("model/dropout_net.py", DROPOUT_NET)
    project.write("data/slow_data.py", SLOW_DATA)
    arguments = ("--model_name", "dropout_net", "--dataset", "slow_data", "--batch_size", "32", "--deterministic",
                 "--log_every_n_steps", "1", "--max_epochs", "3")
    uninterrupted = project.run(*arguments, "--experiment", "whole", "--delay", "0")
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]

    process = subprocess.Popen([sys.executable, "main.py", *arguments, "--experiment", "killed"], cwd=project.root,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = project.logs / "killed" / "version_0" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while not last.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # well inside the second epoch of nine 0.1 s batches
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert torch.load(last, map_location="cpu", weights_only=True)["epoch"] == 0  # complete and loadable

    resumed = project.run("--resume", str(last), "--delay", "0")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_weights(project.logs / "whole" / "version_0" / "checkpoints" / "last.ckpt", last)
    steps = steps_of(last.parent.parent, "train/loss_step")
    assert steps == sorted(set(steps))  # the killed epoch's steps are not shown twice


def test_nan_loss_stops_with_one_line_and_keeps_the_best_checkpoint(project):
    project.write("model/exploding_net.py", EXPLODING_NET)
    process = project.run("--model_name", "exploding_net", "--dataset", "standard_data", "--num_samples", "200",
                          "--batch_size", "64", "--max_epochs", "3", "--explode_after", "4",
                          "--log_every_n_steps", "1")
    assert process.returncode == 1
    assert "Traceback" not in process.stderr
    [line] = [line for line in process.stderr.splitlines() if line.startswith("error:")]
    assert "nan" in line and "epoch 1" in line and "step 4" in line  # the fifth step: the second of epoch 1
    checkpoints = project.run_dirs()[0] / "checkpoints"
    best = [path for path in checkpoints.iterdir() if path.name.startswith("epoch000")]
    assert len(best) == 1 and weights(best[0])


def test_checkpoint_loads_outside_the_template_and_predicts(project, monkeypatch):
    assert project.run("--model_name", "standard_net", *COMMON, "--max_epochs", "1").returncode == 0
    checkpoint = project.run_dirs()[0] / "checkpoints" / "last.ckpt"
    monkeypatch.syspath_prepend(str(project.root))
    for name in [name for name in sys.modules if name.split(".")[0] in ("model", "utils", "data")]:
        monkeypatch.delitem(sys.modules, name)
    from model import MInterface

    model = MInterface.load_from_checkpoint(checkpoint)  # torch's default weights_only=True applies
    assert type(model.net).__name__ == "StandardNet"
    assert model(torch.randn(3, 16)).shape == (3, 10)


def test_a_checkpoint_that_no_longer_fits_its_net_is_refused(project):
    assert project.run("--model_name", "standard_net", *COMMON, "--max_epochs", "1", "--hidden", "8").returncode == 0
    checkpoint = str(project.run_dirs()[0] / "checkpoints" / "last.ckpt")
    source = project.root / "model" / "standard_net.py"
    deeper = source.read_text().replace("nn.ReLU(), nn.Linear", "nn.ReLU(), nn.Linear(hidden, hidden), nn.Linear")
    source.write_text(deeper)
    line = error_line(project.run("--model_name", "standard_net", *COMMON, "--mode", "test", "--ckpt", checkpoint))
    assert "does not fit StandardNet" in line or "does not fit standard_net" in line


def test_load_from_checkpoint_refuses_a_checkpoint_of_another_net_by_name(project, monkeypatch):
    assert project.run("--model_name", "standard_net", *COMMON, "--max_epochs", "1", "--hidden", "8").returncode == 0
    checkpoint = project.run_dirs()[0] / "checkpoints" / "last.ckpt"
    source = project.root / "model" / "standard_net.py"
    source.write_text(source.read_text().replace("nn.Linear(hidden, num_classes)", "nn.Linear(hidden, 3)"))
    monkeypatch.syspath_prepend(str(project.root))
    for name in [name for name in sys.modules if name.split(".")[0] in ("model", "utils", "data")]:
        monkeypatch.delitem(sys.modules, name)
    from model import MInterface
    from utils.errors import UserError

    with pytest.raises(UserError, match="does not fit StandardNet"):
        MInterface.load_from_checkpoint(checkpoint)


@pytest.mark.parametrize("target, words", [("last", "no run with checkpoints/last.ckpt"),
                                           ("Logs/nowhere/version_9", "does not exist")])
def test_resume_without_a_checkpoint_is_refused(project, target, words):
    line = error_line(project.run("--model_name", "standard_net", *COMMON, "--resume", target))
    assert words in line


def check_refused_resumes(project, experiment: str, started: tuple[str, ...],
                          cases: list[tuple[list[str], str]]) -> None:
    """Finish a one-epoch run, then check that each resume stating `cases`' options is one error line starting with
    its text (after `--resume RUN_DIR: `) and containing `--weights`, which changes nothing in the run folder."""
    finished = project.run("--model_name", "standard_net", *COMMON, "--max_epochs", "1", "--experiment", experiment,
                           *started)
    assert finished.returncode == 0, finished.stderr[-3000:]
    run_dir = project.logs / experiment / "version_0"
    before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    for stated, expected in cases:
        line = error_line(project.run("--resume", "last", "--experiment", experiment, *stated))
        assert line.startswith(f"error: --resume {run_dir.relative_to(project.root)}: {expected}"), line
        assert "--weights" in line, line
    assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == before


def test_a_resume_that_states_another_loss_or_metrics_is_refused_and_changes_nothing(project):
    check_refused_resumes(project, "task", ("--label_smoothing", "0.1"), [
        (["--max_epochs", "2", "--label_smoothing", "0.3"], "--label_smoothing 0.3 is not the run's own (0.1)"),
        (["--max_epochs", "2", "--metrics", "accuracy", "auroc"],
         "--metrics accuracy auroc is not the run's own (the default)")])
    same = project.run("--resume", "last", "--experiment", "task", "--max_epochs", "2", "--label_smoothing", "0.1")
    assert same.returncode == 0, same.stderr[-3000:]


def test_a_resume_that_states_other_optimizer_or_schedule_settings_is_refused_and_changes_nothing(project):
    # The checkpoint's optimizer and scheduler state would override them: the run would train on as before.
    kept = "and a resumed run continues with the optimizer and scheduler its checkpoint holds"
    check_refused_resumes(project, "opt", ("--scheduler", "cosine_annealing_lr"), [
        (["--lr", "0.05"], f"--lr 0.05 is not the run's own (0.001), {kept}"),
        (["--optimizer", "sgd"], f"--optimizer sgd is not the run's own (adam), {kept}"),
        (["--max_epochs", "3"], "--max_epochs 3 is not the run's own (1), and the run's cosine_annealing_lr schedule "
                                "took its length from it")])
    # A schedule stepped each epoch takes its length from the epochs alone; one stepped each step, from the steps.
    assert project.run("--resume", "last", "--experiment", "opt", "--limit_train_batches", "0.5").returncode == 0
    length = "and the run's one_cycle_lr schedule took its length from it"
    check_refused_resumes(project, "cycle", ("--scheduler", "one_cycle_lr"), [
        (["--batch_size", "16"], f"--batch_size 16 is not the run's own (32), {length}"),
        (["--limit_train_batches", "1"], f"--limit_train_batches 1 is not the run's own (1.0), {length}")])
