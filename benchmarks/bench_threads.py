"""Threads: `python main.py` runs started at once (four; `--together N`) against one run alone, with torch's
default thread count (before: --threads set to the host's CPU count) and with the template's own (after: the usable
CPUs shared).

    .venv/bin/python benchmarks/bench_threads.py            # every run may use every CPU of this process
    .venv/bin/python benchmarks/bench_threads.py --cpus 1   # each run pinned to one CPU, as a scheduler would
"""

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _common
import yaml
from _common import PROJECT_ROOT, median, ratio_line, table

from utils.shared_names import ENVIRONMENT_FILE
from utils.trainer.threads import THREADS_VARIABLE

# torch's own default is the host's CPU count, whatever the affinity or the cgroup quota allow.
VARIANTS = {"before": ["--threads", str(os.cpu_count() or 1)], "after": []}


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """The size of each run and how many rounds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train_batches", type=int, default=100, help="ExampleNet's MNIST train batches per run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the four timings, their order rotating")
    parser.add_argument("--together", type=int, default=4, help="runs started at once against one alone")
    parser.add_argument("--cpus", type=int, help="pin every run to this many of this process's CPUs (default: all)")
    return parser.parse_args(argv)


def run_argv(log_dir: Path, train_batches: int, variant: str) -> list[str]:
    """One run's command: ExampleNet on MNIST for one short epoch, on the CPU, nothing but its run folder."""
    return [sys.executable, "main.py", "--model_name", "example_net", "--accelerator", "cpu", "--max_epochs", "1",
            "--limit_train_batches", str(train_batches), "--limit_val_batches", "2", "--limit_test_batches", "2",
            "--confusion_images", "off", "--log_dir", str(log_dir), *VARIANTS[variant]]


def pinned(cpus: int | None) -> Callable[[], None] | None:
    """What a run does before it starts: take only the first `cpus` CPUs of this process's affinity."""
    if cpus is None:
        return None
    allowed = sorted(os.sched_getaffinity(0))[:cpus]
    return lambda: os.sched_setaffinity(0, allowed)


def wall_time(log_dir: Path, train_batches: int, variant: str, count: int, cpus: int | None) -> float:
    """Seconds until all of `count` runs started at once have finished."""
    # The user's OMP_NUM_THREADS would decide for both variants.
    environment = {key: value for key, value in os.environ.items() if key != THREADS_VARIABLE}
    with contextlib.ExitStack() as files:
        # Errors go to files: a full pipe would stall a run while another is waited for.
        errors = [files.enter_context(tempfile.TemporaryFile()) for _ in range(count)]
        started = time.perf_counter()
        processes = [subprocess.Popen(run_argv(log_dir, train_batches, variant), cwd=PROJECT_ROOT, env=environment,
                                      preexec_fn=pinned(cpus), stdout=subprocess.DEVNULL, stderr=error)
                     for error in errors]
        codes = [process.wait() for process in processes]
        elapsed = time.perf_counter() - started
        for code, error in zip(codes, errors, strict=True):
            if code != 0:
                error.seek(0)
                raise RuntimeError(f"a {variant} run failed: {error.read().decode()[-2000:]}")
    return elapsed


def recorded_threads(log_dir: Path) -> set[str]:
    """The thread counts, and where they came from, that the runs under `log_dir` recorded."""
    return {"{threads} ({threads_from})".format(**yaml.safe_load(path.read_text()))
            for path in log_dir.glob(f"*/version_*/{ENVIRONMENT_FILE}")}


def main(argv: list[str]) -> None:
    """Time one run alone and four at once for each variant, interleaved, and print the ratios."""
    arguments = parse_arguments(argv)
    print(_common.machine_line())
    print(f"each run may use {arguments.cpus or len(os.sched_getaffinity(0))} CPUs")
    together = arguments.together
    timings = [(variant, count) for count in (1, together) for variant in VARIANTS]
    seconds: dict[tuple[str, int], list[float]] = {timing: [] for timing in timings}
    with tempfile.TemporaryDirectory() as scratch:
        logs = {variant: Path(scratch) / variant for variant in VARIANTS}
        for round_index in range(arguments.rounds):
            for offset in range(len(timings)):
                variant, count = timings[(round_index + offset) % len(timings)]
                seconds[variant, count].append(wall_time(logs[variant], arguments.train_batches, variant, count,
                                                            arguments.cpus))
        threads = {variant: ", ".join(sorted(recorded_threads(log_dir))) for variant, log_dir in logs.items()}
    print(table(["variant", "runs at once", "threads", "median s", "min s"],
                [(variant, count, threads[variant], f"{median(seconds[variant, count]):.2f}",
                  f"{min(seconds[variant, count]):.2f}") for variant, count in timings]))
    for variant in VARIANTS:
        print(ratio_line(f"{variant}: {together} at once / one alone",
                         [at_once / alone for at_once, alone in zip(seconds[variant, together],
                                                                    seconds[variant, 1], strict=True)]))
    for count in (1, together):
        print(ratio_line(f"{count} at once: after / before",
                         [after / before for after, before in zip(seconds["after", count],
                                                                  seconds["before", count], strict=True)]))
    print(_common.load_line())


if __name__ == "__main__":
    main(sys.argv[1:])
