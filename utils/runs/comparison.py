"""`--compare`: runs side by side, read from their folders alone (config.yaml, results.json), no Lightning."""

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.config.config_files import load_config
from utils.errors import UserError, one_line
from utils.shared_names import CONFIG_FILE, RESULTS_FILE, TEST, metric_key

# Options every run has its own value of without it being a choice that was changed, and the monitor, which the
# table shows in a column of its own.
NOT_COMPARED = {"experiment", "log_dir", "monitor"}


@dataclass
class RunRecord:
    """One run folder's name, its resolved options and what results.json says (empty while it runs)."""

    name: str
    config: dict[str, Any]
    results: dict[str, Any]


def natural_key(path: Path) -> list[Any]:
    """Sort `version_10` after `version_9`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def run_folders(path: str) -> list[Path]:
    """The run folder `path`, or the run folders directly inside it (an experiment folder)."""
    folder = Path(path)
    if (folder / CONFIG_FILE).is_file():
        return [folder]
    found = sorted((child for child in folder.glob("*") if (child / CONFIG_FILE).is_file()), key=natural_key)
    if not found:
        raise UserError(f"--compare {path}: no run folder there (a folder with a config.yaml, or an experiment folder "
                        f"that holds them, such as Logs/<experiment>)")
    return found


def read_results_file(path: Path) -> dict[str, Any]:
    """A results.json as a mapping; one that cannot be read, or is no JSON mapping, is one line naming it."""
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"--compare: {path} is not UTF-8 text: a run writes its results.json as UTF-8 JSON; "
                        f"move the damaged file away and compare again") from None
    except OSError as error:
        raise UserError(f"--compare: {path} cannot be read ({error.strerror}): check its permissions") from None
    except ValueError as error:
        raise UserError(f"--compare: {path} is not valid JSON ({str(error).splitlines()[0]}): a run writes it "
                        f"whole when it ends; move the damaged file away and compare again") from None
    if not isinstance(results, dict):
        raise UserError(f"--compare: {path} holds a JSON {type(results).__name__}, not the mapping a run writes: "
                        f"move it away and compare again")
    return results


def read_run(folder: Path) -> RunRecord:
    """A run's record; a run without results.json yet has empty results."""
    config = load_config(str(folder / CONFIG_FILE), "--compare: the run config")
    results_file = folder / RESULTS_FILE
    results = read_results_file(results_file) if results_file.is_file() else {}
    return RunRecord("/".join(folder.resolve().parts[-2:]), config, results)


def differing_options(runs: list[RunRecord]) -> list[str]:
    """The options whose values differ between the runs that have them, in config.yaml's order; one that only some
    runs have (another optimizer's parameters, another net's) and that is the same wherever it is, is left out."""
    names = list(dict.fromkeys(name for run in runs for name in run.config))
    return [name for name in names if name not in NOT_COMPARED
            and len({json.dumps(run.config[name], sort_keys=True) for run in runs if name in run.config}) > 1]


def mean_of(value: Any) -> Any:
    """A number, or a cross-validation's mean over its folds."""
    return value["mean"] if isinstance(value, dict) and "mean" in value else value


def test_metrics(results: dict[str, Any]) -> dict[str, float]:
    """The final test metrics by key: `test/<label>/<name>`, and `test/<name>` for the means over test sets."""
    tests = results.get("test")
    return {metric_key(TEST, name, label): mean_of(value)
            for label, metrics in (tests.items() if isinstance(tests, dict) else ())
            if isinstance(metrics, dict) for name, value in metrics.items()}


def cell(value: Any) -> str:
    """A table cell on one line: numbers to four decimals (four digits where decimals would hide them: a learning
    rate of 1e-6), lists joined, nothing as '-'."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if value == 0 or 1e-3 <= abs(value) < 1e6 else f"{value:.4g}"
    return one_line(" ".join(str(item) for item in value) if isinstance(value, list) else str(value))


def best_value(run: RunRecord) -> Any:
    """The run's best monitor value, or why it has none."""
    if not run.results:
        return "unfinished"
    return "pruned" if "pruned" in run.results else mean_of(run.results.get("best_score"))


def comparison_rows(runs: list[RunRecord]) -> list[list[Any]]:
    """The header, then one row per run: its name, the options that differ, best monitor value, test metrics."""
    options = differing_options(runs)
    metrics = list(dict.fromkeys(key for run in runs for key in test_metrics(run.results)))
    header = ["run", *options, "monitor", "best", *metrics]
    rows = [header]
    for run in runs:
        tests = test_metrics(run.results)
        rows.append([run.name, *(run.config.get(name) for name in options),
                     run.results.get("monitor", run.config.get("monitor")), best_value(run),
                     *(tests.get(key) for key in metrics)])
    return rows


def csv_value(value: Any) -> Any:
    """A CSV cell: numbers at full precision, lists joined, nothing as empty."""
    return value if isinstance(value, int | float | str) else "" if value is None else cell(value)


def text_table(values: list[list[Any]]) -> str:
    """Columns padded to their widest cell."""
    rows = [[cell(value) for value in row] for row in values]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def compare_runs(paths: list[str], csv_path: str | None = None) -> str:
    """The runs under `paths` side by side as a text table; also written to `csv_path` when given."""
    runs = [read_run(folder) for path in paths for folder in run_folders(path)]
    rows = comparison_rows(runs)
    if csv_path:
        try:
            with open(csv_path, "w", newline="", encoding="utf-8") as file:
                csv.writer(file).writerows([[csv_value(value) for value in row] for row in rows])
        except OSError as error:
            raise UserError(f"--csv {csv_path} cannot be written ({error.strerror}): pass another path") from None
    return text_table(rows)
