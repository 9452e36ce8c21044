"""Start-up cost: `python main.py --help` against `python -c "import torch"`, and what --help and --list import.

    .venv/bin/python benchmarks/bench_startup.py
"""

import argparse
import subprocess
import sys
import time
from collections import defaultdict

import _common
from _common import PROJECT_ROOT, check_line, median, ratio_line, table

TARGET = 1.3
HEAVY_MODULES = ("pytorch_lightning", "lightning_fabric", "torchmetrics", "tensorboard")


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """How many timed runs of each command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9, help="timed runs of each command, interleaved")
    return parser.parse_args(argv)


def wall_time(command: list[str]) -> float:
    """Seconds one run of `command` takes, output discarded."""
    started = time.perf_counter()
    subprocess.run(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def time_commands(commands: dict[str, list[str]], reps: int) -> dict[str, list[float]]:
    """Each command's wall times, the commands alternating (the import-time runs before have warmed the caches)."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(reps):
        for name, command in commands.items():
            times[name].append(wall_time(command))
    return times


def import_times(command: list[str]) -> dict[str, int]:
    """Every module a command imports, with its own import time in microseconds, from `-X importtime`."""
    process = subprocess.run([sys.executable, "-X", "importtime", *command], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, check=True)
    times = {}
    for line in process.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            own, _, name = line.removeprefix("import time:").split("|")
            times[name.strip()] = int(own)
    return times


def extra_imports(help_times: dict[str, int], torch_times: dict[str, int]) -> list[tuple[str, float]]:
    """Milliseconds per top-level package that --help imports beyond `import torch`, largest first."""
    per_package: dict[str, float] = defaultdict(float)
    for name, own in help_times.items():
        if name not in torch_times:
            per_package[name.split(".")[0]] += own / 1000
    return sorted(per_package.items(), key=lambda item: -item[1])


def heavy_imports(times: dict[str, int]) -> list[str]:
    """The heavy packages among the modules a command imported."""
    return [name for name in HEAVY_MODULES if name in times]


def main(argv: list[str]) -> None:
    """Time both commands, print the ratio, and check which heavy modules --help and --list import."""
    arguments = parse_arguments(argv)
    print(_common.machine_line())
    commands = {"python main.py --help": [sys.executable, "main.py", "--help"],
                'python -c "import torch"': [sys.executable, "-c", "import torch"]}
    imported = {option: import_times(["main.py", option]) for option in ("--help", "--list")}
    torch_times = import_times(["-c", "import torch"])
    times = time_commands(commands, arguments.reps)
    medians = {name: median(values) for name, values in times.items()}
    print(table(["command", "median s", "min s"], [(name, f"{medians[name]:.3f}", f"{min(times[name]):.3f}")
                                                    for name in commands]))
    help_name, torch_name = commands
    print(ratio_line("startup main.py --help / import torch", medians[help_name] / medians[torch_name], TARGET))
    extra = extra_imports(imported["--help"], torch_times)
    print("imports beyond torch (ms, own time): " + ", ".join(f"{name} {ms:.0f}" for name, ms in extra[:6]))
    for option, times_of_option in imported.items():
        heavy = heavy_imports(times_of_option)
        print(check_line(f"main.py {option} does not import pytorch_lightning", "pytorch_lightning" not in heavy,
                         f"imports: {', '.join(heavy) or 'none heavy'}"))
    print(_common.load_line())


if __name__ == "__main__":
    main(sys.argv[1:])
