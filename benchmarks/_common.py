"""What every benchmark shares: the project on the import path, medians, ratio lines, quiet output, machine facts."""

import contextlib
import logging
import os
import platform
import resource
import statistics
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))  # the benchmarks import the template's own modules


def median(values: Sequence[float]) -> float:
    """The median, or NaN when nothing was measured."""
    return statistics.median(values) if values else float("nan")


def ratio_line(name: str, value: float, target: float | None, at_most: bool = True,
               interval: tuple[float, float] | None = None) -> str:
    """One `ratio` line: the value, its 95% interval when given, its target and PASS or MISS (no target:
    informational)."""
    spread = f"  95% interval {interval[0]:.3f}-{interval[1]:.3f}" if interval else ""
    if target is None:
        return f"ratio  {name:<52} {value:8.3f}{spread}"
    passed = value <= target if at_most else value >= target
    sign = "<=" if at_most else ">="
    return f"ratio  {name:<52} {value:8.3f}{spread}   target {sign} {target:<6g} {'PASS' if passed else 'MISS'}"


def check_line(name: str, passed: bool, detail: str) -> str:
    """One `check` line: a yes/no property with PASS or MISS."""
    return f"check  {name:<52} {detail:<24} {'PASS' if passed else 'MISS'}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table with right-aligned columns after the first."""
    cells = [list(map(str, headers)), *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        parts = [row[0].ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))]
        lines.append("  ".join(parts))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _status_mb(field_name: str) -> float | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1]) / 1024
    return None


def rss_mb() -> float:
    """Resident memory of this process now, in MiB (0 where /proc is missing)."""
    return _status_mb("VmRSS") or 0.0


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    # VmHWM starts afresh at exec; ru_maxrss does not (a child forked from a large parent starts at its peak).
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Send progress bars, summaries and warnings to /dev/null while measuring, so only the report is printed."""
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's guess elsewhere)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_line() -> str:
    """The 1-minute load average against the CPU count: with other processes running, timings are unreliable."""
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    # torch's OpenMP threads spin while they wait for each other: one descheduled by another process's work stalls
    # every parallel region (small ops then run up to 100x slower). --threads 1 avoids that.
    busy = "  (other processes are busy: ratios are noisy; --threads 1 is steadier)" if load > 1.0 else ""
    return f"load average {load:.2f} on {cpus} cpus{busy}"


def machine_line() -> str:
    """CPU count, CPU model, Python, torch and (when installed) Lightning versions."""
    import torch

    parts = [f"cpus {os.cpu_count()}", f"cpu {cpu_model()}", f"torch threads {torch.get_num_threads()}",
             f"python {platform.python_version()}", f"torch {torch.__version__}"]
    with contextlib.suppress(ImportError):
        from importlib.metadata import version

        parts.append(f"pytorch-lightning {version('pytorch-lightning')}")
    return "machine: " + ", ".join(parts) + "\n" + load_line()


def same_malloc_settings_for_all(compared: str) -> str:
    """Make the template's malloc settings before anything is timed, so everything compared keeps freed memory.

    The settings hold for the whole process once made (the template makes them when a run sets up), and
    without them each epoch takes a varying number of page faults (bench_allocator.py measures that).
    """
    from utils.allocator import keep_freed_memory

    if keep_freed_memory():
        return f"malloc: freed memory kept for {compared} (the template's default on glibc)"
    return f"malloc: the C library's own behaviour for {compared}"
