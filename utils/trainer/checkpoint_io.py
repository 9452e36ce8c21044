"""Checkpoint files written atomically: into a temporary file beside their path, then renamed over it."""

import errno
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from utils.errors import DiskFull
from utils.lightning_package import TorchCheckpointIO
from utils.runs.checkpoints import WEIGHTS_DIGEST, weights_digest
from utils.shared_names import checkpoint_temporary


def tensor_bytes(value: Any) -> int:
    """The bytes of every tensor in a checkpoint's dicts, lists and tuples: at least what writing it needs."""
    if isinstance(value, torch.Tensor):
        return value.nbytes
    if isinstance(value, dict):
        return sum(tensor_bytes(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return sum(tensor_bytes(item) for item in value)
    return 0


def is_out_of_space(error: Exception, folder: Path, needed: int) -> bool:
    """Whether a failed write ran out of disk: ENOSPC, or torch's zip writer failing with less free than needed."""
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    return shutil.disk_usage(folder).free < needed  # torch's writer words it "file write failed" or "unexpected pos"


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
        temporary = checkpoint_temporary(target)
        checkpoint[WEIGHTS_DIGEST] = weights_digest(checkpoint)
        try:
            torch.save(checkpoint, temporary)
            os.replace(temporary, target)
        except (OSError, RuntimeError) as error:
            temporary.unlink(missing_ok=True)  # before the free space is measured: the partial file held some
            needed = tensor_bytes(checkpoint)
            if is_out_of_space(error, target.parent, needed):
                raise DiskFull(f"no space left in {target.parent} to save {target.name}: it needs at least "
                               f"{needed:,} bytes and {shutil.disk_usage(target.parent).free:,} are free; the "
                               f"checkpoints saved before are kept: free space, then resume with --resume "
                               f"{target.parent.parent}") from None
            raise
        finally:
            temporary.unlink(missing_ok=True)
