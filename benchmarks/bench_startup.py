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
# Runs main.main as `python main.py ARGUMENTS` would, then names the heavy modules it imported.
PROBE = """
import sys
sys.path.insert(0, {root!r})
import main
try:
    main.main({arguments!r})
except SystemExit:
    pass
print("imported:" + ",".join(name for name in {heavy!r} if name in sys.modules), file=sys.stderr)
"""


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
    """Each command's wall times, the commands alternating, after one untimed run of each."""
    for command in commands.values():
        wall_time(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(reps):
        for name, command in commands.items():
            times[name].append(wall_time(command))
    return times


def heavy_imports(arguments: list[str]) -> list[str]:
    """The heavy modules `python main.py ARGUMENTS` imports."""
    probe = PROBE.format(root=str(PROJECT_ROOT), arguments=arguments, heavy=HEAVY_MODULES)
    process = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             check=True)
    line = next(line for line in process.stderr.splitlines() if line.startswith("imported:"))
    return [name for name in line.removeprefix("imported:").split(",") if name]


def import_times(command: list[str]) -> dict[str, int]:
    """Microseconds of import time per module (its own share, not its imports'), from `-X importtime`."""
    process = subprocess.run([sys.executable, "-X", "importtime", *command], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, check=True)
    times = {}
    for line in process.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            own, _, name = line.removeprefix("import time:").split("|")
            times[name.strip()] = int(own)
    return times


def extra_imports(help_command: list[str]) -> list[tuple[str, float]]:
    """Milliseconds per top-level package that --help imports beyond `import torch`, largest first."""
    beyond = import_times(help_command)
    for name in import_times(["-c", "import torch"]):
        beyond.pop(name, None)
    per_package: dict[str, float] = defaultdict(float)
    for name, own in beyond.items():
        per_package[name.split(".")[0]] += own / 1000
    return sorted(per_package.items(), key=lambda item: -item[1])


def main(argv: list[str]) -> None:
    """Time both commands, print the ratio, and check which heavy modules --help and --list import."""
    arguments = parse_arguments(argv)
    print(_common.machine_line())
    commands = {"python main.py --help": [sys.executable, "main.py", "--help"],
                'python -c "import torch"': [sys.executable, "-c", "import torch"]}
    times = time_commands(commands, arguments.reps)
    medians = {name: median(values) for name, values in times.items()}
    print(table(["command", "median s", "min s"], [(name, f"{medians[name]:.3f}", f"{min(times[name]):.3f}")
                                                    for name in commands]))
    help_name, torch_name = commands
    print(ratio_line("startup main.py --help / import torch", medians[help_name] / medians[torch_name], TARGET))
    extra = extra_imports(["main.py", "--help"])
    print("imports beyond torch (ms, own time): " + ", ".join(f"{name} {ms:.0f}" for name, ms in extra[:6]))
    for option in ("--help", "--list"):
        imported = heavy_imports([option])
        print(check_line(f"main.py {option} does not import pytorch_lightning", "pytorch_lightning" not in imported,
                         f"imports: {', '.join(imported) or 'none heavy'}"))


if __name__ == "__main__":
    main(sys.argv[1:])
