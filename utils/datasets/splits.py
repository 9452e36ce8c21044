"""A seeded hold-out split of any dataset: the same parts for the same seed in every process and run."""

import torch
from torch.utils.data import Dataset, random_split

from utils.errors import UserError


def held_out_count(items: int, fraction: float) -> int:
    """How many of `items` a `fraction` holds out: at least one."""
    return max(1, round(items * fraction))


def seeded_split(whole: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """(train part, held-out part) of `whole`, the same parts for the same seed in every process and run."""
    held_out = held_out_count(len(whole), fraction)
    generator = torch.Generator().manual_seed(seed)
    train_part, held_out_part = random_split(whole, [len(whole) - held_out, held_out], generator=generator)
    return train_part, held_out_part


def check_fraction_used(fraction: float, default: float, stated: bool, holds_out: bool) -> None:
    """Refuse a --val_fraction of the user's own where no set is held out of the train set: it would change nothing."""
    if stated and fraction != default and not holds_out:
        raise UserError(f"--val_fraction {fraction} holds out part of the train set for a val or test set built as the "
                        f"train set is, and none here is (each stage has a split or an entry of its own): drop "
                        f"--val_fraction, or give --val_datasets the train entry")
