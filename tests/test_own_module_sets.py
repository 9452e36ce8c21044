"""Own LightningModules on several val sets: each set's numbers are those of validating that set alone."""

import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

EXAMPLES = Path(__file__).parent / "examples"
CLEAN, NOISY = "clean=standard_data", "noisy=standard_data:noise=3.0"
BASE = ("--dataset", "standard_data", "--num_samples", "256", "--batch_size", "32", "--max_epochs", "1")
DDP = ("--accelerator", "cpu", "--devices", "2", "--strategy", "ddp")


def fit(project, module: str, val_sets: tuple[str, ...], *extra: str) -> tuple[dict, Path]:
    """Train `module` from tests/examples on the val sets; return its results.json and its run folder."""
    project.write(f"model/{module}.py", (EXAMPLES / f"{module}.py").read_text())
    before = set(project.run_dirs())
    process = project.run("--model_name", module, *BASE, "--val_datasets", *val_sets, *extra)
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = set(project.run_dirs()) - before
    return json.loads((run_dir / "results.json").read_text()), run_dir


def results_tested_on(project, checkpoint: str, *test_sets: str) -> dict:
    """The per-set test results of `--mode test` on the checkpoint with these test sets."""
    before = set(project.run_dirs())
    process = project.run("--model_name", "metric_lit_module", "--dataset", "standard_data", "--mode", "test",
                          "--ckpt", checkpoint, "--test_datasets", *test_sets)
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = set(project.run_dirs()) - before
    return json.loads((run_dir / "results.json").read_text())["test"]


def scalar(run_dir: Path, tag: str) -> float:
    """The last value of a TensorBoard scalar of the run."""
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return events.Scalars(tag)[-1].value


def test_a_module_owning_one_metric_object_per_stage_reports_each_set_alone(project):
    # MetricLitModule's validation_step takes no dataloader_idx, and one MeanMetric and one Accuracy serve every set.
    both, run_dir = fit(project, "metric_lit_module", (CLEAN, NOISY))
    clean, _ = fit(project, "metric_lit_module", (CLEAN,))
    noisy, _ = fit(project, "metric_lit_module", (NOISY,))
    for label, alone in (("clean", clean), ("noisy", noisy)):
        assert set(both["val"][label]) == {"loss", "acc"}
        assert both["val"][label] == pytest.approx({name: alone["val"][label][name] for name in ("loss", "acc")},
                                                   abs=1e-6)
    # Test sets alike: the same checkpoint tested on both sets, then on the noisy one alone.
    tested = [results_tested_on(project, both["best_checkpoint"], *sets) for sets in ((CLEAN, NOISY), (NOISY,))]
    assert tested[0]["noisy"] == pytest.approx(tested[1]["noisy"], abs=1e-6)
    assert tested[0]["clean"]["loss"] < tested[0]["noisy"]["loss"]
    assert both["val"]["clean"]["loss"] < both["val"]["noisy"]["loss"]
    assert scalar(run_dir, "val/noisy/loss") == pytest.approx(noisy["val"]["noisy"]["loss"], abs=1e-5)
    # acc_best is logged once for all sets at the epoch's end: no set's own number, and no mean over them either.
    assert set(both["val"]["mean"]) == {"loss", "acc"}


def test_a_module_logging_plain_tensors_reports_each_set_alone(project):
    both, _ = fit(project, "tensor_lit_module", (CLEAN, NOISY))
    noisy, _ = fit(project, "tensor_lit_module", (NOISY,))
    assert both["val"]["noisy"] == pytest.approx(noisy["val"]["noisy"], abs=1e-6)
    assert both["val"]["mean"]["loss"] == pytest.approx((both["val"]["clean"]["loss"] + noisy["val"]["noisy"]["loss"])
                                                        / 2, abs=1e-6)


def test_per_set_values_on_two_processes_equal_validating_that_set_alone(project):
    both, _ = fit(project, "metric_lit_module", (CLEAN, NOISY), *DDP)
    noisy, _ = fit(project, "metric_lit_module", (NOISY,), *DDP)
    assert both["val"]["noisy"]["loss"] == pytest.approx(noisy["val"]["noisy"]["loss"], abs=1e-6)
    assert both["val"]["noisy"]["acc"] == pytest.approx(noisy["val"]["noisy"]["acc"], abs=1e-6)
