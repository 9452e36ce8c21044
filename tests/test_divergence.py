"""A loss that turns NaN or infinite stops the run at the next check, naming its first bad step, and a val value
that is not finite never becomes the best checkpoint.

The training loss is read on the host only at logged steps, before each validation, at each epoch's end and before
each checkpoint; between them a flag on the device remembers the first bad step. Runs use an epoch of 5 steps
(80 train items, batches of 16) with --log_every_n_steps 50, so no step but the checks' reads the loss.
"""

import json
import math
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import Project, copy_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from utils.errors import TrainingDiverged
from utils.experiments.fold_results import summarise_folds
from utils.runs.folder import write_json
from utils.trainer.divergence import LossWatch

NET = (Path(__file__).parent / "examples" / "diverging_net.py").read_text()
RUN = ("--model_name", "diverging_net", "--dataset", "standard_data", "--num_samples", "100", "--val_fraction", "0.2",
       "--batch_size", "16", "--log_every_n_steps", "50", "--max_epochs", "2", "--confusion_images", "off")
STEPS_PER_EPOCH = 5


def new_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A fresh copy of the template holding the diverging net."""
    project = copy_project(tmp_path_factory.mktemp("divergence") / "project")
    project.write("model/diverging_net.py", NET)
    return project


def diverged_line(process: subprocess.CompletedProcess) -> str:
    """The one `error:` line a diverged run ends with: exit code 1, no traceback."""
    assert process.returncode == 1, process.stderr[-3000:]
    assert "Traceback" not in process.stderr, process.stderr[-3000:]
    errors = [line for line in process.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and process.stderr.rstrip().endswith(errors[0]), process.stderr[-3000:]
    return errors[0]


def checkpoint_steps(project: Project) -> dict[str, int]:
    """Each checkpoint file of the run by name, with the global step it holds."""
    return {path.name: torch.load(path, weights_only=True)["global_step"]
            for path in project.logs.glob("*/version_*/checkpoints/*.ckpt")}


def strict_json(path: Path) -> dict:
    """A results.json read by a parser that refuses NaN and Infinity, which JSON does not have."""
    def refuse(constant: str) -> None:
        raise ValueError(f"{path} holds {constant}")
    return json.loads(path.read_text(), parse_constant=refuse)


def assert_stopped_at(project: Project, process: subprocess.CompletedProcess, step: int) -> None:
    """The run ended on its first bad step's error line, wrote no results and no checkpoint after that step."""
    line = diverged_line(process)
    assert f"at epoch {step // STEPS_PER_EPOCH}, step {step}:" in line, line
    assert not list(project.logs.glob("*/version_*/results.json"))
    steps = checkpoint_steps(project)
    assert all(saved <= step for saved in steps.values()), steps
    assert not any("nan" in name or "inf" in name for name in steps), steps


def test_a_loss_turning_nan_inside_an_unlogged_epoch_stops_before_any_checkpoint(fork_server, tmp_path_factory):
    project = new_project(tmp_path_factory)
    process = fork_server.run(project.root, *RUN, "--bad_step", "3", "--poison")
    assert_stopped_at(project, process, 3)
    assert "the training loss became nan at epoch 0, step 3:" in diverged_line(process)
    assert checkpoint_steps(project) == {}


def test_an_own_lightning_modules_nan_loss_stops_the_run_too(fork_server, tmp_path_factory):
    project = new_project(tmp_path_factory)
    project.write("model/diverging_lit_module.py", (Path(__file__).parent / "examples" / "diverging_lit_module.py")
                  .read_text())
    process = fork_server.run(project.root, *RUN[2:], "--model_name", "diverging_lit_module", "--bad_step", "6")
    assert_stopped_at(project, process, 6)
    assert "became nan at epoch 1, step 6: lower the module's learning rate" in diverged_line(process)
    assert set(checkpoint_steps(project).values()) == {STEPS_PER_EPOCH}


def test_a_ddp_run_that_diverges_says_so_once_for_all_its_processes(fork_server, tmp_path_factory):
    project = new_project(tmp_path_factory)
    process = fork_server.run(project.root, *RUN, "--bad_step", "3", "--accelerator", "cpu", "--devices", "2",
                              "--strategy", "ddp")
    assert "the training loss became nan at epoch 1, step 3:" in diverged_line(process)
    assert not list(project.logs.glob("*/version_*/results.json"))


def test_one_bad_step_between_two_logged_finite_ones_is_still_caught(fork_server, tmp_path_factory):
    # The loss is +inf at step 2 alone: the logged steps 1 and 3 see finite losses, the weights stay finite.
    project = new_project(tmp_path_factory)
    process = fork_server.run(project.root, *RUN, "--bad_step", "2", "--bad", "inf", "--log_every_n_steps", "2")
    assert_stopped_at(project, process, 2)
    assert "became inf" in diverged_line(process)


def test_a_loss_turning_bad_before_a_mid_epoch_validation_keeps_the_earlier_checkpoints(fork_server,
                                                                                         tmp_path_factory):
    # Validations after 3 batches of each epoch (steps 3 and 8): the one at step 8 comes after the bad step 7.
    project = new_project(tmp_path_factory)
    process = fork_server.run(project.root, *RUN, "--bad_step", "7", "--bad=-inf", "--val_check_interval", "3")
    assert_stopped_at(project, process, 7)
    assert set(checkpoint_steps(project).values()) == {3}
    assert "last.ckpt" in checkpoint_steps(project)


def test_a_nan_val_loss_beside_a_finite_train_loss_never_becomes_best(fork_server, tmp_path_factory):
    # The first validation (after 5 steps) is NaN, the second is finite; both would fit in the top 2.
    project = new_project(tmp_path_factory)
    process = fork_server.run(project.root, *RUN, "--nan_val_until", "5", "--save_top_k", "2", "--patience", "0")
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    steps = checkpoint_steps(project)
    assert sorted(steps.values()) == [10, 10] and not any("nan" in name for name in steps), steps
    results = strict_json(run_dir / "results.json")
    assert results["best_step"] == 10 and Path(results["best_checkpoint"]).name in steps
    assert math.isfinite(results["best_score"]) and results["best_score"] == results["val"]["standard_data"]["loss"]


def test_a_val_loss_never_finite_leaves_no_best_and_plain_json(fork_server, tmp_path_factory):
    project = new_project(tmp_path_factory)
    process = fork_server.run(project.root, *RUN, "--nan_val_until", "1000", "--patience", "0")
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    assert list(checkpoint_steps(project)) == ["last.ckpt"]
    results = strict_json(run_dir / "results.json")
    assert results["best_checkpoint"] == "" and results["best_score"] is None
    assert results["val"]["standard_data"]["loss"] is None


def test_a_fold_whose_val_loss_was_never_finite_makes_the_mean_over_folds_null(tmp_path):
    folds = [{"val": {"fold": {"loss": None, "accuracy": 0.5}}}, {"val": {"fold": {"loss": 2.0, "accuracy": 0.7}}}]
    write_json(tmp_path / "results.json", summarise_folds(folds))
    summary = strict_json(tmp_path / "results.json")["val"]["fold"]
    assert summary["loss"] == {"mean": None, "std": None, "values": [None, 2.0]}
    assert summary["accuracy"]["mean"] == pytest.approx(0.6)


# The same examples on every machine, so a CI run cannot draw one that this machine never tried.
@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(step=st.integers(0, 2 * STEPS_PER_EPOCH - 1), bad=st.sampled_from(("nan", "inf", "-inf")),
       poison=st.booleans(), every=st.integers(1, 60))
def test_a_run_stops_at_exactly_the_drawn_step(fork_server, tmp_path_factory, step, bad, poison, every):
    project = new_project(tmp_path_factory)
    process = fork_server.run(project.root, *RUN, "--bad_step", str(step), f"--bad={bad}",
                              "--poison" if poison else "--no-poison", "--log_every_n_steps", str(every))
    assert_stopped_at(project, process, step)


def single_process() -> SimpleNamespace:
    """What LossWatch.check needs of a Trainer in one process: a reduce that leaves the value as it is."""
    return SimpleNamespace(strategy=SimpleNamespace(reduce=lambda value, reduce_op: value))


@settings(max_examples=200, deadline=None)
@given(losses=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=30),
       checked_at=st.sets(st.integers(0, 29)))
def test_the_watch_names_the_first_non_finite_loss_at_whichever_check(losses, checked_at):
    watch, first_bad = LossWatch(), next((step for step, loss in enumerate(losses) if not math.isfinite(loss)), None)
    for step, loss in enumerate(losses):
        watch.update(torch.tensor(loss), step)
        if step in checked_at or step == len(losses) - 1:
            if first_bad is None or step < first_bad:
                watch.check(single_process(), epoch=0)
                continue
            with pytest.raises(TrainingDiverged, match=rf"became {losses[first_bad]} at epoch 0, step {first_bad}:"):
                watch.check(single_process(), epoch=0)
            return
