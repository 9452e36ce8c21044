"""Write checkpoint files atomically beside their final path, optionally under extra names of the same file, and
delete displaced ones in the background."""

import os
import shutil
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO


def give_name(source: Path, name: Path) -> None:
    """Make `name` a hard link of `source`, or a copy where the filesystem has no hard links."""
    name.unlink(missing_ok=True)
    try:
        os.link(source, name)
    except OSError:
        shutil.copyfile(source, name)


class CheckpointFiles(TorchCheckpointIO):
    """Saves each checkpoint into a temporary file in its own folder, gives that file the names in `also_named`,
    then renames it into place. Displaced checkpoints are deleted by a background thread, waited for at teardown.

    Lightning's own saver writes its temporary file in the system's temp folder: where that is another filesystem
    (a tmpfs /tmp, a node-local disk under a shared log folder) the rename becomes a copy over the old file, which
    a kill can leave half written, and which would write through any other name of the old file.
    """

    def __init__(self) -> None:
        super().__init__()
        self.also_named: list[str] = []
        self._remover: ThreadPoolExecutor | None = None
        self._removals: list[Future] = []

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        """Write `checkpoint` to `path` (and to the names in `also_named`, which are then cleared)."""
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        target = Path(path)
        names, self.also_named = [Path(name) for name in self.also_named], []
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
        try:
            torch.save(checkpoint, temporary)
            for name in names:
                give_name(temporary, name)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)

    def __getstate__(self) -> dict[str, Any]:
        """What ddp_spawn's processes get: no thread and no deletions; those this process started stay its own."""
        return {**self.__dict__, "_remover": None, "_removals": []}

    def remove_checkpoint(self, path: Any) -> None:
        """Delete a checkpoint in the background: unlinking a file whose blocks are still being written out waits for
        them (a 5 MB checkpoint of the previous epoch: 5 ms here, 0.5 ms of it CPU time)."""
        if self._remover is None:
            self._remover = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint-removal")
        self._removals.append(self._remover.submit(super().remove_checkpoint, path))

    def teardown(self) -> None:
        """Wait for the deletions still running; a deletion that failed fails here."""
        if self._remover is not None:
            self._remover.shutdown(wait=True)
            self._remover = None
        removals, self._removals = self._removals, []
        for removal in removals:
            removal.result()
