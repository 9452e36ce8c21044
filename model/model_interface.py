"""MInterface: the LightningModule that wraps the user's net with loss, optimizer, scheduler and metrics."""

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from utils.config.names import load_class
from utils.config.settings import OptimizationSettings, TaskSettings
from utils.errors import TrainingDiverged, UserError
from utils.optimization import build_optimizer, build_schedulers
from utils.runs.checkpoints import CHECKPOINT_FORMAT, check_net_arguments, read_checkpoint
from utils.runs.random_state import capture_random_state, restore_random_state
from utils.tasks.losses import TaskLoss
from utils.tasks.metrics import EpochMetrics


class MInterface(pl.LightningModule):
    """Trains `model/<model_name>.py` and reports every val and test dataset under its own label."""

    def __init__(self, model_name: str, model_kwargs: dict[str, Any], val_labels: list[str], test_labels: list[str],
                 task: TaskSettings, optimization: OptimizationSettings) -> None:
        super().__init__()
        # Plain values only, so every checkpoint loads with torch's weights_only=True.
        self.save_hyperparameters({"model_name": model_name, "model_kwargs": model_kwargs, "val_labels": val_labels,
                                   "test_labels": test_labels, "task": asdict(task),
                                   "optimization": asdict(optimization)})
        self.net: nn.Module = load_class("model", model_name)(**model_kwargs)
        self.task, self.optimization = task, optimization
        self.loss_function = TaskLoss(task.loss, task.task, task.num_classes, task.label_smoothing)
        self.train_metrics = EpochMetrics(task.task, task.num_classes)
        self.val_metrics = [EpochMetrics(task.task, task.num_classes) for _ in val_labels]
        self.test_metrics = [EpochMetrics(task.task, task.num_classes) for _ in test_labels]
        self.labels = {"val": list(val_labels), "test": list(test_labels)}
        # The val metrics of every validation by global step, so a run reports those of its best checkpoint.
        self.validation_history: dict[int, dict[str, float]] = {}
        self.resumed_random_state: dict[str, Any] | None = None

    @classmethod
    def from_checkpoint(cls, path: str | Path, val_labels: list[str] | None = None,
                        test_labels: list[str] | None = None) -> "MInterface":
        """Rebuild the net from a checkpoint's own hyperparameters; a net that no longer fits is refused by name."""
        checkpoint = read_checkpoint(str(path))
        stored = checkpoint["hyper_parameters"]
        net_class = check_net_arguments(str(path), stored["model_name"], stored["model_kwargs"])
        model = cls(stored["model_name"], stored["model_kwargs"],
                    stored["val_labels"] if val_labels is None else val_labels,
                    stored["test_labels"] if test_labels is None else test_labels,
                    TaskSettings(**stored["task"]), OptimizationSettings(**stored["optimization"]))
        # Strict, into the net alone: a layer added, removed or resized since training is an error.
        state = {key.removeprefix("net."): value for key, value in checkpoint["state_dict"].items()
                 if key.startswith("net.")}
        try:
            model.net.load_state_dict(state)
        except RuntimeError as error:
            details = [line.strip() for line in str(error).splitlines()[1:] if line.strip()] or [str(error)]
            raise UserError(f"checkpoint {path} does not fit {net_class.__name__}, the net as model/"
                            f"{stored['model_name']}.py defines it now ({details[0]}): use a checkpoint of the "
                            f"current net, or restore the net it was trained with") from None
        return model

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: Any, map_location: Any = None, **overrides: Any) -> "MInterface":
        """Lightning's entry point, answered by `from_checkpoint` (the settings are stored as plain values)."""
        model = cls.from_checkpoint(checkpoint_path, overrides.get("val_labels"), overrides.get("test_labels"))
        return model.to(map_location) if map_location is not None else model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Run the net."""
        return self.net(inputs)

    def shared_step(self, batch: Any, metrics: EpochMetrics) -> torch.Tensor:
        """The loss of a batch, its outputs and targets added to `metrics`."""
        outputs = self.net(batch[0])
        loss = self.loss_function(outputs, batch[1])
        metrics.update(loss, outputs, batch[1])
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """One optimisation step; the loss is logged (and checked for divergence) every --log_every_n_steps."""
        loss = self.shared_step(batch, self.train_metrics)
        self.log("train/loss_step", loss, prog_bar=True)
        every = self.trainer.log_every_n_steps
        # Read on the host only at the steps it is logged: a GPU never waits for the CPU at the others.
        if every and self.global_step % every == 0 and not torch.isfinite(loss):
            raise TrainingDiverged(
                f"the training loss became {loss.item()} at epoch {self.current_epoch}, step {self.global_step}: "
                f"lower --lr, set --gradient_clip_val, or check the data; checkpoints saved so far are kept"
            )
        return loss

    def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Update the metrics of the val set this batch came from."""
        self.shared_step(batch, self.val_metrics[dataloader_idx])

    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Update the metrics of the test set this batch came from."""
        self.shared_step(batch, self.test_metrics[dataloader_idx])

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        """Return the raw outputs of a batch (inputs first when the dataset also gives targets)."""
        inputs = batch[0] if isinstance(batch, (list, tuple)) else batch
        return self(inputs)

    def epoch_values(self, metrics: EpochMetrics) -> dict[str, torch.Tensor]:
        """The epoch's values of `metrics`, which then start afresh."""
        values = metrics.compute(self.device)
        metrics.reset()
        return values

    def log_epoch(self, stage: str, per_dataset: list[EpochMetrics], labels: list[str]) -> dict[str, torch.Tensor]:
        """Log each dataset's values under its label and their means over the datasets; return what was logged."""
        per_label = [self.epoch_values(metrics) for metrics in per_dataset]
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
        values = self.epoch_values(self.train_metrics)
        self.log_dict({f"train/{name}": value for name, value in values.items()}, sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        """Log each val set's metrics and their means, and keep them in the validation history."""
        logged = self.log_epoch("val", self.val_metrics, self.labels["val"])
        if not self.trainer.sanity_checking:
            self.validation_history[self.global_step] = {key: float(value) for key, value in logged.items()}

    def on_test_epoch_end(self) -> None:
        """Log each test set's metrics and their means."""
        self.log_epoch("test", self.test_metrics, self.labels["test"])

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
        self.resumed_random_state = checkpoint.get("random_state")

    def on_train_start(self) -> None:
        """Put back the random state of the checkpoint a run resumes from."""
        if self.resumed_random_state is not None:
            restore_random_state(self.resumed_random_state)
            self.resumed_random_state = None

    def configure_optimizers(self) -> Any:
        """The chosen optimizer and, when a scheduler or warm-up is on, its schedulers."""
        optimizer = build_optimizer(self.parameters(), self.optimization)
        return [optimizer], build_schedulers(optimizer, self.optimization, self.trainer)
