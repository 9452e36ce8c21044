"""Lightning's ModelCheckpoint that keeps its best-k state when the run folder it saves into was moved."""

from pathlib import Path
from typing import Any

import torch

from utils.lightning_package import ModelCheckpoint, Trainer
from utils.trainer.state_keys import LightningStateKey

PATH_KEYS = ("best_model_path", "kth_best_model_path", "last_model_path")


def moved_path(path: str, old_folder: str, new_folder: str) -> str:
    """`path` moved from `old_folder` into `new_folder` when it was inside it, else as it was."""
    return str(Path(new_folder) / Path(path).name) if path and Path(path).parent == Path(old_folder) else path


class MovableModelCheckpoint(LightningStateKey, ModelCheckpoint):
    """A ModelCheckpoint whose saved paths follow the run folder: a moved run resumes with its best checkpoints.

    A monitor value that is NaN or infinite never makes a best checkpoint (Lightning's own saves a NaN while it holds
    fewer than k, ranked as the worst score). Its state key is ModelCheckpoint's own.
    """

    lightning_class = ModelCheckpoint

    def __init__(self, *, every_n_train_steps: int | None = None, train_time_interval: Any = None,
                 **keywords: Any) -> None:
        super().__init__(every_n_train_steps=every_n_train_steps, train_time_interval=train_time_interval, **keywords)
        self.saves_within_epochs = bool(every_n_train_steps or train_time_interval)

    def on_train_batch_end(self, trainer: Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Lightning's checks for a save after this batch, made only where one can follow (Lightning makes them at
        every step, and saves only every n steps or after an interval)."""
        if self.saves_within_epochs:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def check_monitor_top_k(self, trainer: Trainer, current: torch.Tensor | None = None) -> bool:
        """Lightning's decision, for finite monitor values only."""
        if current is not None and not torch.isfinite(torch.as_tensor(current)).all():
            return False
        return super().check_monitor_top_k(trainer, current)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Read the state back, its file paths moved into this run's checkpoints/ when the folder was moved."""
        old_folder = state_dict.get("dirpath")
        if old_folder and self.dirpath and old_folder != self.dirpath:
            state_dict = {**state_dict, "dirpath": self.dirpath,
                          **{key: moved_path(state_dict.get(key) or "", old_folder, self.dirpath)
                             for key in PATH_KEYS},
                          "best_k_models": {moved_path(path, old_folder, self.dirpath): score
                                            for path, score in (state_dict.get("best_k_models") or {}).items()}}
        super().load_state_dict(state_dict)
