"""K-fold splits of a train set: seeded, the same in every process and run, stratified by class when asked."""

import contextlib
import numbers
from collections import defaultdict

import torch
from torch.utils.data import Dataset, Subset

from utils.errors import UserError


def item_class(item: object, target_key: str = "target") -> int | None:
    """The class of an item: the target of an `(inputs, target, ...)` item, or the `target_key` entry of a dict item,
    when that is one integer (a torch, NumPy or Python one), else None."""
    if isinstance(item, dict):
        target = item.get(target_key)
    elif isinstance(item, (tuple, list)) and len(item) >= 2:
        target = item[1]
    else:
        return None
    if isinstance(target, numbers.Integral) and not isinstance(target, bool):  # NumPy's integers are Integral too
        return int(target)
    if isinstance(target, torch.Tensor) or hasattr(target, "__array__"):
        with contextlib.suppress(TypeError, ValueError, RuntimeError):
            target = torch.as_tensor(target)
            if target.numel() == 1 and not target.is_floating_point() and target.dtype != torch.bool:
                return int(target)
    return None


def item_classes(dataset: Dataset, target_key: str = "target") -> list[int] | None:
    """The class of every item, read once, or None when some target is not a single integer."""
    classes = []
    for index in range(len(dataset)):
        label = item_class(dataset[index], target_key)
        if label is None:
            return None
        classes.append(label)
    return classes


def fold_positions(classes: list[int] | None, size: int, folds: int, seed: int) -> list[list[int]]:
    """The item positions of each fold: shuffled with the seed, each class dealt round the folds in turn."""
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed)).tolist()
    if classes is not None:
        by_class: dict[int, list[int]] = defaultdict(list)
        for position in order:
            by_class[classes[position]].append(position)
        # One class after another, dealt in turn: each class spreads over the folds as evenly as it can.
        order = [position for label in sorted(by_class) for position in by_class[label]]
    parts: list[list[int]] = [[] for _ in range(folds)]
    for turn, position in enumerate(order):
        parts[turn % folds].append(position)
    return parts


def check_fold_count(classes: list[int] | None, size: int, folds: int) -> None:
    """Refuse more folds than items, or than the items of a class when the folds are stratified."""
    if folds > size:
        raise UserError(f"--folds {folds} is more than the {size} items of the train set: use at most {size} folds")
    if classes is None:
        return
    counts: dict[int, int] = defaultdict(int)
    for label in classes:
        counts[label] += 1
    label, count = min(counts.items(), key=lambda pair: pair[1])
    if count < folds:
        raise UserError(f"--folds {folds} is more than the {count} train items of class {label}, so some fold "
                        f"would hold none of it: use at most {count} folds, or more data of that class")


def fold_split(whole: Dataset, folds: int, fold: int, seed: int, stratify: bool,
               target_key: str = "target") -> tuple[Dataset, Dataset]:
    """(the other folds, fold `fold`) of `whole`, stratified by class when `stratify` and every target is a class
    (`target_key`: the target's entry in dict items)."""
    classes = item_classes(whole, target_key) if stratify else None
    check_fold_count(classes, len(whole), folds)
    parts = fold_positions(classes, len(whole), folds, seed)
    rest = sorted(position for number, part in enumerate(parts) if number != fold for position in part)
    return Subset(whole, rest), Subset(whole, sorted(parts[fold]))
