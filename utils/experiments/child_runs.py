"""Each run of a cross-validation or a sweep is `python main.py` in a process of its own, writing into a given folder.

A process per run keeps runs apart (memory, random state, DDP's launchers, which start the script again for every
rank) and makes each one exactly the run its config.yaml reruns alone.
"""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.config.command_line import Command
from utils.experiments.pruning import TRIAL_VARIABLE
from utils.run_lock import DRIVER_VARIABLE
from utils.runs.folder import RUN_DIR_VARIABLE


@dataclass(frozen=True)
class MainEntry:
    """What main.py lends the drivers: its own path, its checks and its dry build (utils never imports main)."""

    script: Path
    checked_command: Callable[[list[str]], Command]
    build_checked: Callable[[Command], Any]


def run_main(script: Path, argv: list[str], run_dir: Path, environment: dict[str, str] | None = None) -> int:
    """Run `python main.py ARGV` into `run_dir`, its output going to ours, and return its exit code."""
    run_dir.mkdir(parents=True, exist_ok=True)
    # The child takes the folder it is handed (utils/runs/folder.py), as DDP's ranks take their parent's.
    # A trial's description is what `environment` gives it, never one left in the shell of a cross-validation.
    inherited = {name: value for name, value in os.environ.items() if name != TRIAL_VARIABLE}
    child_environment = {**inherited, RUN_DIR_VARIABLE: f"{os.getpid()}:{run_dir}", DRIVER_VARIABLE: str(os.getpid()),
                         **(environment or {})}
    sys.stdout.flush()
    sys.stderr.flush()
    return subprocess.run([sys.executable, str(script), *argv], env=child_environment, check=False).returncode


def read_results(run_dir: Path) -> dict[str, Any]:
    """The results.json a finished run wrote."""
    return json.loads((run_dir / "results.json").read_text())
