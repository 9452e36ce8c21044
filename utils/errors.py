"""The one exception type for mistakes the user can fix."""

import os
import re
import shlex
import shutil
import sys
from pathlib import Path

MAIN_SCRIPT = Path(__file__).resolve().parents[1] / "main.py"
TERMINAL_STYLE = re.compile(r"\x1b\[[0-9;]*m")  # the bold and colours torch's messages carry for a terminal


def without_terminal_style(text: str) -> str:
    """`text` without the escape codes that make a terminal print it bold or in colour."""
    return TERMINAL_STYLE.sub("", text)


def one_line(text: str) -> str:
    """`text` with each character a terminal would not print as one (a newline, a tab) written as its escape."""
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode() for char in text)


def python_command() -> str:
    """`python` as a hint prints it: this interpreter's path where a plain `python` would start another (a virtual
    environment not activated), so the hint runs as printed."""
    python = os.path.abspath(sys.executable)
    if shutil.which("python") in (python, sys.executable):
        return "python"
    relative = os.path.relpath(python)
    return shlex.quote(python if relative.startswith("..") else relative)


def main_command() -> str:
    """`python main.py` as a hint prints it: this interpreter, and main.py as seen from the current folder."""
    return f"{python_command()} {shlex.quote(os.path.relpath(MAIN_SCRIPT))}"


def pip_command() -> str:
    """`pip install` as a hint prints it: through this interpreter where a plain `python` would start another."""
    python = python_command()
    return "pip install" if python == "python" else f"{python} -m pip install"


class UserError(Exception):
    """A wrong input: the message says what was wrong and how to fix it, on one line whatever values it quotes."""

    def __init__(self, message: str) -> None:
        if message.startswith("Caught ") and "DataLoader worker process" in message.partition("\n")[0]:
            # torch raises a worker's error again in the main process, its message the worker's whole traceback.
            message = message.rstrip().rpartition(f"{type(self).__name__}: ")[2]
        super().__init__(one_line(message))


class SameInEveryProcess(UserError):
    """A wrong input that every process of a distributed run finds alike: process 0 alone says it."""


class TrainingDiverged(Exception):
    """The loss became NaN or infinite: the run stops, keeping its checkpoints."""


class DiskFull(Exception):
    """A checkpoint did not fit on its disk: the run stops, keeping the checkpoints it saved before."""


class RunPruned(Exception):
    """A sweep's pruner stopped this trial's training early: not a failure, its results say so."""


class RunStopped(Exception):
    """A signal stopped the run: main.py prints the message (empty on ranks other than 0) and exits with the code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
