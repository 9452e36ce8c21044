"""`python main.py --compare`: finished runs side by side in the terminal and in a CSV file, without Lightning."""

import csv
import json
import subprocess
import sys

from tests.conftest import FAST, error_line, main_environment
from utils.runs.comparison import RunRecord, cell, comparison_rows

TINY = ("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "200", *FAST)
CHANGES = (("--seed", "1"), ("--seed", "2", "--batch_size", "64"), ("--seed", "3", "--optimizer.lr", "0.01"))


def test_three_runs_side_by_side_with_the_options_that_differ_best_values_and_test_metrics(project):
    for changes in CHANGES:
        process = project.run(*TINY, *changes)
        assert process.returncode == 0, process.stderr[-3000:]
    runs = project.run_dirs()
    results = [json.loads((run / "results.json").read_text()) for run in runs]
    table_file = project.root / "runs.csv"
    code = ("import sys, main; code = main.main(sys.argv[1:]); "
            "print('lightning imported' if 'pytorch_lightning' in sys.modules else 'no lightning'); sys.exit(code)")
    process = subprocess.run([sys.executable, "-c", code, "--compare", "Logs/standard_net-standard_data", "--csv",
                              str(table_file)], cwd=project.root, capture_output=True, text=True, timeout=120,
                             env=main_environment())
    assert process.returncode == 0, process.stderr[-3000:]
    lines = process.stdout.splitlines()
    assert lines[-1] == "no lightning"
    header, *rows = lines[:-1]
    assert header.split() == ["run", "seed", "batch_size", "optimizer.lr", "monitor", "best",
                              "test/standard_data/loss", "test/standard_data/accuracy", "test/standard_data/f1"]
    assert [row.split()[0] for row in rows] == [f"standard_net-standard_data/version_{n}" for n in range(3)]
    assert rows[1].split()[1:4] == ["2", "64", "0.0010"]
    for row, result in zip(rows, results, strict=True):
        assert row.split()[5] == f"{result['best_score']:.4f}"
        assert row.split()[7] == f"{result['test']['standard_data']['accuracy']:.4f}"
    with table_file.open(newline="") as file:
        written = list(csv.DictReader(file))
    assert [row["seed"] for row in written] == ["1", "2", "3"]
    for row, result in zip(written, results, strict=True):
        assert float(row["best"]) == result["best_score"]
        assert float(row["test/standard_data/f1"]) == result["test"]["standard_data"]["f1"]
    single = project.run("--compare", str(runs[0]), str(runs[2]))
    assert single.returncode == 0 and len(single.stdout.splitlines()) == 3


def test_compare_refuses_a_folder_without_runs_and_csv_alone(project):
    assert "no run folder there" in error_line(project.run("--compare", "Logs"))
    assert "add --compare" in error_line(project.run("--csv", "runs.csv"))


def test_runs_of_two_monitors_show_the_monitor_once_each():
    runs = [RunRecord(f"run_{n}", {"monitor": monitor, "seed": n}, {"monitor": monitor, "best_score": 0.5})
            for n, monitor in enumerate(("val/loss", "val/accuracy"))]
    header, *rows = comparison_rows(runs)
    assert header == ["run", "seed", "monitor", "best"]
    assert [row[2] for row in rows] == ["val/loss", "val/accuracy"]


def test_a_cell_keeps_the_digits_of_a_small_or_large_number():
    assert [cell(value) for value in (0.0, 0.93456, 1e-12, 3e-5, 2.5e7, None, ["a", "b"])] == [
        "0.0000", "0.9346", "1e-12", "3e-05", "2.5e+07", "-", "a b"]
