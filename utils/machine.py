"""What this machine lets a process use, counted in one place for the checks, the threads and --parallel."""

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def allowed_cpus() -> list[int]:
    """The indices of the CPUs this process may run on (its affinity), in order."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def _read_numbers(path: Path) -> list[str] | None:
    try:
        return path.read_text().split()
    except OSError:  # no such controller here
        return None


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """The CPUs the cgroup's quota allows (v2's cpu.max, else v1's CFS quota), or None where no quota is set."""
    v2 = _read_numbers(root / "cpu.max")
    if v2 is not None:
        return None if len(v2) != 2 or v2[0] == "max" else int(v2[0]) / int(v2[1])
    for controller in ("cpu", "cpu,cpuacct"):
        quota, period = (_read_numbers(root / controller / name) for name in ("cpu.cfs_quota_us", "cpu.cfs_period_us"))
        if quota and period:
            return None if int(quota[0]) <= 0 else int(quota[0]) / int(period[0])
    return None


def usable_cpus(root: Path = CGROUP_ROOT) -> int:
    """The CPUs this process may run on (its affinity), capped by the cgroup's quota, not the host's count."""
    allowed = len(allowed_cpus())
    limit = cgroup_cpu_limit(root)
    # A quota of 1.5 CPUs is worth two threads: the half CPU is time the second thread may use.
    return allowed if limit is None else max(1, min(allowed, math.ceil(limit)))
