"""Each run of a cross-validation or a sweep is `python main.py` in a process of its own, writing into a given folder.

A process per run keeps runs apart (memory, random state, DDP's launchers, which start the script again for every
rank) and makes each one exactly the run its config.yaml reruns alone.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from utils.config.command_line import Command
from utils.errors import RunStopped
from utils.experiments.pruning import TRIAL_VARIABLE
from utils.runs.folder import RUN_DIR_VARIABLE
from utils.shared_names import RESULTS_FILE

# prctl's option that names the signal a process gets when its parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1
FORWARDED = (signal.SIGTERM, signal.SIGINT)


@dataclass(frozen=True)
class MainEntry:
    """What main.py lends the drivers: its own path, its checks and its dry build (utils never imports main)."""

    script: Path
    checked_command: Callable[[list[str]], Command]
    build_checked: Callable[[Command], Any]


def before_child_starts(cpus: tuple[int, ...] | None = None) -> Callable[[], None] | None:
    """What a child runs before it starts: pin it to `cpus` if given, and on Linux ask for SIGTERM (a checkpoint, then
    an exit) when its parent dies, however it dies."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def prepare() -> None:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return prepare


@contextmanager
def signals_forwarded(children: list[subprocess.Popen]) -> Iterator[list[signal.Signals]]:
    """Pass SIGTERM and SIGINT on to the children still running in `children` (each saves, then ends); yield the
    signals passed on."""
    received: list[signal.Signals] = []

    def forward(number: int, frame: Any) -> None:
        received.append(signal.Signals(number))
        for child in list(children):
            if child.poll() is None:
                child.send_signal(number)

    earlier = {number: signal.getsignal(number) for number in FORWARDED}
    for number, handler in earlier.items():
        if handler is not signal.SIG_IGN:  # a signal this process ignores, its child ignores too
            signal.signal(number, forward)
    try:
        yield received
    finally:
        for number, handler in earlier.items():
            signal.signal(number, handler)


def start_child(script: Path, argv: list[str], run_dir: Path, environment: dict[str, str] | None = None,
                cpus: tuple[int, ...] | None = None, output: IO[str] | None = None) -> subprocess.Popen:
    """Start `python main.py ARGV` into `run_dir` (on `cpus`, its output to `output` or else to ours)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    # The child takes the folder it is handed (utils/runs/folder.py) and holds its lock; a trial's description is
    # what `environment` gives it, never one left in the shell.
    inherited = {name: value for name, value in os.environ.items() if name != TRIAL_VARIABLE}
    child_environment = {**inherited, RUN_DIR_VARIABLE: f"{os.getpid()}:{run_dir}", **(environment or {})}
    sys.stdout.flush()
    sys.stderr.flush()
    # A process group of its own: a Ctrl-C in the terminal reaches the child once, passed on by this process.
    return subprocess.Popen([sys.executable, str(script), *argv], env=child_environment, process_group=0,
                            preexec_fn=before_child_starts(cpus), stdout=output, stderr=output)


def run_main(script: Path, argv: list[str], run_dir: Path, resume: str,
             environment: dict[str, str] | None = None) -> int:
    """Run `python main.py ARGV` into `run_dir`, its output going to ours, and return its exit code; a SIGTERM or
    SIGINT to this process stops the child (which saves) and then this process, saying `resume`."""
    child = start_child(script, argv, run_dir, environment)
    with signals_forwarded([child]) as received:
        code = child.wait()  # a forwarding handler runs and the wait goes on (PEP 475)
    if received:
        raise RunStopped(f"stopped by {received[0].name}; {resume}", 128 + received[0])
    return code


def exit_description(code: int) -> str:
    """`exit code 1`, or `killed by SIGKILL` for a child a signal ended (its code is minus the signal's number)."""
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


def exit_status(code: int) -> int:
    """The exit code this process passes on for a child's: a child a signal ended gives 128 + its number."""
    return code if code >= 0 else 128 - code


def read_results(run_dir: Path) -> dict[str, Any]:
    """The results.json a finished run wrote."""
    return json.loads((run_dir / RESULTS_FILE).read_text())
