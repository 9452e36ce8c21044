"""Log folders that cannot be written: one error line, as for a log folder that cannot be created."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import error_line

STANDARD = ("--model_name", "standard_net", "--dataset", "standard_data")


@pytest.fixture
def read_only_logs(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs holding one experiment folder, remounted read-only; a skip where mounting is not allowed."""
    mount_point = tmp_path / "read_only"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"this machine cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        (mount_point / "standard_net-standard_data" / "version_0").mkdir(parents=True)
        subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_an_existing_experiment_on_a_read_only_filesystem_is_one_error_line(project, read_only_logs):
    line = error_line(project.run(*STANDARD, "--log_dir", str(read_only_logs), "--max_epochs", "1"))
    assert "cannot create the run folder" in line and "Read-only file system" in line
    assert "version_1" in line and "--log_dir" in line


def test_a_new_experiment_on_a_read_only_filesystem_is_one_error_line(project, read_only_logs):
    line = error_line(project.run(*STANDARD, "--log_dir", str(read_only_logs), "--experiment", "new"))
    assert "cannot create the run folder" in line and "Read-only file system" in line
