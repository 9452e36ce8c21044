"""A seeded hold-out split of any dataset: the same parts for the same seed in every process and run."""

import torch
from torch.utils.data import Dataset, random_split


def held_out_count(items: int, fraction: float) -> int:
    """How many of `items` a `fraction` holds out: at least one."""
    return max(1, round(items * fraction))


def seeded_split(whole: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """(train part, held-out part) of `whole`, the same parts for the same seed in every process and run."""
    held_out = held_out_count(len(whole), fraction)
    generator = torch.Generator().manual_seed(seed)
    train_part, held_out_part = random_split(whole, [len(whole) - held_out, held_out], generator=generator)
    return train_part, held_out_part
