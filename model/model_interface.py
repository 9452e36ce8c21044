"""MInterface: the LightningModule that wraps the user's net with loss, optimizer, scheduler and metrics."""

import math
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from utils.checkpoints import CHECKPOINT_FORMAT, check_checkpoint
from utils.errors import TrainingDiverged, UserError
from utils.losses import TaskLoss
from utils.metrics import EpochMetrics
from utils.optimization import build_optimizer, build_schedulers
from utils.random_state import capture_random_state, restore_random_state
from utils.registry import load_class
from utils.step_hooks import skip_unused_batch_hooks


@skip_unused_batch_hooks
class MInterface(pl.LightningModule):
    """Trains `model/<model_name>.py` and reports every val and test dataset under its own label."""

    def __init__(self, model_name: str, model_kwargs: dict[str, Any], val_labels: list[str], test_labels: list[str],
                 task: str = "classification", num_classes: int = 10, loss: str = "cross_entropy",
                 label_smoothing: float = 0.0, optimization: dict[str, Any] | None = None) -> None:
        super().__init__()
        # Plain values only, so every checkpoint loads with torch's weights_only=True.
        self.save_hyperparameters()
        self.net: nn.Module = load_class("model", model_name)(**model_kwargs)
        self.loss_function = TaskLoss(loss, task, num_classes, label_smoothing)
        self.optimization = optimization or {}
        self.train_metrics = EpochMetrics(task, num_classes)
        self.val_metrics = [EpochMetrics(task, num_classes) for _ in val_labels]
        self.test_metrics = [EpochMetrics(task, num_classes) for _ in test_labels]
        self.labels = {"val": list(val_labels), "test": list(test_labels)}
        # The val metrics of every validation by global step, so a run reports those of its best checkpoint.
        self.validation_history: dict[int, dict[str, float]] = {}
        self._resumed_random_state: dict[str, Any] | None = None
        self.step_loss: float | None = None  # the latest training step's loss, for the progress bar
        self._step_loss_written_at: int | None = None

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: Any, map_location: Any = None, **overrides: Any) -> "MInterface":
        """Rebuild the net from the checkpoint's own hyperparameters; another net or format is refused by name."""
        check_checkpoint(str(checkpoint_path))
        try:
            return super().load_from_checkpoint(checkpoint_path, map_location=map_location, **overrides)
        except RuntimeError as error:
            raise UserError(f"checkpoint {checkpoint_path} does not fit the net as it is defined now "
                            f"({str(error).splitlines()[-1].strip()}): use a checkpoint of the current net") from None

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Run the net."""
        return self.net(inputs)

    def _step(self, batch: Any, metrics: EpochMetrics) -> torch.Tensor:
        outputs = self.net(batch[0])
        loss = self.loss_function(outputs, batch[1])
        metrics.update(loss, outputs, batch[1])
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """One optimisation step; its loss goes to the progress bar, and to the loggers on_train_batch_end."""
        loss = self._step(batch, self.train_metrics)
        self.step_loss = loss.item()  # one number to the host: on a CPU twenty times cheaper than isfinite and bool()
        if not math.isfinite(self.step_loss):
            raise TrainingDiverged(
                f"the training loss became {self.step_loss} at epoch {self.current_epoch}, step {self.global_step}: "
                f"lower --lr, set --gradient_clip_val, or check the data; checkpoints saved so far are kept"
            )
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Write `train/loss_step` every --log_every_n_steps optimizer steps, at the step Lightning would use."""
        # Straight to the loggers: Lightning's self.log costs about half a millisecond a call on a CPU, and a value
        # logged on_step is converted again after every later batch of the epoch, as much as a small net's step.
        every, stepped = self.trainer.log_every_n_steps, self.global_step
        if every and stepped % every == 0 and stepped not in (0, self._step_loss_written_at):
            self._step_loss_written_at = stepped
            for logger in self.loggers:
                logger.log_metrics({"train/loss_step": self.step_loss, "epoch": self.current_epoch}, step=stepped - 1)

    def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Update the metrics of the val set this batch came from."""
        self._step(batch, self.val_metrics[dataloader_idx])

    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Update the metrics of the test set this batch came from."""
        self._step(batch, self.test_metrics[dataloader_idx])

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        """Return the raw outputs of a batch (inputs first when the dataset also gives targets)."""
        inputs = batch[0] if isinstance(batch, (list, tuple)) else batch
        return self(inputs)

    def _compute(self, metrics: EpochMetrics) -> dict[str, torch.Tensor]:
        values = metrics.compute(self.device)
        metrics.reset()
        return values

    def _log_epoch(self, stage: str, per_dataset: list[EpochMetrics], labels: list[str]) -> dict[str, torch.Tensor]:
        per_label = [self._compute(metrics) for metrics in per_dataset]
        logged = {}
        for label, values in zip(labels, per_label, strict=True):
            logged.update({f"{stage}/{label}/{name}": value for name, value in values.items()})
        self.log_dict(logged, sync_dist=True, add_dataloader_idx=False)
        if per_label:
            means = {f"{stage}/{name}": torch.stack([values[name] for values in per_label]).mean()
                     for name in per_label[0]}
            self.log_dict(means, sync_dist=True, add_dataloader_idx=False, prog_bar=stage == "val")
            logged.update(means)
        return logged

    def on_train_epoch_end(self) -> None:
        """Log the epoch's train metrics (the loss is the exact mean over the epoch's samples)."""
        values = self._compute(self.train_metrics)
        self.log_dict({f"train/{name}": value for name, value in values.items()}, sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        """Log each val set's metrics and their means, and keep them in the validation history."""
        logged = self._log_epoch("val", self.val_metrics, self.labels["val"])
        if not self.trainer.sanity_checking:
            self.validation_history[self.global_step] = {key: float(value) for key, value in logged.items()}

    def on_test_epoch_end(self) -> None:
        """Log each test set's metrics and their means."""
        self._log_epoch("test", self.test_metrics, self.labels["test"])

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the validation history and the global random generators (a resumed run draws what an uninterrupted
        one would)."""
        checkpoint["random_state"] = capture_random_state()
        checkpoint["validation_history"] = self.validation_history
        checkpoint["template_format"] = CHECKPOINT_FORMAT

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the validation history; keep the random state until training starts (restoring the loops draws
        nothing after)."""
        self.validation_history = dict(checkpoint.get("validation_history", {}))
        self._resumed_random_state = checkpoint.get("random_state")

    def on_train_start(self) -> None:
        """Put back the random state of the checkpoint a run resumes from."""
        if self._resumed_random_state is not None:
            restore_random_state(self._resumed_random_state)
            self._resumed_random_state = None

    def configure_optimizers(self) -> Any:
        """The chosen optimizer and, when a scheduler or warm-up is on, its schedulers."""
        optimizer = build_optimizer(self.parameters(), self.optimization)
        schedulers = build_schedulers(optimizer, self.optimization, self.trainer.max_epochs or 1)
        return [optimizer], schedulers
