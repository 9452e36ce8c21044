"""What every benchmark shares: the project on the import path, medians and intervals, report lines, machine facts."""

import contextlib
import logging
import os
import platform
import random
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


def median_interval(values: Sequence[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """A seeded 95% bootstrap interval of the median: how far other rounds on this host could move it."""
    draw = random.Random(seed)
    medians = sorted(statistics.median(draw.choices(values, k=len(values))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def ratio_line(name: str, values: Sequence[float], target: float | None = None, at_most: bool = True) -> str:
    """One `ratio` line: the median of `values`, its interval when there are several, and PASS or MISS."""
    value = median(values)
    spread = "  95% interval {:.3f}-{:.3f}".format(*median_interval(values)) if len(values) > 1 else ""
    if target is None:
        return f"ratio  {name:<48} {value:8.3f}{spread}"
    passed = value <= target if at_most else value >= target
    return f"ratio  {name:<48} {value:8.3f}{spread}   target {'<=' if at_most else '>='} {target:g} " \
           f"{'PASS' if passed else 'MISS'}"


def check_line(name: str, passed: bool, detail: str) -> str:
    """One `check` line: a yes/no property with PASS or MISS."""
    return f"check  {name:<48} {detail:<24} {'PASS' if passed else 'MISS'}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table, the columns after the first right-aligned."""
    cells = [list(map(str, headers)), *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    lines = ["  ".join([row[0].ljust(widths[0]), *map(str.rjust, row[1:], widths[1:])]) for row in cells]
    return "\n".join([lines[0], "  ".join("-" * width for width in widths), *lines[1:]])


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (VmHWM starts afresh at exec; 0 without /proc)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Send progress bars, summaries and warnings to /dev/null while measuring."""
    for name in ("pytorch_lightning", "lightning.pytorch"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def load_line() -> str:
    """The 1-minute load average against the CPU count: other processes make ratios noisy."""
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus"


def machine_line() -> str:
    """CPU count and model, torch threads, and the Python, torch and Lightning versions."""
    from importlib.metadata import version

    import torch

    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    return (f"machine: {cpu}, torch threads {torch.get_num_threads()}, python {platform.python_version()}, "
            f"torch {torch.__version__}, pytorch-lightning {version('pytorch-lightning')}\n{load_line()}")


def same_settings_for_all() -> str:
    """Make the template's process-wide settings before anything is timed, so every variant runs with them."""
    import pytorch_lightning  # noqa: F401  (its import turns torch's per-step NVML query on)

    from utils.trainer.platform import keep_freed_memory, stop_probing_for_absent_gpus

    malloc = "freed memory kept" if keep_freed_memory() else "the C library's malloc defaults"
    nvml = "off (no GPU)" if stop_probing_for_absent_gpus() else "as Lightning sets it"
    return f"for every variant: {malloc}; per-step NVML query {nvml}"
