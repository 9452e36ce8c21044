"""Torch's intra-op threads: the CPUs this process may use, shared by the run's processes on this machine."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from utils.machine import CGROUP_ROOT, usable_cpus

THREADS_VARIABLE = "OMP_NUM_THREADS"
FROM_OPTION, FROM_VARIABLE, FROM_CPUS = "--threads", THREADS_VARIABLE, "cpus/processes"


@dataclass(frozen=True)
class ThreadCount:
    """How many intra-op threads each process of the run takes, and what decided it."""

    number: int
    source: str  # FROM_OPTION, FROM_VARIABLE or FROM_CPUS


def variable_threads(environ: Mapping[str, str]) -> int | None:
    """OMP_NUM_THREADS's count (the first of a nested list such as 4,2), or None where unset or not a count."""
    first = environ.get(THREADS_VARIABLE, "").split(",")[0].strip()
    return int(first) if first.isdigit() and int(first) > 0 else None


def thread_count(requested: int | None, processes: int, environ: Mapping[str, str] = os.environ,
                 root: Path = CGROUP_ROOT) -> ThreadCount:
    """--threads if given, else OMP_NUM_THREADS, else the usable CPUs divided by the processes sharing them."""
    if requested is not None:
        return ThreadCount(requested, FROM_OPTION)
    from_variable = variable_threads(environ)
    if from_variable is not None:
        return ThreadCount(from_variable, FROM_VARIABLE)
    return ThreadCount(max(1, usable_cpus(root) // max(1, processes)), FROM_CPUS)


def use_threads(requested: int | None, processes: int) -> ThreadCount:
    """Set torch's intra-op threads for this process and for the ranks DDP starts from it; return the count."""
    import torch

    threads = thread_count(requested, processes)
    torch.set_num_threads(threads.number)
    # DDP's launchers start each rank with OMP_NUM_THREADS, which Lightning sets only where it is unset, from the
    # affinity alone; the ranks take this count instead.
    os.environ[THREADS_VARIABLE] = str(threads.number)
    return threads
