"""Dataset entries on the command line: `NAME` or `LABEL=NAME:key=value,key=value`."""

import re
from dataclasses import dataclass, field

from utils.errors import UserError
from utils.shared_names import MEAN_LABEL

LABEL_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# Words the results tables and metric keys use themselves: `val/mean` would read as a dataset's row.
RESERVED_LABELS = (MEAN_LABEL,)
# A label names metric keys and, through --monitor, checkpoint files: it must leave room in a 255-byte file name.
MAX_LABEL_LENGTH = 64


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
