"""An own LightningModule's monitor and stages: chosen from what it logs, or none; stages it lacks are skipped."""

import json
from pathlib import Path

import pytest
import torch
import yaml
from conftest import error_line

EXAMPLES = Path(__file__).parent / "examples"
RUN = ("--dataset", "standard_data", "--num_samples", "256", "--batch_size", "32", "--max_epochs", "1")
TWO_SETS = ("--val_datasets", "clean=standard_data", "noisy=standard_data:noise=3.0")


def with_module(project, module: str) -> None:
    """Copy tests/examples/<module>.py into the project's model/."""
    project.write(f"model/{module}.py", (EXAMPLES / f"{module}.py").read_text())


def test_an_unset_monitor_is_the_first_val_loss_the_module_logs_and_testing_it_lacks_is_skipped(project):
    with_module(project, "tensor_lit_module")
    process = project.run("--model_name", "tensor_lit_module", *RUN, *TWO_SETS)
    assert process.returncode == 0, process.stderr[-3000:]
    # TensorLitModule logs val/acc before val/loss: the monitor is its loss all the same, the mean over both sets.
    assert "monitor: val/loss, the first val loss TensorLitModule logs (--monitor_mode min)" in process.stdout
    assert "testing skipped: TensorLitModule defines no test_step" in process.stdout
    [run_dir] = project.run_dirs()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["monitor"] == "val/loss" and "test" not in results
    assert results["best_score"] == results["val"]["mean"]["loss"]
    assert "val_loss" in Path(results["best_checkpoint"]).name
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["monitor"] == "val/loss" and config["monitor_mode"] == "min"
    assert "optimizer" not in config and "metrics" not in config
    rerun = project.run("--config", str(run_dir / "config.yaml"))  # config.yaml reruns the run, as for any run
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "monitor: val/loss, the first" not in rerun.stdout and len(project.run_dirs()) == 2


def test_lightnings_usual_val_x_and_test_x_keys_are_reported_per_dataset_and_its_plateau_schedule_finds_val_loss(
        project):
    with_module(project, "plain_named_module")
    process = project.run("--model_name", "plain_named_module", *RUN, "--max_epochs", "2", *TWO_SETS,
                          "--test_datasets", "clean=standard_data", "noisy=standard_data:noise=3.0")
    assert process.returncode == 0, process.stderr[-3000:]
    assert "monitor: val/loss, the first val loss PlainNamedModule logs (--monitor_mode min)" in process.stdout
    [run_dir] = project.run_dirs()
    results = json.loads((run_dir / "results.json").read_text())
    for stage in ("val", "test"):
        assert set(results[stage]) == {"clean", "noisy", "mean"}
        assert all(set(values) == {"loss", "acc"} for values in results[stage].values())
        means = results[stage]["mean"]
        assert means["acc"] == pytest.approx((results[stage]["clean"]["acc"] + results[stage]["noisy"]["acc"]) / 2)
    assert results["best_score"] == results["val"]["mean"]["loss"]


def test_a_module_logging_only_an_accuracy_keeps_the_most_accurate_checkpoint(project):
    with_module(project, "plain_named_module")
    # Noisy points: the accuracy goes up and down over the epochs, so the best is not the last.
    process = project.run("--model_name", "plain_named_module", *RUN, "--max_epochs", "3", "--accuracy_only", "true",
                          "--num_samples", "1000", "--noise", "4.0")
    assert process.returncode == 0, process.stderr[-3000:]
    assert "monitor: val/acc, the first val key PlainNamedModule logs (--monitor_mode max)" in process.stdout
    [run_dir] = project.run_dirs()
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["monitor"] == "val/acc" and config["monitor_mode"] == "max"
    lines = [line for line in process.stdout.splitlines() if " val/standard_data " in line]
    per_epoch = [float(line.rsplit("acc ", 1)[1]) for line in lines]
    results = json.loads((run_dir / "results.json").read_text())
    assert len(set(per_epoch)) > 1 and results["best_score"] == pytest.approx(max(per_epoch), abs=1e-4)


def test_monitor_none_trains_with_the_last_checkpoint_only(project):
    with_module(project, "tensor_lit_module")
    process = project.run("--model_name", "tensor_lit_module", *RUN, "--monitor", "none")
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    assert [path.name for path in (run_dir / "checkpoints").iterdir()] == ["last.ckpt"]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["best_checkpoint"].endswith("last.ckpt") and results["best_score"] is None


def test_a_monitor_the_module_does_not_log_lists_its_keys_and_leaves_nothing_on_disk(project):
    with_module(project, "tensor_lit_module")
    process = project.run("--model_name", "tensor_lit_module", *RUN, *TWO_SETS, "--monitor", "val/accuracy")
    assert process.returncode == 2 and "Traceback" not in process.stderr, process.stderr[-3000:]
    [line] = [line[line.index("error: "):] for line in process.stderr.splitlines() if "error: " in line]
    assert line.startswith("error: --monitor val/accuracy is not a key TensorLitModule logs")
    assert "val/acc, val/clean/acc, val/clean/loss, val/loss, val/noisy/acc, val/noisy/loss" in line
    # Said at the sanity check already, before the epoch the refusal waits for (where it logged keys: with several
    # val sets Lightning keeps none of its sanity check).
    process = project.run("--model_name", "tensor_lit_module", *RUN, "--monitor", "val/accuracy")
    assert process.returncode == 2
    assert "note: --monitor val/accuracy is not among the keys TensorLitModule logged in the sanity check (val/acc, " \
           "val/loss, val/standard_data/acc, val/standard_data/loss): unless its first validation logs it, the run " \
           "stops there" in process.stdout
    assert not project.logs.exists() or list(project.logs.iterdir()) == []


def test_a_module_that_only_trains_keeps_its_last_checkpoint_and_skips_validation_and_testing(project):
    with_module(project, "train_only_module")
    process = project.run("--model_name", "train_only_module", *RUN)
    assert process.returncode == 0, process.stderr[-3000:]
    assert "validation skipped: TrainOnlyModule defines no validation_step" in process.stdout
    assert "testing skipped: TrainOnlyModule defines no test_step" in process.stdout
    [run_dir] = project.run_dirs()
    last = run_dir / "checkpoints" / "last.ckpt"
    assert [path.name for path in (run_dir / "checkpoints").iterdir()] == ["last.ckpt"]
    assert torch.load(last, weights_only=True)["global_step"] == 8
    line = error_line(project.run("--model_name", "train_only_module", *RUN, "--mode", "test", "--ckpt", str(last)))
    assert line == ("error: --mode test: TrainOnlyModule defines no test_step, so there is nothing to test: add "
                    "test_step to it, or use another --mode")
    line = error_line(project.run("--model_name", "train_only_module", *RUN, "--monitor", "val/loss"))
    assert "--monitor val/loss: TrainOnlyModule runs no validation" in line
    assert project.run_dirs() == [run_dir]


def test_a_given_monitor_mode_chooses_the_first_val_key_it_fits(project):
    with_module(project, "tensor_lit_module")
    process = project.run("--model_name", "tensor_lit_module", *RUN, "--monitor_mode", "max")
    assert process.returncode == 0, process.stderr[-3000:]
    # TensorLitModule logs val/acc and val/loss: max fits the accuracy, not the loss it would otherwise choose.
    assert "monitor: val/acc, the first val key TensorLitModule logs (--monitor_mode max)" in process.stdout


def test_a_train_key_the_module_logs_is_a_monitor_and_a_misspelt_one_is_one_line(project):
    with_module(project, "metric_lit_module")
    process = project.run("--model_name", "metric_lit_module", *RUN, "--monitor", "train/loss")
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    assert [path.name for path in (run_dir / "checkpoints").glob("epoch*")] == ["epoch000-step8-train_loss" + (
        f"{json.loads((run_dir / 'results.json').read_text())['best_score']:.4f}.ckpt")]
    refused = project.run("--model_name", "metric_lit_module", *RUN, "--monitor", "train/lss")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr[-3000:]
    [line] = [line for line in refused.stderr.splitlines() if line.startswith("error:")]  # after its first epoch
    assert line.startswith("error: --monitor train/lss is not a key MetricLitModule logs: it logged train/acc, "
                           "train/loss, val/acc"), line
    # Several val sets: Lightning keeps no key of their sanity check, so there is nothing to say there.
    process = project.run("--model_name", "metric_lit_module", *RUN, *TWO_SETS, "--monitor", "val/acc")
    assert process.returncode == 0 and "note:" not in process.stdout, process.stdout[-2000:]
