"""`python main.py ARGS` without paying for Python, torch and Lightning to start each time.

Run as a script, this file is a fork server: it imports the third-party packages `main.py` needs (never the
project's own `main`, `utils`, `model` or `data`, which differ per project copy), then reads one JSON request a
line on stdin: a run, for which it forks a child and answers its process id, or a wait, for which it answers that
child's exit code once it ends. Several runs may go side by side. The child becomes `python main.py ARGS` (or
another script of the project copy, such as a benchmark): its own cwd, `sys.path[0]`, `sys.argv`, stdin, stdout
and stderr, then the script runs as `__main__` and the interpreter ends the child as it ends any script (SystemExit
codes, tracebacks, atexit).
Everything a run changes dies with its child, so runs share nothing but the packages imported before the fork.
A child ends as Python ends, but for the last step: after its threads, exit handlers and output are done, it leaves
without tearing down the modules it inherited (so a file a run leaves open and unflushed stays unflushed: the run's
bug, which a real interpreter would hide).

A run's `sys.executable` is the `python` in the server's scratch folder (tests/stand_in.py): the `main.py` runs it
starts (a run's folds and trials, a benchmark's runs) are forked by the server too, each with a stand-in process as
the run's child; every other command it starts (DDP's ranks, torch's compile workers) is the real interpreter.
"""

import atexit
import contextlib
import functools
import gc
import importlib
import json
import os
import runpy
import selectors
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Imported once, before any fork. Only imports: torch must not start its thread pools in the server.
PRELOADED = ("torch", "pytorch_lightning")
# What nearly every run imports besides (0.1 s a run); one that a server's environment hides stays unimported.
OPTIONAL_PRELOADED = ("torch.utils.tensorboard", "matplotlib.backends.backend_agg", "torchmetrics.classification")
# Each project copy has its own; one left in sys.modules would be the one every child uses.
PROJECT_MODULES = ("main", "utils", "model", "data")
# In the server's scratch folder (its cwd): where the stand-ins of the forked runs' children ask for them.
CHILD_SOCKET = "children.sock"
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

    def run(self, root: Path, *arguments: str, timeout: int = 300, environment: dict[str, str] | None = None,
            script: str = "main.py") -> subprocess.CompletedProcess:
        """Run `python SCRIPT ARGUMENTS` (main.py unless told) in the project copy `root` and return the finished
        process.

        `environment`, where given, replaces the child's `os.environ`: what the run reads, not what the packages the
        server imported read when it started (torch's thread and device variables, for one).
        """
        return self.wait(self.start(root, *arguments, environment=environment, script=script), timeout)

    def start(self, root: Path, *arguments: str, environment: dict[str, str] | None = None,
              script: str = "main.py") -> ForkedRun:
        """Start `python SCRIPT ARGUMENTS` in `root` without waiting: runs side by side, each collected by `wait`."""
        self.runs += 1
        stdout, stderr = (self.scratch / f"run_{self.runs}.{stream}" for stream in ("stdout", "stderr"))
        pid = self.ask({"root": str(root), "script": script, "arguments": list(arguments), "stdout": str(stdout),
                        "stderr": str(stderr), "environment": environment})
        return ForkedRun(pid, [sys.executable, script, *arguments], stdout, stderr)

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


class Server:
    """The fork server's loop: run and wait requests on stdin, and the folds and trials the runs start through the
    `python` in its scratch folder, each forked for the stand-in process that asked for it."""

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        # A child's end wakes the loop: Python writes to this pipe when SIGCHLD comes (no polling while idle).
        self.wakeups = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.wakeups[1])
        signal.signal(signal.SIGCHLD, lambda number, frame: None)
        self.selector = selectors.DefaultSelector()
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, self.read_requests)
        self.selector.register(listener, selectors.EVENT_READ, self.start_child)
        self.selector.register(self.wakeups[0], selectors.EVENT_READ, self.woken)
        self.unread = b""
        self.waits: dict[int, float] = {}  # a run's process id: the deadline of the wait asked for it
        self.ended: dict[int, int] = {}  # a run's process id: its exit code, until a wait asks for it
        self.stand_ins: dict[int, socket.socket] = {}  # a forked child's process id: its stand-in's connection
        self.forked: dict[str, Any] | None = None  # in a child, the request it was forked for
        self.open = True

    def serve(self) -> dict[str, Any] | None:
        """Serve until stdin closes (None) or, in a forked child, return the request it runs."""
        while self.open:
            deadline = min(self.waits.values(), default=None)
            for key, _ in self.selector.select(None if deadline is None else max(0.0, deadline - time.monotonic())):
                key.data(key.fileobj)
                if self.forked is not None:
                    return self.forked
            self.collect_ended()
            self.answer_waits()
        return None

    def fork(self, request: dict[str, Any]) -> int:
        """Fork; the child keeps `request` and none of the server's sockets."""
        # Python threads only: the OpenBLAS pool numpy starts at import stops itself before a fork (pthread_atfork).
        if threading.active_count() != 1:
            raise RuntimeError(f"the fork server runs {threading.active_count()} threads: forking it is unsafe")
        pid = os.fork()
        if pid == 0:
            self.forked = request
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.selector.close()
            self.listener.close()
            for descriptor in self.wakeups:
                os.close(descriptor)
            for connection in self.stand_ins.values():
                connection.close()
        return pid

    def woken(self, wakeups: int) -> None:
        """Empty the wake-up pipe; the loop then collects the children that ended."""
        with contextlib.suppress(BlockingIOError):
            while os.read(wakeups, 1 << 12):
                pass

    def read_requests(self, stdin: int) -> None:
        """Fork a child per run request (replying with its process id); note each wait request."""
        data = os.read(stdin, 1 << 16)
        if not data:
            self.open = False
            return
        self.unread += data
        while b"\n" in self.unread:
            line, self.unread = self.unread.split(b"\n", 1)
            request = json.loads(line)
            if "wait" in request:
                self.waits[request["wait"]] = time.monotonic() + request["timeout"]
                continue
            pid = self.fork(request)
            if pid == 0:
                return
            self.reply(pid)

    def start_child(self, listener: socket.socket) -> None:
        """Fork the child a stand-in asks for, with the stand-in's output files, and tell it the child's id."""
        connection, _ = listener.accept()
        message, descriptors, _, _ = socket.recv_fds(connection, 1 << 20, 3)
        if not message:  # the stand-in ended before it asked
            connection.close()
            return
        pid = self.fork({**json.loads(message), "descriptors": descriptors})
        if pid == 0:
            connection.close()
            return
        for descriptor in descriptors:
            os.close(descriptor)
        self.stand_ins[pid] = connection
        self.selector.register(connection, selectors.EVENT_READ, functools.partial(self.stand_in_gone, pid))
        with contextlib.suppress(OSError):  # one that ended already is found gone at the next select
            connection.sendall(str(pid).encode())

    def stand_in_gone(self, pid: int, connection: socket.socket) -> None:
        """A stand-in that ends before its child `pid` (killed by SIGKILL): the child dies with it, as one process
        would."""
        with contextlib.suppress(OSError):
            if connection.recv(1):
                return
        self.selector.unregister(connection)
        connection.close()
        del self.stand_ins[pid]
        os.kill(pid, signal.SIGKILL)

    def collect_ended(self) -> None:
        """Collect every child that ended: a run's code is kept for its wait, a stand-in's child's sent to it."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            connection = self.stand_ins.pop(pid, None)
            if connection is None:
                self.ended[pid] = code
                continue
            self.selector.unregister(connection)
            with contextlib.suppress(OSError):
                connection.sendall(str(code).encode())
            connection.close()

    def answer_waits(self) -> None:
        """Answer each wait whose run ended with its exit code; kill a run past its wait's deadline, answering None."""
        for pid, deadline in list(self.waits.items()):
            if pid in self.ended:
                self.reply(self.ended.pop(pid))
            elif time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                self.reply(None)
            else:
                continue
            del self.waits[pid]

    @staticmethod
    def reply(answer: int | None) -> None:
        """Answer the test process's request in one line."""
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def redirect(descriptor: int, path: str, flags: int) -> None:
    """Point file descriptor `descriptor` at `path`, under whatever Python object already wraps it."""
    opened = os.open(path, flags, 0o644)
    os.dup2(opened, descriptor)
    os.close(opened)


def become_child(request: dict[str, Any]) -> str:
    """Turn this fork into the child a stand-in was started as (its files, signals, CPUs, environment, folder and
    parent) and return the script to run."""
    for descriptor, held in enumerate(request["descriptors"]):
        os.dup2(held, descriptor)
        os.close(held)
    for number in request["ignored"]:
        signal.signal(number, signal.SIG_IGN)
    os.sched_setaffinity(0, request["cpus"])
    os.environ.clear()
    os.environ.update(request["environment"])
    os.chdir(request["cwd"])
    # The process that started the stand-in, as a real child's parent; a process this child forks has its own.
    child, parent, own_parent = os.getpid(), request["parent"], os.getppid
    os.getppid = lambda: parent if os.getpid() == child else own_parent()
    return request["script"]


def become_run(request: dict[str, Any]) -> str:
    """Turn this fork into a run of the request's project copy, its output to the request's files, and return
    the path of the script it runs."""
    redirect(0, os.devnull, os.O_RDONLY)
    redirect(1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    redirect(2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    if request.get("environment") is not None:
        os.environ.clear()
        os.environ.update(request["environment"])
    os.chdir(request["root"])
    return os.path.join(request["root"], request["script"])


def run_main(request: dict[str, Any], child_python: str) -> None:
    """Turn this child into `python main.py ARGUMENTS`, its own children started through `child_python`."""
    script = become_child(request) if "descriptors" in request else become_run(request)
    sys.executable = child_python
    # As `python main.py` sets them: the script's folder first on the path, its path as given first in argv.
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    sys.argv = [request["script"], *request["arguments"]]
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as ended:
        ENDING.code = 0 if ended.code is None else ended.code if isinstance(ended.code, int) else 1
        raise
    except KeyboardInterrupt:
        ENDING.interrupted = True
        raise
    except BaseException:
        ENDING.code = 1
        raise


def write_child_python(scratch: Path, address: str) -> str:
    """`python` in `scratch`: tests/stand_in.py, which asks this server at `address` for a run's fold or trial."""
    stand_in = Path(__file__).with_name("stand_in.py")
    words = [sys.executable, "-IS", str(stand_in), address, sys.executable]
    python = scratch / "python"
    python.write_text(f'#!/bin/sh\nexec {shlex.join(words)} "$@"\n')
    python.chmod(0o755)
    return str(python)


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
    address = str(Path.cwd() / CHILD_SOCKET)
    children = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    children.bind(address)
    children.listen()
    child_python = write_child_python(Path.cwd(), address)
    # Out of the collector's reach, the imported objects are not copied into each child by the final collection
    # that ends it (1.4 s, down to 0.35 s, a child on 2 cores).
    gc.freeze()
    forked_request = Server(children).serve()
    if forked_request is not None:
        run_main(forked_request, child_python)
