"""Start-up: `python main.py --help` against `python -c "import torch"`, and that --help and --list import no Lightning.

    .venv/bin/python benchmarks/bench_startup.py
"""

import argparse
import subprocess
import sys
import time

import _common
from _common import PROJECT_ROOT, check_line, median, ratio_line, table

TARGET = 1.3
HEAVY_MODULES = ("pytorch_lightning", "lightning_fabric", "torchmetrics", "tensorboard")
COMMANDS = {"python main.py --help": ["main.py", "--help"], 'python -c "import torch"': ["-c", "import torch"]}


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """How many timed runs of each command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9, help="timed runs of each command, the two alternating")
    return parser.parse_args(argv)


def wall_time(arguments: list[str]) -> float:
    """Seconds one run of Python with `arguments` takes, its output discarded."""
    started = time.perf_counter()
    subprocess.run([sys.executable, *arguments], cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def imported_modules(arguments: list[str]) -> set[str]:
    """Every module that Python with `arguments` imports, from `-X importtime`."""
    process = subprocess.run([sys.executable, "-X", "importtime", *arguments], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, check=True)
    return {line.rsplit("|", 1)[1].strip() for line in process.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


def main(argv: list[str]) -> None:
    """Time both commands alternately, print the ratio, and check what --help and --list import."""
    arguments = parse_arguments(argv)
    print(_common.machine_line())
    imported = {option: imported_modules(["main.py", option]) for option in ("--help", "--list")}  # warms caches too
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(arguments.reps):
        for name, command in COMMANDS.items():
            times[name].append(wall_time(command))
    print(table(["command", "median s", "min s"], [(name, f"{median(values):.3f}", f"{min(values):.3f}")
                                                    for name, values in times.items()]))
    help_times, torch_times = times.values()
    ratios = [help_time / torch_time for help_time, torch_time in zip(help_times, torch_times, strict=True)]
    print(ratio_line("startup main.py --help / import torch", ratios, TARGET))
    for option, modules in imported.items():
        heavy = [name for name in HEAVY_MODULES if name in modules]
        print(check_line(f"main.py {option} imports no pytorch_lightning", "pytorch_lightning" not in heavy,
                         f"imports: {', '.join(heavy) or 'none heavy'}"))
    print(_common.load_line())


if __name__ == "__main__":
    main(sys.argv[1:])
