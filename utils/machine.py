"""What this machine lets a process use, counted in one place for the checks, the threads and --parallel."""

import os


def allowed_cpus() -> list[int]:
    """The indices of the CPUs this process may run on (its affinity), in order."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
