"""Log folders that cannot be written: one error line, as for a log folder that cannot be created."""

import subprocess
from pathlib import Path

import pytest
from conftest import error_line

STANDARD = ("--model_name", "standard_net", "--dataset", "standard_data")


def make_read_only(mount_point: Path) -> None:
    """Remount the tmpfs read-only."""
    subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)


@pytest.fixture
def read_only_logs(small_disk: Path) -> Path:
    """A read-only tmpfs holding one empty experiment folder."""
    (small_disk / "standard_net-standard_data" / "version_0").mkdir(parents=True)
    make_read_only(small_disk)
    return small_disk


def test_an_existing_experiment_on_a_read_only_filesystem_is_one_error_line(project, read_only_logs):
    line = error_line(project.run(*STANDARD, "--log_dir", str(read_only_logs), "--max_epochs", "1"))
    assert "cannot create the run folder" in line and "Read-only file system" in line
    assert "version_1" in line and "--log_dir" in line


def test_a_new_experiment_on_a_read_only_filesystem_is_one_error_line(project, read_only_logs):
    line = error_line(project.run(*STANDARD, "--log_dir", str(read_only_logs), "--experiment", "new"))
    assert "cannot create the run folder" in line and "Read-only file system" in line


def test_resuming_a_run_on_a_read_only_filesystem_is_one_error_line_and_changes_nothing(project, small_disk):
    arguments = (*STANDARD, "--num_samples", "200", "--log_dir", str(small_disk), "--limit_train_batches", "2")
    assert project.run(*arguments, "--max_epochs", "1").returncode == 0
    make_read_only(small_disk)
    run_dir = small_disk / "standard_net-standard_data" / "version_0"
    before = {path: path.stat().st_mtime_ns for path in run_dir.rglob("*")}
    for target in ("last", str(run_dir)):
        line = error_line(project.run(*arguments, "--max_epochs", "2", "--resume", target))
        assert f"cannot write into {run_dir}" in line and "resume the copy" in line
    assert {path: path.stat().st_mtime_ns for path in run_dir.rglob("*")} == before
