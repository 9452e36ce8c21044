"""--parallel: a k-fold cross-validation with its folds one at a time against all at once (`--parallel K`), each
fold on its own share of this process's CPUs, interleaved over rounds.

    .venv/bin/python benchmarks/bench_parallel.py
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common
from _common import PROJECT_ROOT, median, ratio_line, table

from utils.trainer.threads import THREADS_VARIABLE

VARIANTS = ("one at a time", "all at once")


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """The size of each fold and how many rounds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=2, help="folds of the cross-validation (and children at once)")
    parser.add_argument("--train_batches", type=int, default=100, help="ExampleNet's MNIST train batches per fold")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the two timings, which goes first alternating")
    return parser.parse_args(argv)


def run_argv(log_dir: Path, arguments: argparse.Namespace, variant: str) -> list[str]:
    """The cross-validation's command: ExampleNet on MNIST, one short epoch a fold, on the CPU."""
    parallel = "1" if variant == VARIANTS[0] else str(arguments.folds)
    return [sys.executable, "main.py", "--model_name", "example_net", "--accelerator", "cpu", "--max_epochs", "1",
            "--limit_train_batches", str(arguments.train_batches), "--limit_val_batches", "2",
            "--limit_test_batches", "2", "--confusion_images", "off", "--folds", str(arguments.folds),
            "--parallel", parallel, "--log_dir", str(log_dir)]


def wall_time(log_dir: Path, arguments: argparse.Namespace, variant: str) -> float:
    """Seconds the whole cross-validation takes."""
    # The user's OMP_NUM_THREADS would set every fold's threads alike, whatever its share.
    environment = {key: value for key, value in os.environ.items() if key != THREADS_VARIABLE}
    started = time.perf_counter()
    finished = subprocess.run(run_argv(log_dir, arguments, variant), cwd=PROJECT_ROOT, env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if finished.returncode != 0:
        raise RuntimeError(f"the {variant} cross-validation failed: {finished.stderr[-2000:]}")
    return time.perf_counter() - started


def main(argv: list[str]) -> None:
    """Time both variants, alternating which goes first, and print the ratio."""
    arguments = parse_arguments(argv)
    print(_common.machine_line())
    print(f"{arguments.folds} folds, this process may use {len(os.sched_getaffinity(0))} CPUs")
    seconds: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory() as scratch:
        for round_index in range(arguments.rounds):
            for offset in range(len(VARIANTS)):
                variant = VARIANTS[(round_index + offset) % len(VARIANTS)]
                seconds[variant].append(wall_time(Path(scratch) / variant.replace(" ", "_"), arguments, variant))
    print(table(["variant", "median s", "min s"], [(variant, f"{median(seconds[variant]):.2f}",
                                                    f"{min(seconds[variant]):.2f}") for variant in VARIANTS]))
    print(ratio_line("all at once / one at a time",
                     [together / alone for together, alone in zip(seconds[VARIANTS[1]], seconds[VARIANTS[0]],
                                                                  strict=True)]))
    print(_common.load_line())


if __name__ == "__main__":
    main(sys.argv[1:])
