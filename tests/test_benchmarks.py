"""The benchmarks run at a tiny size and print their ratio lines; timings are never asserted.

Each script runs in a fork of the test's fork server, and so do the `main.py` runs it starts (tests/stand_in.py):
their times and memory mean nothing here. What the test checks is that every script runs to its end and prints
its lines, and that the template trains as the hand-written loop does.
"""

import pytest
from conftest import PROJECT, main_environment


def case(run: list[str], expected: list[str], name: str | None = None) -> object:
    """One script's command and the lines its output must contain, named by its script unless `name` says."""
    return pytest.param(run, expected, id=name or run[0])


# Each script at a tiny size, and the lines its output must contain.
OVERHEAD = ["bench_overhead.py", "--train_items", "256", "--val_items", "128", "--mlp_items", "2000", "--epochs", "1",
            "--rounds", "2", "--parity_epochs", "2", "--threads", "1"]
RUNS = [
    case([*OVERHEAD, "--skip", "memory"],
         ["ratio  mnist wall time (c)/(a)", "ratio  mnist wall time (c)/(b)", "ratio  mnist wall time (b)/(a)",
          "ratio  mnist wall time (a')/(a) control", "ratio  mnist cpu time (c)/(a)", "ratio  mlp wall time (c)/(b)",
          "ratio  mlp wall time (l)/(b)", "ratio  mlp wall time (f)/(b)", "ratio  mlp wall time (c)/(f)", "(c) - (b)",
          "check  mnist train loss parity (a) vs (c)", "check  mlp train loss parity (a) vs (c)"]),
    # Peak memory takes a fresh interpreter per variant (three a workload): measured on one workload.
    case([*OVERHEAD, "--workloads", "mlp", "--skip", "timing", "parity"], ["ratio  mlp peak memory (c)/(b)"],
         "bench_overhead.py memory"),
    case(["bench_data.py", "--data_items", "1024", "--data_reps", "1", "--epoch_items", "512", "--epoch_reps", "1"],
         ["ratio  data-only throughput template / torchvision", "ratio  training speed template / torchvision"]),
    case(["bench_startup.py", "--reps", "1"],
         ["ratio  startup main.py --help / import torch", "check  main.py --help imports no pytorch_lightning",
          "check  main.py --list imports no pytorch_lightning"]),
    case(["bench_jsonargparse.py", "--rounds", "1", "--imports", "1"],
         ["ratio  parse default job template / jsonargparse", "check  template errors are one line each",
          "wrong values jsonargparse takes:"]),
    case(["bench_threads.py", "--train_batches", "1", "--rounds", "1", "--together", "2"],
         ["ratio  before: 2 at once / one alone", "ratio  after: 2 at once / one alone",
          "ratio  2 at once: after / before", "(cpus/processes)", "(--threads)"]),
    case(["bench_parallel.py", "--train_batches", "1", "--rounds", "1"], ["ratio  all at once / one at a time"]),
    case(["bench_time_to_accuracy.py", "--target", "0.2", "--validations", "2", "--epochs", "1", "--train_batches",
          "20", "--val_batches", "2", "--rounds", "1"],
         ["ratio  wall time to target template / loop", "ratio  cpu time to target template / loop"]),
]


@pytest.mark.parametrize(("run", "expected"), RUNS)
def test_each_benchmark_prints_its_ratios_and_the_template_trains_as_the_hand_written_loop(fork_server, run, expected):
    script, *arguments = run
    process = fork_server.run(PROJECT, *arguments, timeout=600, environment=main_environment(),
                              script=f"benchmarks/{script}")
    assert process.returncode == 0, process.stderr[-3000:]
    for line in expected:
        assert line in process.stdout, (line, process.stdout[-3000:])
    if script == "bench_overhead.py" and "parity" not in run:
        # Parity is a property of the numbers, not of timing: it holds at any size.
        parity = [line for line in process.stdout.splitlines() if "train loss parity" in line]
        assert len(parity) == 2 and all(line.rstrip().endswith("PASS") for line in parity), parity
        # Each ratio over rounds carries its interval.
        assert all("95% interval" in line for line in process.stdout.splitlines() if " time (" in line)
    if script == "bench_jsonargparse.py":
        # Whatever the timing, every value the template refuses is refused in one line.
        assert "template errors are one line each" in process.stdout and "MISS" not in process.stdout
