"""skip_unused_batch_hooks: inherited per-batch hooks become None, which Lightning skips; overridden ones run."""

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from model.model_interface import MInterface
from utils.callbacks import MonitorStopping, StepLossProgressBar, ValidationCheckpoint
from utils.step_hooks import EVALUATION_BATCH_HOOKS, TRAINING_BATCH_HOOKS, skip_unused_batch_hooks


@skip_unused_batch_hooks
class CountingCallback(pl.Callback):
    """Counts the training batches it sees; leaves every other hook to Lightning's base class."""

    def __init__(self) -> None:
        self.batches = 0

    def on_train_batch_end(self, *arguments: object) -> None:
        """One more batch."""
        self.batches += 1


@skip_unused_batch_hooks
class TinyModule(pl.LightningModule):
    """A linear layer with a validation step."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 2)

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        """Cross-entropy of the batch."""
        return F.cross_entropy(self.layer(batch[0]), batch[1])

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        """Nothing to record."""

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Plain SGD."""
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_inherited_hooks_become_none_and_overridden_ones_stay():
    assert CountingCallback.on_train_batch_end is not None
    assert all(getattr(CountingCallback, name) is None
               for name in TRAINING_BATCH_HOOKS + EVALUATION_BATCH_HOOKS if name != "on_train_batch_end")
    # A module keeps its evaluation hooks: Lightning reads their signatures for `dataloader_idx`.
    assert all(getattr(TinyModule, name) is None for name in TRAINING_BATCH_HOOKS)
    assert all(callable(getattr(TinyModule, name)) for name in EVALUATION_BATCH_HOOKS)
    assert callable(MInterface.on_train_batch_end) and MInterface.on_before_backward is None
    assert callable(StepLossProgressBar.on_train_batch_end) and StepLossProgressBar.on_after_backward is None
    assert ValidationCheckpoint.on_train_batch_end is None and callable(ValidationCheckpoint.on_validation_end)
    assert MonitorStopping.on_validation_batch_end is None and callable(MonitorStopping.on_validation_end)


def test_lightning_trains_with_none_hooks_and_calls_the_overridden_ones(tmp_path):
    data = TensorDataset(torch.randn(12, 4), torch.randint(0, 2, (12,)))
    counter = CountingCallback()
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[counter], default_root_dir=tmp_path,
                         accelerator="cpu")
    trainer.fit(TinyModule(), DataLoader(data, batch_size=4), DataLoader(data, batch_size=4))
    assert counter.batches == 6 and trainer.global_step == 6
