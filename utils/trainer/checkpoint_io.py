"""Checkpoint files written atomically: into a temporary file beside their path, then renamed over it."""

import os
import uuid
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's TorchCheckpointIO, writing each checkpoint beside its path and renaming it into place.

    A kill mid-write leaves the previous file whole. Lightning's own saver writes its temporary file in the system's
    temp folder; where that is another filesystem the rename becomes a copy over the old file, which a kill can leave
    half written.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        """Write `checkpoint` to a temporary file in `path`'s folder, then rename it to `path`."""
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
        try:
            torch.save(checkpoint, temporary)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
