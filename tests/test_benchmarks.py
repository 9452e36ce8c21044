"""Each benchmark runs at a tiny size and prints its ratio lines; timings are never asserted."""

import functools
import subprocess
import sys

import pytest
from conftest import PROJECT

TINY_SIZES = ["--train_items", "256", "--val_items", "128", "--mlp_items", "2000", "--epochs", "1",
              "--rounds", "1", "--parity_epochs", "2", "--copies", "1", "2", "--scaling_reps", "1"]
# Script and arguments, then the lines its output must contain.
RUNS = {
    "startup": (["bench_startup.py", "--reps", "1"],
                ["ratio  startup main.py --help / import torch", "check  main.py --help does not import",
                 "check  main.py --list does not import"]),
    "data": (["bench_data.py", "--data_items", "1024", "--data_reps", "1", "--epoch_items", "512", "--epoch_reps", "1"],
             ["ratio  data-only throughput template / torchvision",
              "ratio  training epoch speed template / torchvision"]),
    "overhead_mlp": (["bench_overhead.py", *TINY_SIZES, "--workloads", "mlp", "--skip", "memory"],
                     ["ratio  mlp epoch wall time (c)/(b)", "ratio  mlp epoch cpu time (c)/(b)", "(c) - (b)",
                      "check  mlp train loss parity (a) vs (c)", "ratio  mlp validation time(2)/(2*time(1))"]),
    "overhead_mnist": (["bench_overhead.py", *TINY_SIZES, "--workloads", "mnist", "--skip", "memory", "scaling"],
                       ["ratio  mnist epoch wall time (c)/(a)", "check  mnist train loss parity (a) vs (c)"]),
    "overhead_memory": (["bench_overhead.py", *TINY_SIZES, "--workloads", "mlp", "--skip", "timing", "parity",
                         "scaling"], ["ratio  mlp peak memory (c)/(b)"]),
    "allocator": (["bench_allocator.py", "--train_items", "256", "--val_items", "128", "--epochs", "1", "--reps", "1"],
                  ["ratio  epoch wall time glibc defaults / kept", "ratio  peak memory kept / glibc defaults"]),
    "profile_step": (["profile_step.py", "--number", "20", "--repeat", "1"],
                     ["training_step, template", "6 step hooks, template's callbacks"]),
}


@functools.cache
def run_benchmark(name: str) -> str:
    """Run one benchmark at its tiny size and return what it printed (once per session: two tests read it)."""
    script, *arguments = RUNS[name][0]
    process = subprocess.run([sys.executable, f"benchmarks/{script}", *arguments], cwd=PROJECT, capture_output=True,
                             text=True, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    return process.stdout


@pytest.mark.parametrize("name", sorted(RUNS))
def test_benchmark_runs_and_prints_its_ratios(name):
    output = run_benchmark(name)
    for line in RUNS[name][1]:
        assert line in output, (line, output[-3000:])


@pytest.mark.parametrize("name", ["overhead_mlp", "overhead_mnist"])
def test_template_train_loss_equals_the_hand_written_loops(name):
    # Parity is a property of the numbers, not of timing: it holds at any size.
    parity = [line for line in run_benchmark(name).splitlines() if "train loss parity" in line]
    assert parity and all(line.rstrip().endswith("PASS") for line in parity), parity


def test_timing_ratios_carry_the_interval_of_their_rounds_and_a_control(monkeypatch):
    monkeypatch.syspath_prepend(str(PROJECT / "benchmarks"))
    from _rounds import median_interval

    spread = [0.93, 1.00, 1.08, 1.02, 1.21, 0.97, 1.05, 1.01]
    low, high = median_interval(spread)
    assert min(spread) <= low < 1.015 < high <= max(spread)  # 1.015: the median of the rounds
    assert median_interval(spread) == (low, high)  # seeded: the same rounds print the same interval
    assert median_interval([1.04] * 8) == (1.04, 1.04)
    # (c)/(a), (c)/(b), (b)/(a) and the control, the hand-written loop taking turns with a copy of itself.
    lines = [line for line in run_benchmark("overhead_mnist").splitlines()
             if "epoch wall time" in line or "control: (a')/(a)" in line]
    assert len(lines) == 4 and all("95% interval" in line for line in lines), lines


def test_a_run_takes_turns_with_the_hand_written_loop_epoch_by_epoch(monkeypatch):
    monkeypatch.syspath_prepend(str(PROJECT / "benchmarks"))
    from _rounds import TakingTurns

    events = []
    turns = TakingTurns(lambda clock: (clock.epoch_start(), events.append("a")))
    for _ in range(3):  # a run of three epochs, telling its clock as Lightning's hooks do
        turns.epoch_start()
        events.append("run")
        turns.validation_start()
        turns.validation_end()
    turns.end()
    assert events == ["a", "run", "a", "run", "a", "run", "a"]
    assert len(turns.clock.wall) == 3 and len(turns.other_clock.wall) == 4
    # Each of the run's epochs after its warm-up against the mean of the loop's epochs on either side.
    turns.clock.wall, turns.other_clock.wall = [9.0, 2.2, 3.3], [5.0, 2.0, 2.4, 3.6]
    assert turns.ratios() == pytest.approx([2.2 / 2.2, 3.3 / 3.0])
    assert turns.ratio() == pytest.approx(1.05)
