"""`--fast_dev_run`: one batch of each stage, no checkpoint, and the run still ends with its table and results.json."""

import json
import math
import subprocess
from pathlib import Path

import numpy
import torch
from conftest import FAST, Project, copy_project

from utils.runs.results import plain_json

STANDARD = ("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "200")
GAN = (Path(__file__).parent / "examples" / "tiny_gan.py").read_text()


def strict_json(path: Path) -> dict:
    """A results.json read by a parser that refuses NaN and Infinity, which JSON does not have."""
    def refuse(constant: str) -> None:
        raise ValueError(f"{path} holds {constant}")
    return json.loads(path.read_text(), parse_constant=refuse)


def dry_run_results(project: Project, process: subprocess.CompletedProcess, stage: str, label: str) -> dict:
    """The results of a dry run that ended well: exit 0, its table printed, no checkpoint written."""
    assert process.returncode == 0, process.stderr[-3000:]
    assert "Traceback" not in process.stderr
    [run_dir] = [path for path in project.run_dirs() if path.name in process.stdout]
    assert any(line.split()[:2] == [stage, label] for line in process.stdout.splitlines()), process.stdout
    assert not list(run_dir.glob("checkpoints/*.ckpt"))
    return strict_json(run_dir / "results.json")


def test_a_dry_run_of_fit_ends_with_its_table_and_results(fork_server, tmp_path):
    project = copy_project(tmp_path / "project")
    process = fork_server.run(project.root, *STANDARD, "--fast_dev_run")
    results = dry_run_results(project, process, "test", "standard_data")
    assert results["best_checkpoint"] == "" and results["best_step"] is None
    assert isinstance(results["best_score"], float) and results["best_score"] == results["val"]["standard_data"]["loss"]
    assert set(results["test"]["standard_data"]) == {"loss", "accuracy", "f1"}


def test_dry_runs_of_validate_and_test_on_a_checkpoint(fork_server, tmp_path):
    project = copy_project(tmp_path / "project")
    assert fork_server.run(project.root, *STANDARD, *FAST).returncode == 0
    [checkpoint] = project.logs.glob("*/version_0/checkpoints/last.ckpt")
    for mode, stage in (("validate", "val"), ("test", "test")):
        process = fork_server.run(project.root, *STANDARD, "--mode", mode, "--ckpt", str(checkpoint), "--fast_dev_run")
        results = dry_run_results(project, process, stage, "standard_data")
        assert results["mode"] == mode and math.isfinite(results[stage]["standard_data"]["loss"])


def test_a_dry_run_of_an_own_lightning_module(fork_server, tmp_path):
    project = copy_project(tmp_path / "project")
    project.write("model/tiny_gan.py", GAN)
    process = fork_server.run(project.root, "--model_name", "tiny_gan", "--dataset", "standard_data", "--num_samples",
                              "200", "--val_datasets", "clean=standard_data", "noisy=standard_data:noise=3.0",
                              "--monitor", "val/fake_score", "--monitor_mode", "max", "--fast_dev_run")
    results = dry_run_results(project, process, "val", "noisy")
    assert isinstance(results["best_score"], float) and results["best_score"] == results["val"]["mean"]["fake_score"]


def test_results_hold_plain_json_values_only():
    results = {"score": torch.tensor(0.5), "counts": torch.tensor([1, 2]), "numpy": numpy.float32(0.25),
               "lost": float("nan"), "over": torch.tensor(float("inf")), "path": Path("Logs/run"),
               "nested": ({"step": numpy.int64(3)}, None, True)}
    assert json.loads(json.dumps(plain_json(results), allow_nan=False)) == {
        "score": 0.5, "counts": [1, 2], "numpy": 0.25, "lost": None, "over": None, "path": "Logs/run",
        "nested": [{"step": 3}, None, True]}
