"""`--parallel N`: folds and trials at once, each child on its own CPUs (or GPUs), stopped and resumed together."""

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from conftest import error_line, is_resume_line
from test_experiments import SWEEP, TINY, storage_url
from test_one_writer import start_main, wait_for_file
from test_resume import SLOW_DATA
from test_run_ownership import wait_until_free

from utils.errors import UserError
from utils.experiments import parallel_runs
from utils.experiments.child_slots import ChildSlot, child_slots, split_evenly
from utils.machine import usable_cpus
from utils.runs.folder import RUN_DIR_VARIABLE

SLOW_FOLDS = ("--model_name", "standard_net", "--dataset", "slow_data", "--delay", "0.2", "--batch_size", "32",
              "--folds", "2", "--parallel", "2", "--experiment", "cv")
RUN_DIR = Path("Logs/cv/version_0")


def test_cpus_are_split_into_even_runs_and_auto_gives_each_child_one():
    slots = child_slots(2, "auto", "auto", 0, [0, 1, 2, 3, 4])
    assert [slot.cpus for slot in slots] == [(0, 1, 2), (3, 4)]
    assert [slot.environment() for slot in slots] == [{}, {}]
    assert [slot.describe() for slot in slots] == ["CPUs 0-2", "CPUs 3-4"]
    assert [slot.cpus for slot in child_slots("auto", 1, "cpu", 0, [2, 5])] == [(2,), (5,)]
    with pytest.raises(UserError, match="this process may use 2: pass --parallel 2 or fewer"):
        child_slots(3, "auto", "auto", 0, [0, 1])


def test_gpus_go_in_groups_of_devices_as_cuda_visible_devices_names_them():
    slots = child_slots(2, 2, "auto", 4, list(range(8)), environ={})
    assert [slot.environment() for slot in slots] == [{"CUDA_VISIBLE_DEVICES": "0,1"},
                                                       {"CUDA_VISIBLE_DEVICES": "2,3"}]
    assert [slot.cpus for slot in slots] == [(0, 1, 2, 3), (4, 5, 6, 7)]
    visible = child_slots("auto", "auto", "gpu", 4, [0, 1], environ={"CUDA_VISIBLE_DEVICES": "3,5,6,7"})
    assert [slot.gpus for slot in visible] == [("3",), ("5",), ("6",), ("7",)]
    assert [slot.cpus for slot in visible] == [None] * 4  # fewer CPUs than children: they share this process's
    assert visible[0].describe() == "GPU 3"
    with pytest.raises(UserError, match="needs 6 GPUs and this machine shows 4"):
        child_slots(3, 2, "auto", 4, [0, 1])
    with pytest.raises(UserError, match="pass a count such as --devices 1, not 0,1"):
        child_slots(2, [0, 1], "auto", 4, [0, 1])
    assert [slot.gpus for slot in child_slots(2, "auto", "cpu", 4, [0, 1])] == [None, None]  # --accelerator cpu


def test_a_machine_with_gpus_hands_them_out_and_one_without_hands_out_cpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert [slot.gpus for slot in parallel_runs.machine_slots("auto", "auto", "auto")] == [("0",), ("1",)]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cpus = sorted(os.sched_getaffinity(0))[:usable_cpus()]
    assert [slot.cpus for slot in parallel_runs.machine_slots("auto", "auto", "auto")] == [(cpu,) for cpu in cpus]


@pytest.mark.parametrize(("arguments", "expected"), [
    (("--parallel", "2"), "--parallel 2 runs the trials of a --sweep or the folds of --folds K at once"),
    (("--folds", "2", "--fold", "1", "--parallel", "2"), "--parallel 2 runs the trials"),
    (("--folds", "2", "--parallel", "0"), "expected an integer of at least 1"),
    (("--folds", "2", "--parallel", "4096"), "pass --parallel"),
])
def test_parallel_without_several_runs_or_beyond_the_machine_is_one_error_line(project, arguments, expected):
    process = project.run(*TINY, *arguments)
    assert process.returncode == 2
    assert expected in error_line(process)
    assert not project.run_dirs()


def children_of(pid: int) -> list[int]:
    """The processes `pid` started, from any of its threads."""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return [int(child) for task in tasks for child in (task / "children").read_text().split()]


def start_both_folds(project, epochs: int) -> tuple[subprocess.Popen, list[Path]]:
    """A slow 2-fold cross-validation with --parallel 2, once both folds saved a checkpoint; the folds' folders."""
    project.write("data/slow_data.py", SLOW_DATA)
    parent = start_main(project, *SLOW_FOLDS, "--max_epochs", str(epochs))
    folds = [project.root / RUN_DIR / f"fold_{fold}" for fold in range(2)]
    for fold in folds:
        wait_for_file(fold / "checkpoints" / "last.ckpt", parent)
    return parent, folds


def test_sigterm_stops_every_child_each_resumable_and_a_resume_runs_both_at_once(project):
    parent, folds = start_both_folds(project, 4)
    assert len(children_of(parent.pid)) == 2  # both folds run at once
    parent.send_signal(signal.SIGTERM)
    parent.wait(timeout=120)
    assert parent.returncode == 128 + signal.SIGTERM
    lines = [line for line in parent.stderr.read().splitlines() if line.strip()]
    assert is_resume_line(lines[-1], "SIGTERM", RUN_DIR)
    for fold in folds:
        wait_until_free(fold)
        assert (fold / "checkpoints" / "last.ckpt").is_file() and not (fold / "results.json").exists()

    resumed = project.run("--resume", str(RUN_DIR), "--parallel", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "parallel: 2 of 2 running" in resumed.stdout
    threads = sorted(len(share) for share in split_evenly(sorted(os.sched_getaffinity(0))[:usable_cpus()], 2))
    records = [yaml.safe_load((fold / "environment.yaml").read_text()) for fold in folds]
    assert sorted(record["threads"] for record in records) == threads  # each child on its own share of the CPUs
    for fold in folds:
        assert json.loads((fold / "results.json").read_text())["epochs_trained"] == 4
        assert "run folder:" in (fold / "output.log").read_text()  # each child's output went to its own folder
    assert list(json.loads((project.root / RUN_DIR / "results.json").read_text())["fold_runs"]) == ["fold_0",
                                                                                                   "fold_1"]


def test_a_fold_that_fails_leaves_the_other_running_to_its_end(project):
    parent, folds = start_both_folds(project, 2)
    [killed] = [child for child in children_of(parent.pid)
                if "--fold\x000" in Path(f"/proc/{child}/cmdline").read_text()]
    os.kill(killed, signal.SIGKILL)
    parent.wait(timeout=180)
    assert parent.returncode == 128 + signal.SIGKILL
    stderr = parent.stderr.read()
    assert "error: fold 0 stopped (killed by SIGKILL; its output.log says why)" in stderr
    assert not (folds[0] / "results.json").exists()
    assert json.loads((folds[1] / "results.json").read_text())["epochs_trained"] == 2
    assert not (project.root / RUN_DIR / "results.json").exists()


def test_two_trials_of_a_sweep_run_at_once_each_writing_its_own_output(project):
    project.write("sweep.yaml", SWEEP)
    process = project.run(*TINY, "--sweep", "sweep.yaml", "--trials", "2", "--parallel", "2",
                          "--storage", storage_url(project))
    assert process.returncode == 0, process.stderr[-3000:]
    assert "parallel: 2 of 2 running" in process.stdout
    study = project.logs / "standard_net-standard_data" / "sweep"
    for trial in ("trial_0", "trial_1"):
        assert "run folder:" in (study / trial / "output.log").read_text()
        assert json.loads((study / trial / "results.json").read_text())["best_score"] is not None
    assert (study / "best_config.yaml").is_file()


# A child that ends by SIGTERM, after writing its results.json when told to (as a fold that had finished).
ENDS_BY_SIGTERM = """
import os, signal, sys
from pathlib import Path
if sys.argv[1] == "finished":
    (Path(os.environ[sys.argv[2]].split(":", 1)[1]) / "results.json").write_text("{}")
os.kill(os.getpid(), signal.SIGTERM)
"""


@pytest.mark.parametrize("finished", [True, False])
def test_a_child_ended_by_a_signal_is_reported_stopped_unless_it_had_finished(tmp_path, capsys, finished):
    script = tmp_path / "child.py"
    script.write_text(ENDS_BY_SIGTERM)
    runs = parallel_runs.ParallelRuns(script, [ChildSlot(0, None, None)])
    argv = ["finished" if finished else "stopped", RUN_DIR_VARIABLE]
    assert runs.run_child(runs.slots[0], "fold_0", argv, tmp_path / "fold_0") == -signal.SIGTERM
    expected = ("fold_0 had finished, its results.json written, when it ended (killed by SIGTERM)" if finished
                else "fold_0 stopped (killed by SIGTERM)")
    assert expected in capsys.readouterr().err
