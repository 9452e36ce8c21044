"""Final metrics per stage and dataset: gathered from the trainer, printed as a table, saved as results.json."""

import math
from typing import Any

from utils.shared_names import MEAN_LABEL, metric_key, split_metric_key

STAGES = ("val", "test")


def per_dataset(metrics: dict[str, Any], stage: str, labels: list[str]) -> dict[str, dict[str, float]]:
    """Group `stage/<label>/<name>` values by label, with the means over datasets under `mean`.

    `mean` holds only the names every dataset has: an own module's `stage/<name>` logged once for all datasets (in
    its epoch-end hook) is no mean over them.
    """
    grouped: dict[str, dict[str, float]] = {}
    keys = {key: split_metric_key(key) for key in metrics}
    for label in [*labels, MEAN_LABEL] if len(labels) > 1 else labels:
        wanted = None if label == MEAN_LABEL else label
        values = {parts.name: float(metrics[key]) for key, parts in keys.items()
                  if parts is not None and parts.stage == stage and parts.label == wanted
                  and (label != MEAN_LABEL or all(metric_key(stage, parts.name, each) in metrics for each in labels))}
        if values:
            grouped[label] = values
    return grouped


def results_table(results: dict[str, Any]) -> str:
    """A plain text table: one row per stage and dataset, one column per metric; a set scored in part, and a mean
    over such sets, marked `(part)`."""
    partial = results.get("partial", {})
    rows = [(stage, f"{label} (part)" if label in partial.get(stage, {}) or (label == MEAN_LABEL and partial.get(stage))
             else label, values) for stage in STAGES for label, values in results.get(stage, {}).items()]
    if not rows:
        return "no metrics were computed"
    names = sorted({name for _, _, values in rows for name in values}, key=lambda name: (name != "loss", name))
    label_width = max(7, *(len(label) for _, label, _ in rows))
    widths = {name: max(10, len(name)) for name in names}  # a long metric name widens its column
    lines = [f"{'stage':<6} {'dataset':<{label_width}} " + " ".join(f"{name:>{widths[name]}}" for name in names)]
    for stage, label, values in rows:
        cells = " ".join(f"{values[name]:>{widths[name]}.4f}" if name in values else f"{'-':>{widths[name]}}"
                         for name in names)
        lines.append(f"{stage:<6} {label:<{label_width}} {cells}")
    return "\n".join(lines)


def plain_json(value: Any) -> Any:
    """`value` as strict JSON: tensors and numpy values become numbers or lists, non-finite numbers null, paths and
    other objects their text."""
    if isinstance(value, dict):
        return {str(key): plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    if hasattr(value, "tolist"):  # a tensor or a numpy value, without importing either here
        return plain_json(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int):
        return value
    return str(value)
