"""A cross-validation's results: every fold's values, and the mean and standard deviation of each metric."""

import math
import statistics
from typing import Any

from utils.shared_names import fold_number, metric_key

STAGES = ("val", "test")


def spread(values: list[float]) -> dict[str, Any]:
    """The values with their mean and sample standard deviation (0 for a single value; NaN beside a NaN)."""
    if not all(math.isfinite(value) for value in values):
        return {"mean": math.nan, "std": math.nan, "values": values}
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


def summarise_folds(fold_results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per stage, dataset and metric, the spread of its values over the folds."""
    summary: dict[str, Any] = {}
    for stage in STAGES:
        for label, metrics in fold_results[0].get(stage, {}).items():
            for name in metrics:
                # A fold's value that was not finite is null in its results.json: NaN here, so the mean is too.
                values = [math.nan if result[stage][label][name] is None else result[stage][label][name]
                          for result in fold_results if name in result.get(stage, {}).get(label, {})]
                summary.setdefault(stage, {}).setdefault(label, {})[name] = spread(values)
    scores = [result["best_score"] for result in fold_results if result.get("best_score") is not None]
    if scores:
        summary["best_score"] = spread(scores)
    return summary


def fold_means(results: dict[str, Any]) -> dict[str, float]:
    """Each metric's mean over the folds, under the key the folds log it by (the hparams tab's columns)."""
    return {metric_key(stage, name, label): values["mean"] for stage in STAGES
            for label, metrics in results.get(stage, {}).items() for name, values in metrics.items()}


def folds_table(results: dict[str, Any]) -> str:
    """One row per fold (its best monitor value and folder), then mean ± std per stage, dataset and metric."""
    monitor = results["monitor"]
    lines = [f"{'fold':<6} {'best ' + monitor:>20}  run folder"]
    for name, fold in results["fold_runs"].items():
        score = "-" if fold.get("best_score") is None else f"{fold['best_score']:.4f}"
        lines.append(f"{fold_number(name):<6} {score:>20}  {fold['run_dir']}")
    rows = [(stage, label, values) for stage in STAGES for label, values in results.get(stage, {}).items()]
    names = sorted({name for _, _, values in rows for name in values}, key=lambda name: (name != "loss", name))
    label_width = max(7, *(len(label) for _, label, _ in rows)) if rows else 7
    lines += ["", f"mean ± std over {len(results['fold_runs'])} folds:",
              f"{'stage':<6} {'dataset':<{label_width}} " + " ".join(f"{name:>17}" for name in names)]
    for stage, label, values in rows:
        cells = " ".join(f"{values[name]['mean']:>8.4f} ± {values[name]['std']:<6.4f}" if name in values
                         else f"{'-':>17}" for name in names)
        lines.append(f"{stage:<6} {label:<{label_width}} {cells}")
    return "\n".join(lines)
