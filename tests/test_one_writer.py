"""One writer per run folder: a live run keeps every other process out of its folder, a dead one keeps none out."""

import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import FAST, Project, error_line, main_environment
from test_resume import SLOW_DATA

STANDARD = ("--model_name", "standard_net", "--dataset", "standard_data")
# A process that holds a folder's lock as a run does, and says so once it has it.
HOLDER = ("import fcntl, os, sys, time\n"
          "descriptor = os.open(os.path.join(sys.argv[1], '.lock'), os.O_RDWR | os.O_CREAT)\n"
          "fcntl.flock(descriptor, fcntl.LOCK_EX)\n"
          "print('held', flush=True)\n"
          "time.sleep(300)\n")


def start_main(project: Project, *arguments: str) -> subprocess.Popen:
    """Start `python main.py ARGUMENTS` in the background."""
    # Ctrl-C as a terminal sends it, even when the tests themselves run in a background job that ignores it.
    return subprocess.Popen([sys.executable, "main.py", *arguments], cwd=project.root, env=main_environment(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_file(path: Path, process: subprocess.Popen, timeout: float = 180) -> None:
    """Wait until `path` exists while `process` still runs."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.stderr.read()[-3000:]
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def hold(run_dir: Path) -> subprocess.Popen:
    """Another live process holding `run_dir`'s lock."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_live_run_refuses_a_second_writer_and_a_killed_one_leaves_no_lock(project):
    project.write("data/slow_data.py", SLOW_DATA)
    arguments = ("--model_name", "standard_net", "--dataset", "slow_data", "--delay", "0.2", "--batch_size", "32",
                 "--max_epochs", "30")
    live = start_main(project, *arguments, "--experiment", "live")
    run_dir = project.logs / "live" / "version_0"
    try:
        wait_for_file(run_dir / "checkpoints" / "last.ckpt", live)
        line = error_line(project.run("--resume", str(run_dir)))
        assert f"{run_dir} is still running (process {live.pid} writes into it)" in line
        line = error_line(project.run("--resume", "last", "--experiment", "live"))
        assert "still running (version_0)" in line
        assert live.poll() is None  # the refused processes left the live run alone
    finally:
        live.kill()
        live.wait()
    resumed = project.run("--resume", str(run_dir), "--delay", "0")  # SIGKILL left no stale lock
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert project.run_dirs() == [run_dir]


def test_resume_last_skips_a_run_another_process_holds(project):
    for _ in range(2):
        finished = project.run(*STANDARD, *FAST)
        assert finished.returncode == 0, finished.stderr[-3000:]
    older, newer = project.run_dirs()
    newer_config = (newer / "config.yaml").read_text()
    holder = hold(newer)
    try:
        resumed = project.run("--resume", "last", *STANDARD, "--max_epochs", "2")
    finally:
        holder.kill()
        holder.wait()
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"run folder: {older.relative_to(project.root)}" in resumed.stdout
    assert "max_epochs: 2" in (older / "config.yaml").read_text()
    assert (newer / "config.yaml").read_text() == newer_config


def test_resume_of_a_held_run_changes_nothing(project):
    finished = project.run(*STANDARD, *FAST)
    assert finished.returncode == 0, finished.stderr[-3000:]
    run_dir = project.run_dirs()[0]
    before = sorted((path, path.stat().st_mtime_ns) for path in run_dir.rglob("*"))
    holder = hold(run_dir)
    try:
        line = error_line(project.run("--resume", str(run_dir / "checkpoints" / "last.ckpt"), "--max_epochs", "2"))
    finally:
        holder.kill()
        holder.wait()
    assert f"process {holder.pid}" in line and "wait for it to end" in line
    assert sorted((path, path.stat().st_mtime_ns) for path in run_dir.rglob("*")) == before


def test_resuming_a_live_run_that_has_no_checkpoint_yet_says_it_is_running(project):
    finished = project.run(*STANDARD, *FAST)
    assert finished.returncode == 0, finished.stderr[-3000:]
    run_dir = project.run_dirs()[0]
    (run_dir / "checkpoints" / "last.ckpt").unlink()  # as before the first validation of a live run
    holder = hold(run_dir)
    try:
        by_folder = error_line(project.run("--resume", str(run_dir)))
        by_last = error_line(project.run("--resume", "last", *STANDARD))
    finally:
        holder.kill()
        holder.wait()
    assert f"is still running (process {holder.pid} writes into it)" in by_folder, by_folder
    assert "(version_0 still running, with no checkpoint yet)" in by_last, by_last
