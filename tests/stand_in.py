"""The `python` a forked run starts its cross-validation folds and sweep trials with (tests/forked_main.py), and a
forked benchmark script its runs.

`python main.py ARGS` with no DDP rank (LOCAL_RANK) becomes a fork of the fork server, torch and Lightning already
imported, and this process stands in for it: it passes the child its output files, environment, folder, CPUs and
parent, passes on the signals it gets, and ends as the child ended (its exit code, or killed by the same signal).
Killed itself, the server kills the child. Any other command is the real interpreter's. Runs as
`python -IS stand_in.py SERVER_ADDRESS PYTHON ARGS`: the standard library only.
"""

import contextlib
import json
import os
import signal
import socket
import sys

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def is_forked(arguments: list[str]) -> bool:
    """Whether the command is a run of main.py (forked) rather than a DDP rank or any other command (real)."""
    return bool(arguments) and os.path.basename(arguments[0]) == "main.py" and "LOCAL_RANK" not in os.environ


def stand_in(address: str, arguments: list[str]) -> int:
    """Have the server fork `python ARGUMENTS`, pass it the signals this process gets, and return its exit code."""
    ignored = [int(number) for number in FORWARDED if signal.getsignal(number) is signal.SIG_IGN]
    request = {"script": arguments[0], "arguments": arguments[1:], "cwd": os.getcwd(),
               "environment": dict(os.environ), "cpus": sorted(os.sched_getaffinity(0)), "parent": os.getppid(),
               "ignored": ignored}
    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.connect(address)
    socket.send_fds(server, [json.dumps(request).encode()], [0, 1, 2])
    child = int(server.recv(32))

    def forward(number: int, frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, number)

    for number in FORWARDED:
        if number not in ignored:
            signal.signal(number, forward)
    ended = server.recv(32)  # a forwarding handler runs and the wait goes on (PEP 475)
    return int(ended) if ended else -signal.SIGKILL  # no answer: the server is gone, and its children with it


def end_as(code: int) -> None:
    """End this process as the child ended: with its exit code, or by the signal that ended it."""
    if code < 0:
        if -code not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF)


if __name__ == "__main__":
    server_address, python, *command = sys.argv[1:]
    if not is_forked(command):
        os.execv(python, [python, *command])
    end_as(stand_in(server_address, command))
