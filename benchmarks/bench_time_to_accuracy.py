"""Time to accuracy: wall and CPU seconds until the default job's clean val digits reach --target accuracy, for the
template (`python main.py`) and a hand-written loop of the same net, data, optimizer and schedule, each a fresh
process validating as often, interleaved over rounds.

    .venv/bin/python benchmarks/bench_time_to_accuracy.py
"""

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import _common
from _common import PROJECT_ROOT, median, ratio_line, table

from utils.config.command_line import EXAMPLE_RECIPE
from utils.config.framework_options import BY_NAME
from utils.trainer.threads import THREADS_VARIABLE

VARIANTS = ("template", "hand-written loop")
CLEAN_ACCURACY = "val/clean/accuracy"


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """The target, how often to validate and how many rounds; --loop runs the hand-written loop itself."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.99, help="clean val accuracy to reach")
    parser.add_argument("--validations", type=int, default=4, help="validations an epoch (as --val_check_interval)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the two runs, which goes first alternating")
    parser.add_argument("--epochs", type=int, default=BY_NAME["max_epochs"].default, help="at most this many epochs")
    parser.add_argument("--train_batches", type=int, help="train batches an epoch (default: the whole train set)")
    parser.add_argument("--val_batches", type=int, help="batches of each val set (default: all)")
    parser.add_argument("--loop", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def cpu_seconds(pid: int) -> float:
    """The user and system CPU time of process `pid` so far, its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuSamples:
    """Samples a process's CPU time every 0.1 s, so the CPU time at any moment of its run can be read back."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.samples: list[tuple[float, float]] = []  # (time.time(), cpu seconds)
        self.thread = threading.Thread(target=self.sample, args=(process,), daemon=True)
        self.thread.start()

    def sample(self, process: subprocess.Popen) -> None:
        """Record (now, CPU time) until the process ends."""
        while process.poll() is None:
            try:
                self.samples.append((time.time(), cpu_seconds(process.pid)))
            except (OSError, IndexError):  # the process ended between the poll and the read
                return
            time.sleep(0.1)

    def at(self, moment: float) -> float:
        """The CPU time of the last sample taken at or before `moment`."""
        return max((cpu for when, cpu in self.samples if when <= moment), default=0.0)


def template_first_reach(log_dir: Path, target: float) -> float | None:
    """The wall-clock moment the template's run first logged a clean val accuracy of at least `target`."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for events in sorted(log_dir.rglob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})
        accumulator.Reload()
        if CLEAN_ACCURACY in accumulator.Tags()["scalars"]:
            return next((event.wall_time for event in accumulator.Scalars(CLEAN_ACCURACY) if event.value >= target),
                        None)
    return None


def limits(arguments: argparse.Namespace, train_option: str, val_option: str) -> list[str]:
    """The batch limits given, as the options of the run that takes them."""
    pairs = ((train_option, arguments.train_batches), (val_option, arguments.val_batches))
    return [word for option, value in pairs if value is not None for word in (option, str(value))]


def timed_run(variant: str, arguments: argparse.Namespace, scratch: Path) -> tuple[float, float]:
    """Start one variant in a fresh process; return its wall and CPU seconds until it first reached the target."""
    log_dir = Path(tempfile.mkdtemp(dir=scratch))
    if variant == VARIANTS[0]:
        argv = ["main.py", "--accelerator", "cpu", "--log_dir", str(log_dir), "--confusion_images", "off",
                "--val_check_interval", str(1 / arguments.validations), "--max_epochs", str(arguments.epochs),
                *limits(arguments, "--limit_train_batches", "--limit_val_batches"),
                # The test after training is no part of the time to target: as small as the validations.
                *(["--limit_test_batches", str(arguments.val_batches)] if arguments.val_batches else [])]
    else:
        argv = [str(Path(__file__).resolve()), "--loop", "--target", str(arguments.target), "--validations",
                str(arguments.validations), "--epochs", str(arguments.epochs),
                *limits(arguments, "--train_batches", "--val_batches")]
    environment = {key: value for key, value in os.environ.items() if key != THREADS_VARIABLE}
    started = time.time()
    process = subprocess.Popen([sys.executable, *argv], cwd=PROJECT_ROOT, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    samples = CpuSamples(process)
    stdout, stderr = process.communicate()
    samples.thread.join()
    if process.returncode != 0:
        raise RuntimeError(f"the {variant} run failed: {stderr[-2000:]}")
    if variant == VARIANTS[0]:
        reached = template_first_reach(log_dir, arguments.target)
    else:
        reached = json.loads(stdout.splitlines()[-1])["reached"]
    if reached is None:
        raise RuntimeError(f"the {variant} run never reached {arguments.target} in {arguments.epochs} epochs")
    return reached - started, samples.at(reached)


def run_loop(arguments: argparse.Namespace) -> None:
    """The hand-written loop: the default job's net, data, optimizer and schedule, validating as the template does;
    prints the moment the clean val digits first reach the target."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from data.example_eval_data import ExampleEvalData
    from data.example_train_data import ExampleTrainData
    from model.example_net import ExampleNet
    from utils.datasets.batches import keep_batch

    torch.manual_seed(BY_NAME["seed"].default)
    batch_size = BY_NAME["batch_size"].default
    train = DataLoader(ExampleTrainData(), batch_size=batch_size, shuffle=True, collate_fn=keep_batch)
    val_sets = [ExampleEvalData(), ExampleEvalData(noise_std=1.0)]
    net = ExampleNet()
    lr = EXAMPLE_RECIPE["optimizer.lr"]
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    per_epoch = min(len(train), arguments.train_batches or len(train))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=per_epoch * arguments.epochs)
    every = max(1, per_epoch // arguments.validations)
    batches = (batch for _ in range(arguments.epochs) for batch in itertools.islice(train, per_epoch))
    for step, (inputs, targets) in enumerate(batches):
        net.train()
        optimizer.zero_grad()
        F.cross_entropy(net(inputs), targets, label_smoothing=EXAMPLE_RECIPE["label_smoothing"]).backward()
        optimizer.step()
        schedule.step()
        validated = (step + 1) % every == 0
        if validated and accuracies(net, val_sets, batch_size, arguments.val_batches)[0] >= arguments.target:
            print(json.dumps({"reached": time.time(), "step": step + 1}))
            return
    print(json.dumps({"reached": None}))


def accuracies(net: Any, val_sets: list[Any], batch_size: int, val_batches: int | None) -> list[float]:
    """Each val set's accuracy over its first `val_batches` batches (all by default), as the template validates."""
    import torch

    net.eval()
    results = []
    with torch.inference_mode():
        for dataset in val_sets:
            size = min(len(dataset), batch_size * val_batches) if val_batches else len(dataset)
            batches = (dataset.__getitems__(list(range(start, min(start + batch_size, size))))
                       for start in range(0, size, batch_size))
            correct = sum(int((net(inputs).argmax(1) == targets).sum()) for inputs, targets in batches)
            results.append(correct / size)
    return results


def main(argv: list[str]) -> None:
    """Time both variants in turn over the rounds and print their seconds and ratios."""
    arguments = parse_arguments(argv)
    if arguments.loop:
        run_loop(arguments)
        return
    print(_common.machine_line())
    print(f"target: clean val accuracy {arguments.target}, {arguments.validations} validations an epoch")
    seconds: dict[str, list[tuple[float, float]]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory() as scratch:
        for round_index in range(arguments.rounds):
            for offset in range(len(VARIANTS)):
                variant = VARIANTS[(round_index + offset) % len(VARIANTS)]
                seconds[variant].append(timed_run(variant, arguments, Path(scratch)))
    print(table(["variant", "median wall s", "median cpu s"],
                [(variant, f"{median([wall for wall, _ in seconds[variant]]):.1f}",
                  f"{median([cpu for _, cpu in seconds[variant]]):.1f}") for variant in VARIANTS]))
    for index, kind in enumerate(("wall", "cpu")):
        print(ratio_line(f"{kind} time to target template / loop",
                         [template[index] / loop[index] for template, loop in zip(seconds[VARIANTS[0]],
                                                                                  seconds[VARIANTS[1]], strict=True)]))
    print(_common.load_line())


if __name__ == "__main__":
    main(sys.argv[1:])
