"""A cross-validation owns its folds: a signal to it reaches the running fold, a fold dies with it, and each fold
holds its own folder's lock, so a second writer is refused."""

import signal
import subprocess
import time
from pathlib import Path

import torch
from conftest import Project, is_resume_line
from test_one_writer import hold, start_main, wait_for_file
from test_resume import SLOW_DATA

from utils.run_lock import is_locked

CROSS_VALIDATION = ("--model_name", "standard_net", "--dataset", "slow_data", "--delay", "0.2", "--batch_size", "32",
                    "--max_epochs", "30", "--folds", "2", "--experiment", "cv")
RUN_DIR = Path("Logs/cv/version_0")


def wait_until_free(run_dir: Path, timeout: float = 120) -> None:
    """Wait until no process holds the folder's lock."""
    deadline = time.monotonic() + timeout
    while is_locked(run_dir):
        assert time.monotonic() < deadline, f"{run_dir} is still held"
        time.sleep(0.1)


def start_folds(project: Project) -> tuple[subprocess.Popen, Path, int]:
    """A slow 2-fold cross-validation, once its first fold saved a checkpoint; its fold folder, and that step."""
    project.write("data/slow_data.py", SLOW_DATA)
    parent = start_main(project, *CROSS_VALIDATION)
    fold = project.root / RUN_DIR / "fold_0"
    wait_for_file(fold / "checkpoints" / "last.ckpt", parent)
    assert is_locked(fold)  # the fold's own process holds its folder
    return parent, fold, torch.load(fold / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]


def test_sigterm_to_the_parent_alone_stops_the_fold_with_a_checkpoint_and_names_the_whole_resume(project):
    parent, fold, first_step = start_folds(project)
    time.sleep(0.6)
    parent.send_signal(signal.SIGTERM)  # to the parent alone, as `docker stop` or `kill PID` sends it
    parent.wait(timeout=120)
    assert parent.returncode == 128 + signal.SIGTERM
    lines = [line for line in parent.stderr.read().splitlines() if line.strip()]
    assert is_resume_line(lines[-1], "SIGTERM", RUN_DIR)
    assert not is_locked(fold)
    assert torch.load(fold / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] > first_step
    assert not (fold / "results.json").exists()


def test_a_fold_dies_with_its_killed_parent_and_a_held_fold_is_not_resumed(project):
    parent, fold, _ = start_folds(project)
    parent.kill()  # SIGKILL: the parent cannot pass anything on
    parent.wait(timeout=60)
    wait_until_free(fold)  # the fold got SIGTERM from the kernel, saved and ended
    holder = hold(fold)  # a writer that is still alive, as an orphan of an older start would be
    try:
        resumed = project.run("--resume", str(RUN_DIR))
    finally:
        holder.kill()
        holder.wait()
    assert resumed.returncode == 2, resumed.stderr[-3000:]
    assert f"the run in {RUN_DIR / 'fold_0'} is still running (process {holder.pid} writes into it)" in resumed.stderr
    assert f"--resume {RUN_DIR} continues with that fold" in resumed.stderr.splitlines()[-1]
