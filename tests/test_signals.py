"""Runs stopped from outside: SIGTERM and Ctrl-C end non-zero and say how to resume; no partial files stay behind."""

import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import FAST, Project, error_line, is_resume_line, main_environment
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_one_writer import SLOW_DATA, start_main, wait_for_file
from test_resume import assert_same_weights

from utils.trainer.signals import accumulating

SLOW = ("--model_name", "standard_net", "--dataset", "slow_data", "--batch_size", "32", "--max_epochs", "3")
ONE_CYCLE = ("--scheduler", "one_cycle_lr")


def stop_in_second_epoch(project: Project, number: signal.Signals,
                         *arguments: str) -> tuple[subprocess.Popen, Path, int]:
    """Start a slow run, send it `number` a few batches into its second epoch; return it, its folder, its step then."""
    project.write("data/slow_data.py", SLOW_DATA)
    process = start_main(project, *SLOW, *arguments, "--delay", "0.2", "--experiment", number.name)
    run_dir = project.logs / number.name / "version_0"
    wait_for_file(run_dir / "checkpoints" / "last.ckpt", process)
    first_step = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    time.sleep(0.6)  # three of the second epoch's nine 0.2 s batches: 1.2 s before its end for the signal to land
    assert process.poll() is None, "the run ended before the signal"
    process.send_signal(number)
    process.wait(timeout=120)
    return process, run_dir, first_step


def scalars(run_dir: Path, tag: str) -> dict[int, float]:
    """One TensorBoard scalar of a run folder, by step."""
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return {event.step: event.value for event in events.Scalars(tag)}


def last_line(process: subprocess.Popen) -> str:
    """The last line the process wrote on stderr."""
    return [line for line in process.stderr.read().splitlines() if line.strip()][-1]


def test_sigterm_saves_a_resumable_last_checkpoint_and_exits_non_zero(project):
    # one_cycle_lr counts the run's steps from the train loader, built before the checkpoint is restored.
    process, run_dir, first_step = stop_in_second_epoch(project, signal.SIGTERM, *ONE_CYCLE)
    assert process.returncode == 128 + signal.SIGTERM
    relative = run_dir.relative_to(project.root)
    stderr = process.stderr.read()
    hint = [line for line in stderr.splitlines() if line.strip()][-1]
    assert is_resume_line(hint, "SIGTERM", relative)
    assert "weights_only" not in stderr  # Lightning says so when a save leaves it unset: it reads as an unsafe load
    assert "Received SIGTERM" not in stderr  # Lightning's own note, which the template's line says again
    saved = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["global_step"] > first_step  # the steps of the interrupted epoch are kept
    assert not (run_dir / "results.json").exists()
    assert not list((run_dir / "checkpoints").glob(".*.tmp"))

    # Another seed would shuffle other items into what the interrupted epoch had left.
    saved_bytes = (run_dir / "checkpoints" / "last.ckpt").read_bytes()
    line = error_line(project.run("--resume", str(relative), "--delay", "0", "--seed", "7"))
    assert "items into epoch 1, with --seed 42: with 7" in line and "resume with --seed 42" in line, line
    # Batches of another size would also make another number of one_cycle_lr's steps than the schedule has.
    line = error_line(project.run("--resume", str(relative), "--delay", "0", "--batch_size", "16"))
    assert "--batch_size 16 is not the run's own (32), and the run's one_cycle_lr schedule" in line, line
    assert (run_dir / "checkpoints" / "last.ckpt").read_bytes() == saved_bytes
    # The command the line prints, run as printed by a real interpreter: it resumes the run.
    resumed = subprocess.run([*shlex.split(hint.partition("resume with: ")[2]), "--delay", "0"], cwd=project.root,
                             env=main_environment(), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((run_dir / "results.json").read_text())["epochs_trained"] == 3
    # The resumed epoch goes on with the batches it had not trained, not its first ones again.
    whole = project.run(*SLOW, *ONE_CYCLE, "--delay", "0", "--experiment", "whole")
    assert whole.returncode == 0, whole.stderr[-3000:]
    assert_same_weights(project.logs / "whole" / "version_0" / "checkpoints" / "last.ckpt",
                        run_dir / "checkpoints" / "last.ckpt")
    # The interrupted epoch's train metrics count its batches before the signal too, as the uninterrupted run's do.
    for tag in ("train/loss", "train/accuracy", "train/f1"):
        assert scalars(run_dir, tag) == pytest.approx(scalars(project.logs / "whole" / "version_0", tag), rel=1e-5)


def test_ctrl_c_ends_with_one_line_saying_how_to_resume(project):
    process, run_dir, first_step = stop_in_second_epoch(project, signal.SIGINT)
    assert process.returncode == 128 + signal.SIGINT
    relative = run_dir.relative_to(project.root)
    assert is_resume_line(last_line(process), "SIGINT", relative)
    # A Ctrl-C may land inside an optimizer step, so the last validation's checkpoint stays the one to resume.
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == first_step


def test_partial_checkpoints_of_a_killed_writer_are_removed_when_the_run_resumes(project):
    finished = project.run("--model_name", "standard_net", "--dataset", "standard_data", *FAST)
    assert finished.returncode == 0, finished.stderr[-3000:]
    checkpoints = project.run_dirs()[0] / "checkpoints"
    stale = [checkpoints / ".last.ckpt.4242-0a1b2c3d.tmp", checkpoints / ".epoch000-step2.ckpt.77-ffffffff.tmp"]
    for path in stale:
        path.write_bytes(b"PK\x03\x04 half a checkpoint")
    kept = checkpoints / ".notes.tmp"  # not a name the checkpoint writer makes
    kept.write_text("mine")
    resumed = project.run("--resume", "last", "--model_name", "standard_net", "--dataset", "standard_data",
                          "--max_epochs", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert not any(path.exists() for path in stale)
    assert kept.read_text() == "mine"


def test_sigterm_to_a_ddp_run_stops_both_processes_at_one_step_with_one_resumable_checkpoint(project):
    project.write("data/slow_data.py", SLOW_DATA)
    process = start_main(project, *SLOW, "--max_epochs", "4", "--delay", "0.3", "--accelerator", "cpu",
                         "--devices", "2", "--strategy", "ddp", "--experiment", "ddp")
    run_dir = project.logs / "ddp" / "version_0"
    wait_for_file(run_dir / "checkpoints" / "last.ckpt", process)
    first_step = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    time.sleep(0.7)  # into the second epoch (5 batches of 0.3 s a process)
    assert process.poll() is None, "the run ended before the signal"
    process.send_signal(signal.SIGTERM)  # to rank 0, which Lightning tells the other process at the next step
    process.wait(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM
    relative = run_dir.relative_to(project.root)
    assert is_resume_line(last_line(process), "SIGTERM", relative)
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] > first_step
    assert not list((run_dir / "checkpoints").glob(".*.tmp"))

    # Resuming needs the folder's lock: the second process has ended too.
    resumed = project.run("--resume", str(relative), "--delay", "0")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((run_dir / "results.json").read_text())["epochs_trained"] == 4


@pytest.mark.parametrize(("trained", "expected"), [(5, True), (6, False), (11, False)])
def test_sigterm_saves_nothing_while_accumulated_gradients_wait_for_their_step(trained, expected):
    # Two batches a step, 11 an epoch: after 5 one gradient waits, after 6 none, after 11 the epoch's end steps.
    progress = SimpleNamespace(current=SimpleNamespace(completed=trained))
    trainer = SimpleNamespace(fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace(batch_progress=progress)),
                              current_epoch=0, accumulate_grad_batches=2, num_training_batches=11)
    assert accumulating(trainer) is expected


def test_a_hint_names_the_python_that_ran_when_a_plain_python_is_another(tmp_path, monkeypatch):
    from utils import errors

    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    venv_python = tmp_path / "project" / ".venv" / "bin" / "python"
    monkeypatch.setattr(errors.sys, "executable", str(venv_python))
    monkeypatch.setattr(errors.shutil, "which", lambda name: str(venv_python))  # the environment is activated
    monkeypatch.setattr(errors, "MAIN_SCRIPT", tmp_path / "project" / "main.py")
    assert errors.main_command() == "python main.py" and errors.pip_command() == "pip install"
    monkeypatch.setattr(errors.shutil, "which", lambda name: "/usr/bin/python")
    assert errors.main_command() == ".venv/bin/python main.py"  # as the README's quick start types it
    assert errors.pip_command() == ".venv/bin/python -m pip install"
    monkeypatch.undo()
    monkeypatch.setattr(errors.shutil, "which", lambda name: "/usr/bin/python")
    monkeypatch.chdir(tmp_path.parent)
    monkeypatch.setattr(errors.sys, "executable", "/opt/my envs/bin/python")
    assert errors.main_command() == f"'/opt/my envs/bin/python' {os.path.relpath(errors.MAIN_SCRIPT)}"
    assert errors.pip_command() == "'/opt/my envs/bin/python' -m pip install"
    monkeypatch.chdir(errors.MAIN_SCRIPT.parent / "utils")  # a subfolder of the project: main.py is one up
    assert errors.main_command().endswith(" ../main.py")
