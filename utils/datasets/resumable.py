"""The train order a run resumes mid-epoch: a checkpoint says how far the epoch got (DInterface's state), and the
resumed run goes on from there in the same order."""

import itertools
from collections.abc import Iterator
from typing import Any

from torch.utils.data import DistributedSampler


class ResumableOrder(DistributedSampler):
    """DistributedSampler's order, a function of (seed, epoch), that can start an epoch after its first items."""

    def __init__(self, *arguments: Any, **keywords: Any) -> None:
        super().__init__(*arguments, **keywords)
        self.resume_at: tuple[int, int] | None = None  # (epoch, items of it already trained), for one iteration

    def resume(self, epoch: int, items: int) -> None:
        """Go on with `epoch` after its first `items` indices (this process's), at the next iteration."""
        self.set_epoch(epoch)  # a loader with workers draws its indices before Lightning sets the epoch
        self.resume_at = (epoch, items)

    def __iter__(self) -> Iterator[int]:
        indices = super().__iter__()
        resume_at, self.resume_at = self.resume_at, None
        if resume_at is not None and resume_at[0] == self.epoch:
            return itertools.islice(indices, resume_at[1], None)
        return indices
