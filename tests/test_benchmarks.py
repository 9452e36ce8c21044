"""Each benchmark runs at a tiny size and prints its ratio lines; timings are never asserted."""

import subprocess
import sys

import pytest
from conftest import PROJECT

TINY = {
    "bench_startup.py": ["--reps", "1"],
    "bench_data.py": ["--data_items", "1024", "--data_reps", "1", "--epoch_items", "512", "--epoch_reps", "1"],
    "bench_overhead.py": ["--train_items", "256", "--val_items", "128", "--mlp_items", "2000", "--epochs", "1",
                          "--parity_epochs", "1", "--copies", "1", "2", "--scaling_reps", "1", "--skip", "memory"],
}
EXPECTED = {
    "bench_startup.py": ["ratio  startup main.py --help / import torch", "check  main.py --help does not import"],
    "bench_data.py": ["ratio  data-only throughput template / torchvision",
                      "ratio  training epoch speed template / torchvision"],
    "bench_overhead.py": ["ratio  mnist epoch time (c)/(a)", "ratio  mlp epoch time (c)/(b)",
                          "check  mlp train loss parity (a) vs (c)", "ratio  mnist validation time(2)/(2*time(1))"],
}


@pytest.mark.parametrize("script", sorted(TINY))
def test_benchmark_runs_and_prints_its_ratios(script):
    process = subprocess.run([sys.executable, f"benchmarks/{script}", *TINY[script]], cwd=PROJECT,
                             capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    for line in EXPECTED[script]:
        assert line in process.stdout, (line, process.stdout[-3000:])
    assert "target" in process.stdout


def test_parity_holds_even_at_a_tiny_size():
    process = subprocess.run([sys.executable, "benchmarks/bench_overhead.py", *TINY["bench_overhead.py"],
                              "--skip", "timing", "memory", "scaling"], cwd=PROJECT, capture_output=True, text=True,
                             timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    parity_lines = [line for line in process.stdout.splitlines() if "train loss parity" in line]
    assert parity_lines and all(line.rstrip().endswith("PASS") for line in parity_lines), parity_lines
