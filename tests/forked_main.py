"""`python main.py ARGS` without paying for Python, torch and Lightning to start each time.

Run as a script, this file is a fork server: it imports the third-party packages `main.py` needs (never the
project's own `main`, `utils`, `model` or `data`, which differ per project copy), then reads one JSON request a
line on stdin: a run, for which it forks a child and answers its process id, or a wait, for which it answers that
child's exit code once it ends. Several runs may go side by side. The child becomes
`python main.py ARGS`: its own cwd, `sys.path[0]`, `sys.argv`, stdin, stdout and stderr, then `main.py` runs as
`__main__` and the interpreter ends the child as it ends any script (SystemExit codes, tracebacks, atexit).
Everything a run changes dies with its child, so runs share nothing but the packages imported before the fork.
A child ends as Python ends, but for the last step: after its threads, exit handlers and output are done, it leaves
without tearing down the modules it inherited (so a file a run leaves open and unflushed stays unflushed: the run's
bug, which a real interpreter would hide).
"""

import atexit
import contextlib
import gc
import importlib
import json
import os
import runpy
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# Imported once, before any fork. Only imports: torch must not start its thread pools in the server.
PRELOADED = ("torch", "pytorch_lightning")
# What nearly every run imports besides (0.1 s a run); one that a server's environment hides stays unimported.
OPTIONAL_PRELOADED = ("torch.utils.tensorboard", "matplotlib.backends.backend_agg", "torchmetrics.classification")
# Each project copy has its own; one left in sys.modules would be the one every child uses.
PROJECT_MODULES = ("main", "utils", "model", "data")
POLL_SECONDS = 0.005
SERVER = os.getpid()


@dataclass
class Ending:
    """How the child's main.py ended, as Python would end the process: an exit code, or the SIGINT it re-raises."""

    code: int = 0
    interrupted: bool = False


ENDING = Ending()


@dataclass(frozen=True)
class ForkedRun:
    """A `python main.py` started in a fork and not waited for yet: its process id, command and output files."""

    pid: int
    args: list[str]
    stdout: Path
    stderr: Path


class ForkServer:
    """A server process, started once, that runs `main.py` in a fresh fork for every call of `run` or `start`."""

    def __init__(self, scratch: Path, environment: dict[str, str]) -> None:
        self.scratch = scratch
        self.runs = 0
        self.log = scratch / "server.stderr"
        with self.log.open("w") as log:
            self.process = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=log, text=True, cwd=scratch, env=environment)

    def run(self, root: Path, *arguments: str, timeout: int = 300,
            environment: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run `python main.py ARGUMENTS` in the project copy `root` and return the finished process.

        `environment`, where given, replaces the child's `os.environ`: what the run reads, not what the packages the
        server imported read when it started (torch's thread and device variables, for one).
        """
        return self.wait(self.start(root, *arguments, environment=environment), timeout)

    def start(self, root: Path, *arguments: str, environment: dict[str, str] | None = None) -> ForkedRun:
        """Start `python main.py ARGUMENTS` in `root` without waiting: runs side by side, each collected by `wait`."""
        self.runs += 1
        stdout, stderr = (self.scratch / f"run_{self.runs}.{stream}" for stream in ("stdout", "stderr"))
        pid = self.ask({"root": str(root), "arguments": list(arguments), "stdout": str(stdout),
                        "stderr": str(stderr), "environment": environment})
        return ForkedRun(pid, [sys.executable, "main.py", *arguments], stdout, stderr)

    def wait(self, run: ForkedRun, timeout: float = 300) -> subprocess.CompletedProcess:
        """Wait for a started run to end (killing it past `timeout`) and return it as a finished process."""
        returncode = self.ask({"wait": run.pid, "timeout": timeout})
        if returncode is None:
            raise subprocess.TimeoutExpired(run.args, timeout, run.stdout.read_text(), run.stderr.read_text())
        return subprocess.CompletedProcess(run.args, returncode, run.stdout.read_text(), run.stderr.read_text())

    def ask(self, request: dict[str, Any]) -> Any:
        """Send the server one request and return its one-line answer."""
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline()
        if not reply:
            raise RuntimeError(f"the fork server exited with code {self.process.wait()}: {self.log.read_text()}")
        return json.loads(reply)

    def close(self) -> None:
        """End the server: it exits when its stdin closes."""
        self.process.stdin.close()
        self.process.wait(timeout=60)


def serve(requests: IO[str], replies: IO[str]) -> dict[str, Any] | None:
    """Fork a child per run request (replying with its process id) and wait for one child per wait request (replying
    with its exit code); return the request in the child, None at the end."""
    for line in requests:
        request = json.loads(line)
        if "wait" in request:
            reply = wait_for(request["wait"], request["timeout"])
        else:
            # Python threads only: the OpenBLAS pool numpy starts at import stops itself before a fork (pthread_atfork).
            if threading.active_count() != 1:
                raise RuntimeError(f"the fork server runs {threading.active_count()} threads: forking it is unsafe")
            reply = os.fork()
            if reply == 0:
                return request
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    return None


def wait_for(child: int, timeout: float) -> int | None:
    """The child's exit code as subprocess gives it (-N for signal N), or None once killed past `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished, status = os.waitpid(child, os.WNOHANG)
        if finished:
            return os.waitstatus_to_exitcode(status)
        time.sleep(POLL_SECONDS)
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    return None


def redirect(descriptor: int, path: str, flags: int) -> None:
    """Point file descriptor `descriptor` at `path`, under whatever Python object already wraps it."""
    opened = os.open(path, flags, 0o644)
    os.dup2(opened, descriptor)
    os.close(opened)


def run_main(request: dict[str, Any]) -> None:
    """Turn this child into `python main.py ARGUMENTS` run in the request's project copy."""
    redirect(0, os.devnull, os.O_RDONLY)
    redirect(1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    redirect(2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    if request.get("environment") is not None:
        os.environ.clear()
        os.environ.update(request["environment"])
    os.chdir(request["root"])
    sys.path[0] = request["root"]
    sys.argv = ["main.py", *request["arguments"]]
    # As `python main.py` sets it: the script's absolute path.
    try:
        runpy.run_path(os.path.join(request["root"], "main.py"), run_name="__main__")
    except SystemExit as ended:
        ENDING.code = 0 if ended.code is None else ended.code if isinstance(ended.code, int) else 1
        raise
    except KeyboardInterrupt:
        ENDING.interrupted = True
        raise
    except BaseException:
        ENDING.code = 1
        raise


def leave_without_teardown() -> None:
    """In a child, the last exit handler: flush the output and leave with the child's exit status, skipping the
    teardown of every module the server imported (0.65 s a child on 2 cores, copying each page it touches)."""
    if os.getpid() == SERVER:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    if ENDING.interrupted:  # Python ends on an uncaught Ctrl-C by re-raising SIGINT at itself
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(ENDING.code)


if __name__ == "__main__":
    # Registered before the packages register theirs: exit handlers run last-registered first, so it runs last.
    atexit.register(leave_without_teardown)
    for package in PRELOADED:
        importlib.import_module(package)
    for package in OPTIONAL_PRELOADED:
        with contextlib.suppress(ImportError):
            importlib.import_module(package)
    if shared := sorted(name for name in sys.modules if name.partition(".")[0] in PROJECT_MODULES):
        raise RuntimeError(f"the fork server imported the project's own modules, which children would share: {shared}")
    # Out of the collector's reach, the imported objects are not copied into each child by the final collection
    # that ends it (1.4 s, down to 0.35 s, a child on 2 cores).
    gc.freeze()
    forked_request = serve(sys.stdin, sys.stdout)
    if forked_request is not None:
        run_main(forked_request)
