"""Save and restore the global random generators, as plain values a weights_only checkpoint can hold."""

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch


def capture_random_state(cuda: bool = True) -> dict[str, Any]:
    """The state of Python's, NumPy's and torch's global generators (CUDA's too when present, unless `cuda` is
    False: reading it starts CUDA)."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [kind, keys.tolist(), position, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if cuda and torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(state: dict[str, Any]) -> None:
    """Put the global generators back in a captured state."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextmanager
def host_random_state_kept() -> Iterator[None]:
    """Put Python's, NumPy's and torch's CPU generators back as they were once the block ends (CUDA's is left alone:
    reading it would start CUDA in a process that may fork its ranks)."""
    state = capture_random_state(cuda=False)
    try:
        yield
    finally:
        restore_random_state(state)
