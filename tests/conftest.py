"""Shared fixtures: a private copy of the project per test, and `main.py` run as a user runs it."""

import compileall
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from forked_main import ForkedRun, ForkServer

PROJECT = Path(__file__).resolve().parent.parent
# Two workers' runs share the cores, each with a thread per core: an OpenMP thread out of work sleeps rather than
# spins on a core the other run needs (read as torch loads, so set before any test imports it; see benchmarks/README).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
COPIED = ("main.py", "utils", "model", "data")
# Small and quick, with the confusion matrix images a run draws by default: for the tests that look at them.
FAST_WITH_IMAGES = ("--max_epochs", "1", "--limit_train_batches", "2", "--limit_val_batches", "2",
                    "--limit_test_batches", "2")
# What every end-to-end run adds unless a test says otherwise. Drawing the images (test_confusion_images.py's
# subject) takes longer than two batches of training: 1-2 s a run of a 2 s run on 2 busy cores.
FAST = (*FAST_WITH_IMAGES, "--confusion_images", "off")


def main_environment() -> dict[str, str]:
    """The environment `main.py` runs in: this one, less a run folder that a parent run would have handed down and
    the thread count a run made in this process leaves behind (main.main sets OMP_NUM_THREADS for its ranks)."""
    return {key: value for key, value in os.environ.items() if key not in ("TEMPLATE_RUN_DIR", "OMP_NUM_THREADS")}


# This test process's fork server (one per xdist worker), started by the first run that needs it.
_fork_server: ForkServer | None = None


def shared_fork_server() -> ForkServer:
    """The process that runs each `python main.py` in a fork of itself, torch and Lightning imported once."""
    global _fork_server
    if _fork_server is None or _fork_server.process.poll() is not None:
        _fork_server = ForkServer(Path(tempfile.mkdtemp(prefix="fork_server_")), main_environment())
    return _fork_server


@pytest.fixture(scope="session")
def fork_server() -> ForkServer:
    """This worker's fork server, for tests that call `fork_server.run(root, *arguments)` themselves."""
    return shared_fork_server()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """End this process's fork server and remove the outputs it kept and the compiled template."""
    if _fork_server is not None and _fork_server.process.poll() is None:
        _fork_server.close()
        shutil.rmtree(_fork_server.scratch, ignore_errors=True)
    if _compiled is not None:
        shutil.rmtree(_compiled, ignore_errors=True)


class Project:
    """A copy of the template in a temporary folder, with its own Logs/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.logs = root / "Logs"

    def run(self, *arguments: str, timeout: int = 300, env: dict | None = None,
            variables: dict | None = None) -> subprocess.CompletedProcess:
        """Run `python main.py ARGUMENTS` in the copy and return the finished process.

        The run is a fork of this worker's fork server, as `python main.py` but for the packages already imported,
        with `variables` added to its environment (variables the run reads as it runs); with `env`, whose variables
        torch or Lightning may read as they are imported, it is a fresh interpreter.
        """
        if env is not None:
            return self.run_process(*arguments, timeout=timeout, env=env)
        return shared_fork_server().run(self.root, *arguments, timeout=timeout,
                                        environment={**main_environment(), **(variables or {})})

    def start(self, *arguments: str) -> ForkedRun:
        """Start `python main.py ARGUMENTS` in a fork without waiting for it; `wait` collects it."""
        return shared_fork_server().start(self.root, *arguments, environment=main_environment())

    def wait(self, run: ForkedRun, timeout: int = 300) -> subprocess.CompletedProcess:
        """Wait for a run `start` began and return the finished process."""
        return shared_fork_server().wait(run, timeout)

    def run_process(self, *arguments: str, timeout: int = 300, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run `python main.py ARGUMENTS` in a fresh interpreter: for tests whose subject is the process itself."""
        return subprocess.run([sys.executable, "main.py", *arguments], cwd=self.root, capture_output=True,
                              text=True, timeout=timeout, env={**main_environment(), **(env or {})})

    def write(self, relative: str, text: str) -> Path:
        """Add a file to the copy (a user's net or dataset, a config)."""
        path = self.root / relative
        path.write_text(text)
        return path

    def run_dirs(self) -> list[Path]:
        """Every run folder under Logs/."""
        return sorted(self.logs.glob("*/version_*"))


def copy_code(source: Path, target: Path) -> None:
    """Copy the template's code (COPIED) from `source` into `target`, modification times kept, no __pycache__ of
    the working tree (a compiled copy's own bytecode is copied)."""
    for name in COPIED:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name,
                            ignore=None if source != PROJECT else shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source / name, target / name)


# This process's copy of the template's code with its bytecode, made by the first `copy_project`.
_compiled: Path | None = None


def compiled_template() -> Path:
    """The template's code copied once and compiled, whatever PYTHONDONTWRITEBYTECODE says: each project copied
    from it, modification times kept, loads the bytecode rather than compiling its modules at every run."""
    global _compiled
    if _compiled is None:
        compiled = Path(tempfile.mkdtemp(prefix="compiled_template_"))
        copy_code(PROJECT, compiled)
        compileall.compile_dir(compiled, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
        _compiled = compiled
    return _compiled


def copy_project(root: Path) -> Project:
    """A fresh copy of the template at `root`; the MNIST files are linked, not copied."""
    root.mkdir()
    copy_code(compiled_template(), root)
    (root / "example_Minist_data").symlink_to(PROJECT / "example_Minist_data")
    return Project(root)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A fresh copy of the template for one test."""
    return copy_project(tmp_path / "project")


def error_line(process: subprocess.CompletedProcess) -> str:
    """The single `error: ...` line of a refused run, checking there is nothing else on stderr."""
    lines = [line for line in process.stderr.splitlines() if line.strip()]
    assert process.returncode == 2, process.stderr[-3000:]
    assert "Traceback" not in process.stderr, process.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), process.stderr[-3000:]
    return lines[0]


def is_resume_line(line: str, signal_name: str, run_dir: object) -> bool:
    """Whether `line` is a stopped run's last line: the signal, then `<python> main.py --resume <run_dir>` (the python
    a hint names depends on how the tests were started; tests/test_signals.py runs one as printed)."""
    stopped, _, command = line.partition("; resume with: ")
    return stopped == f"stopped by {signal_name}" and command.endswith(f" main.py --resume {run_dir}")


def with_plain_pip(line: str) -> str:
    """`line` with a hint's `<python> -m pip install` as `pip install`: which python a hint names depends on how the
    tests were started (tests/test_signals.py checks that choice)."""
    return re.sub(r"\S+ -m pip install", "pip install", line)


def linear_net_with_metrics(name: str, imports: str, metrics: str) -> str:
    """model/ source of `name`: one linear layer over StandardData's 16 features to 10 classes, whose metrics() returns
    `metrics` (an expression using `imports`)."""
    return f"""
{imports}
from torch import nn


class {name}(nn.Module):
    def __init__(self, num_features: int = 16, num_classes: int = 10):
        super().__init__()
        self.layer = nn.Linear(num_features, num_classes)

    def forward(self, x):
        return self.layer(x)

    def metrics(self):
        return {metrics}
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs mounted for the test, or a skip where this machine cannot mount one."""
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small filesystem needs root and mount(8)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"this machine cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)
