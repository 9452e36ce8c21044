"""Dataset entries on the command line: `NAME` or `LABEL=NAME:key=value,key=value`, and each stage's entries."""

import argparse
import re
from dataclasses import dataclass, field

from utils.config.experiment_options import FOLD_LABEL
from utils.errors import UserError
from utils.shared_names import MEAN_LABEL

LABEL_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# Words the results tables and metric keys use themselves: `val/mean` would read as a dataset's row.
RESERVED_LABELS = (MEAN_LABEL,)
# A label names metric keys and, through --monitor, checkpoint files: it must leave room in a 255-byte file name.
MAX_LABEL_LENGTH = 64
MNIST_DEFAULTS = {
    "train_dataset": "example_train_data",
    "val_datasets": ["clean=example_eval_data", "noisy=example_eval_data:noise_std=1.0"],
    "test_datasets": ["example_test_data"],
}


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset of a stage: the file name to load, the label it is reported under and its own arguments."""

    label: str
    name: str
    overrides: dict[str, str] = field(default_factory=dict)

    def to_text(self) -> str:
        """Write the entry back in the form it is parsed from."""
        if not self.overrides and self.label == self.name:
            return self.name
        text = f"{self.label}={self.name}"
        if self.overrides:
            text += ":" + ",".join(f"{key}={value}" for key, value in self.overrides.items())
        return text


def parse_entry(text: str) -> DatasetEntry:
    """Parse one entry, refusing malformed labels and arguments with a message that shows the form."""
    form = "use NAME or LABEL=NAME:key=value,key=value"
    label, separator, rest = text.partition("=")
    if not separator or ":" in label:
        label, rest = "", text
    name, _, arguments = rest.partition(":")
    label = label or name
    if not LABEL_PATTERN.fullmatch(label):
        raise UserError(f"dataset entry {text!r} has a bad label {label!r}: a label is letters, digits and '_'; {form}")
    if label in RESERVED_LABELS:
        raise UserError(f"dataset entry {text!r} takes the label {label!r}, which the results tables use themselves: "
                        f"give it another label, as in {label}_set={name}")
    if len(label) > MAX_LABEL_LENGTH:
        raise UserError(f"dataset entry {text[:80]!r}... has a label of {len(label)} characters: a label names files "
                        f"and metric keys, so it has at most {MAX_LABEL_LENGTH}")
    overrides: dict[str, str] = {}
    for pair in filter(None, arguments.split(",")):
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise UserError(f"dataset entry {text!r} has a bad argument {pair!r}: {form}")
        overrides[key.strip()] = value.strip()
    return DatasetEntry(label, name, overrides)


def parse_entries(texts: list[str], option: str) -> list[DatasetEntry]:
    """Parse the entries of one option and refuse duplicate labels."""
    if not texts:
        raise UserError(f"{option} needs at least one dataset entry")
    entries = [parse_entry(text) for text in texts]
    seen: set[str] = set()
    for entry in entries:
        if entry.label in seen:
            raise UserError(
                f"{option} uses the label {entry.label!r} twice: give each entry its own label, "
                f"as in {entry.label}_2={entry.name}:key=value"
            )
        seen.add(entry.label)
    return entries


def val_entries(names: argparse.Namespace, default: list[str]) -> list[DatasetEntry]:
    """The val entries given, else `default`; a cross-validation validates on its fold plus those given."""
    if not names.folds:
        return parse_entries(names.val_datasets or default, "--val_datasets")
    entries = parse_entries(names.val_datasets, "--val_datasets") if names.val_datasets else []
    if any(entry.label == FOLD_LABEL for entry in entries):
        raise UserError(f"--val_datasets uses the label {FOLD_LABEL!r}, which --folds gives the held-out fold: "
                        f"label that entry otherwise")
    return entries


def stage_entries(names: argparse.Namespace) -> tuple[DatasetEntry, list[DatasetEntry], list[DatasetEntry]]:
    """Resolve the train, val and test entries from --dataset, the per-stage options and the MNIST defaults."""
    if names.dataset:
        shorthand = [names.dataset]
        train = parse_entry(names.train_dataset or names.dataset)
        val = val_entries(names, shorthand)
        test = parse_entries(names.test_datasets or shorthand, "--test_datasets")
    elif names.train_dataset:
        if not names.val_datasets and not names.folds:
            raise UserError("--train_dataset needs --val_datasets too (or use --dataset NAME for all stages)")
        train = parse_entry(names.train_dataset)
        val = val_entries(names, [])
        test = parse_entries(names.test_datasets or names.val_datasets, "--test_datasets")
    else:
        train = parse_entry(MNIST_DEFAULTS["train_dataset"])
        val = val_entries(names, MNIST_DEFAULTS["val_datasets"])
        test = parse_entries(names.test_datasets or MNIST_DEFAULTS["test_datasets"], "--test_datasets")
    return train, val, test
