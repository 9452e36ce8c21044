"""What --mode predict writes: predictions.pt, and predictions.csv when the outputs are one row per item."""

import csv
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from utils.datasets.batches import PredictedBatch, dataset_indices, keeps_items_in_order
from utils.datasets.per_item import is_per_item_list, join_items, split_items
from utils.shared_names import PREDICTIONS_FILE, PREDICTIONS_TABLE

# A cell holds one value; an item's longer values (a box list, a mask) stay in predictions.pt alone.
PLAIN = (str, int, float, bool)


def set_predictions(batches: list[Any], dataset: Dataset, sampled: list[list[int]]) -> dict[str, Any]:
    """A set's predictions, one entry per item: its outputs, its index in the user's dataset (where the rows are
    known to be the items the sampler chose, `sampled` by batch) and its extras."""
    predicted = [batch if isinstance(batch, PredictedBatch) else PredictedBatch(batch, {}) for batch in batches]
    if not all(is_batched(batch.outputs) for batch in predicted):
        # An own module's predict_step that returns no tensor of items: its returns as they are, one per batch.
        return {"outputs": [batch.outputs for batch in predicted]}
    outputs, extras = [], []
    for batch in predicted:
        outputs += split_items(batch.outputs, len(batch.outputs))
        extras += split_items(batch.extras, len(batch.outputs))
    index = item_indices(dataset, sampled, [len(batch.outputs) for batch in predicted])
    return {"outputs": join_items(outputs), **({"index": index} if index is not None else {}),
            "extras": join_items(extras)}


def item_indices(dataset: Dataset, sampled: list[list[int]], rows: list[int]) -> torch.Tensor | None:
    """The index in the user's dataset of each row of the batches (`rows` in each), or None where the rows are not
    known to be the sampled items in order: never a wrong index."""
    chosen = sampled[:len(rows)]  # --limit_predict_batches predicts the first batches only
    if not keeps_items_in_order(dataset) or [len(batch) for batch in chosen] != rows:
        return None
    indices = dataset_indices(dataset)
    return torch.tensor([indices[position] for batch in chosen for position in batch], dtype=torch.long)


def is_batched(value: Any) -> bool:
    """Whether a prediction is a tensor of one entry per item, or a list of one dict per item."""
    return (isinstance(value, torch.Tensor) and value.dim() > 0) or is_per_item_list(value)


def _cells(name: str, value: Any) -> dict[str, Any]:
    """The CSV cells of an item's value: a one-value tensor or a plain value, a dict's or tuple's parts by path."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return {name: value.item()}
    if isinstance(value, PLAIN) or value is None:
        return {name: value}
    if isinstance(value, dict):
        return {column: cell for key, part in value.items()
                for column, cell in _cells(f"{name}.{key}" if name else str(key), part).items()}
    if isinstance(value, tuple):
        return {column: cell for index, part in enumerate(value)
                for column, cell in _cells(f"{name}.{index}", part).items()}
    return {}


def _output_cells(outputs: torch.Tensor, classify: bool) -> list[dict[str, Any]]:
    """Per item: the predicted class (classification: the highest score) and each output value."""
    if outputs.dim() == 1:
        return [{"output": value} for value in outputs.tolist()]
    rows = [{f"output_{index}": value for index, value in enumerate(row)} for row in outputs.tolist()]
    if classify and outputs.shape[1] >= 2:
        rows = [{"predicted": predicted, **row} for predicted, row in zip(outputs.argmax(1).tolist(), rows,
                                                                            strict=True)]
    return rows


def csv_rows(label: str, predicted: dict[str, Any], classify: bool) -> list[dict[str, Any]]:
    """One row per item of a set whose outputs are [N] or [N, K]: its dataset label and index (where known), its
    extras, its predicted class and outputs; none for outputs of any other shape."""
    outputs = predicted["outputs"]
    if not isinstance(outputs, torch.Tensor) or outputs.dim() not in (1, 2):
        return []
    output_cells = _output_cells(outputs.float(), classify)
    extras = split_items(predicted["extras"], len(outputs))
    indices = [{"index": index} for index in predicted["index"].tolist()] if "index" in predicted else (
        [{}] * len(outputs))
    rows = []
    for position, item_extras, cells in zip(indices, extras, output_cells, strict=True):
        own = {"dataset", "index", *cells}
        # An extra named like one of the template's own columns keeps its value under `extras.<name>`.
        extra_cells = {column if column not in own else f"extras.{column}": cell
                       for column, cell in _cells("", item_extras).items()}
        rows.append({"dataset": label, **position, **extra_cells, **cells})
    return rows


def write_predictions(run_dir: Path, per_set: dict[str, dict[str, Any]], classify: bool) -> list[Path]:
    """Write predictions.pt (every set, by label) and predictions.csv (the sets with one row per item); return the
    files written."""
    files = [run_dir / PREDICTIONS_FILE]
    torch.save(per_set, files[0])
    rows = [row for label, predicted in per_set.items() for row in csv_rows(label, predicted, classify)]
    if rows:
        files.append(run_dir / PREDICTIONS_TABLE)
        columns = list(dict.fromkeys(column for row in rows for column in row))
        with files[1].open("w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
    return files
