"""Freed memory kept (the template's default on glibc) against glibc's adaptive malloc defaults: the template
training ExampleNet on MNIST, each run in a fresh process, the two settings alternating.

    .venv/bin/python benchmarks/bench_allocator.py
"""

import argparse
import json
import subprocess
import sys
import tempfile

import _common
from _common import median, quiet, ratio_line, table
from _rounds import EpochClock, paired_ratio, timed_epochs
from _workloads import mnist_workload

SETTINGS = {"kept": (), "defaults": ("--no-keep_freed_memory",)}
NAMES = {"kept": "freed memory kept (--keep_freed_memory)", "defaults": "glibc's defaults (--no-keep_freed_memory)"}


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """Sizes and repetitions; the defaults take about two minutes on 2 CPU cores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train_items", type=int, default=4096, help="MNIST train items per epoch")
    parser.add_argument("--val_items", type=int, default=1024, help="items of each MNIST val set (clean, noisy)")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per run, after its warm-up epoch")
    parser.add_argument("--reps", type=int, default=4, help="fresh processes per setting, the settings alternating")
    parser.add_argument("--child", choices=tuple(SETTINGS), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def child(arguments: argparse.Namespace) -> None:
    """In a fresh process: train with one setting and print its epochs' figures and peak memory as JSON."""
    from _lightning_runs import template_run

    clock = EpochClock()
    with tempfile.TemporaryDirectory() as log_dir, quiet():
        template_run(mnist_workload(arguments.train_items, arguments.val_items), arguments.epochs + 1, clock,
                     log_dir, options=SETTINGS[arguments.child])
    print(json.dumps({"wall": clock.wall, "cpu": clock.cpu, "faults": clock.faults,
                      "peak_rss_mb": _common.peak_rss_mb()}))


def run_child(setting: str, argv: list[str]) -> tuple[EpochClock, float]:
    """One fresh process training with `setting`: its epoch clock and peak memory."""
    process = subprocess.run([sys.executable, __file__, *argv, "--child", setting], capture_output=True, text=True,
                             timeout=1800)
    if process.returncode != 0:
        raise RuntimeError(f"the {setting} child exited with {process.returncode}: {process.stderr[-2000:]}")
    figures = json.loads(process.stdout.splitlines()[-1])
    return EpochClock(figures["wall"], figures["cpu"], figures["faults"]), figures["peak_rss_mb"]


def main(argv: list[str]) -> None:
    """Alternate the two settings in fresh processes; print the table and the ratios."""
    arguments = parse_arguments(argv)
    if arguments.child:
        child(arguments)
        return
    print(_common.machine_line())
    clocks: dict[str, list[EpochClock]] = {setting: [] for setting in SETTINGS}
    peaks: dict[str, list[float]] = {setting: [] for setting in SETTINGS}
    for rep in range(arguments.reps):
        for setting in (SETTINGS if rep % 2 == 0 else reversed(SETTINGS)):
            clock, peak = run_child(setting, argv)
            clocks[setting].append(clock)
            peaks[setting].append(peak)
    rows = []
    for setting, name in NAMES.items():
        wall = [seconds for clock in clocks[setting] for seconds in timed_epochs(clock)]
        faults = [count for clock in clocks[setting] for count in timed_epochs(clock, "faults")]
        rows.append((name, f"{median(wall):.4f}", f"{min(wall):.4f}", f"{max(wall):.4f}", f"{median(faults):.0f}",
                     f"{max(faults):.0f}", f"{median(peaks[setting]):.0f}"))
    print(f"\n== ExampleNet on MNIST through the template, {arguments.train_items} train items per epoch, "
          f"{arguments.reps} processes per setting")
    print(table(["setting", "median s/epoch", "min s", "max s", "median page faults/epoch", "max faults",
                 "peak RSS MiB"], rows))
    print(ratio_line("epoch wall time glibc defaults / kept", paired_ratio(clocks["defaults"], clocks["kept"]), None))
    print(ratio_line("peak memory kept / glibc defaults", median(peaks["kept"]) / median(peaks["defaults"]), None))
    print(_common.load_line())


if __name__ == "__main__":
    main(sys.argv[1:])
