"""MInterface: the LightningModule that wraps the user's net with loss, optimizer, scheduler and metrics."""

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from utils.config.settings import OptimizationSettings, TaskSettings
from utils.datasets.batches import (
    PredictedBatch,
    batch_extras,
    batch_inputs,
    forward_keywords,
    keyword_inputs,
    split_batch,
)
from utils.datasets.per_item import is_per_item_list
from utils.errors import UserError
from utils.lightning_package import pl
from utils.loading.user_classes import load_class
from utils.optimization import build_optimizer, build_schedulers
from utils.parameter_groups import describe_groups, frozen_names, optimizer_groups
from utils.runs.checkpoints import check_net_arguments, read_checkpoint
from utils.shared_names import STEP_LOSS, TRAIN, metric_key
from utils.tasks.dry_step import check_own_metrics
from utils.tasks.given_targets import GivenTargetsMetrics
from utils.tasks.kinds import fitted, outputs_reading, task_kind
from utils.tasks.layout import scores_and_targets
from utils.tasks.losses import TaskLoss, check_own_loss_options
from utils.tasks.metrics import StageMetrics, build_confusion, build_metrics, chosen_metrics, run_metric_names
from utils.tasks.outputs import prediction
from utils.trainer.divergence import LossWatch, is_logged_step
from utils.trainer.finetuning import group_callbacks
from utils.trainer.progress import write_step_values
from utils.trainer.run_state import train_position
from utils.trainer.speedups import NetSpeedups

# A checkpoint taken within an epoch: that epoch, the global step and the epoch's train metrics so far.
EPOCH_SO_FAR = "epoch_so_far"


class MInterface(pl.LightningModule):
    """Trains `model/<model_name>.py` and reports every val and test dataset under its own label."""

    def __init__(self, model_name: str, model_kwargs: dict[str, Any], val_labels: list[str], test_labels: list[str],
                 task: TaskSettings, optimization: OptimizationSettings) -> None:
        super().__init__()
        self.net: nn.Module = load_class("model", model_name)(**model_kwargs)
        # Parameter groups and --freeze are checked here, before any run folder exists.
        groups = optimizer_groups(self.net, optimization) or []
        frozen_names(self.net, optimization)
        self.group_count = len(groups)
        # Plain values only, so every checkpoint loads with torch's weights_only=True.
        self.save_hyperparameters({"model_name": model_name, "model_kwargs": model_kwargs, "val_labels": val_labels,
                                   "test_labels": test_labels, "task": asdict(task),
                                   "optimization": asdict(optimization),
                                   **({"param_groups": describe_groups(groups, optimization)} if groups else {})})
        self.task, self.optimization = task, optimization
        self.own_loss = callable(getattr(self.net, "loss", None))  # a method, or a criterion kept as an attribute
        if self.own_loss:
            check_own_loss_options(task.loss, task.label_smoothing, type(self.net).__name__)
        self.loss_function = self.net.loss if self.own_loss else TaskLoss(
            task.loss or task_kind(task.task).default_loss, task.task, task.label_smoothing, task.ignore_index)
        # False once the pre-run batch finds targets that are not tensors: the net's own loss and metrics read them.
        self.tensor_targets = True
        self.sigmoid_outputs = False  # until the pre-run batch shows the outputs are a sigmoid's result
        self.labels = {"val": list(val_labels), "test": list(test_labels)}
        self.train_metrics: StageMetrics | None = None
        self.val_metrics, self.test_metrics = nn.ModuleList(), nn.ModuleList()
        self.loss_watch = LossWatch()
        self.resumed_epoch: dict[str, Any] | None = None  # the epoch a resumed run goes on with
        self.forward_keywords = forward_keywords(self.net)  # what a dict batch's other entries may fill
        self.speedups = NetSpeedups()
        self.metric_names()  # two metrics of one name are refused here, before any run folder exists

    def use_class_count(self, classes: int | None) -> None:
        """Record the number of classes the net's outputs score (read on the pre-run batch) for the metrics."""
        self.task = replace(self.task, num_classes=classes)
        self.hparams["task"]["num_classes"] = classes

    def use_class_axis(self, axis: int | None) -> None:
        """Record the axis the net's outputs keep their class scores on (read on the pre-run batch)."""
        self.task = replace(self.task, class_axis=axis)
        self.hparams["task"]["class_axis"] = axis

    def use_sigmoid_outputs(self, sigmoid: bool) -> None:
        """Record whether the net's outputs are a sigmoid's result, probabilities (read on the pre-run batch)."""
        self.sigmoid_outputs = sigmoid

    def use_targets_as_given(self) -> None:
        """Hand targets that are not tensors to the net's own loss and metrics as they are, with no task metrics."""
        self.tensor_targets = False

    def use_speedups(self, compile_net: bool, channels_last: bool) -> None:
        """Compile the net (--torch_compile) and store it and its batches channels-last (--channels_last) once the
        Trainer configures the model: after the pre-run checks, in each process of the run."""
        self.speedups = NetSpeedups(compile_net, channels_last)

    def configure_model(self) -> None:
        """Apply --channels_last and --torch_compile to the net, once per process."""
        self.speedups.apply(self.net)

    def metric_names(self) -> list[str]:
        """The names of the metrics each stage and dataset logs beside `loss`."""
        own = check_own_metrics(self.net) if callable(getattr(self.net, "metrics", None)) else {}
        names = run_metric_names(self.task.task, self.task.metrics, list(own), type(self.net).__name__)
        return names if self.tensor_targets else list(own)

    def new_stage_metrics(self, confusion: bool = False) -> StageMetrics:
        """A fresh set of the run's metrics: the task's or --metrics', those the net names itself, and for val and
        test sets a confusion matrix when the task predicts classes."""
        own = ({name: metric.clone() for name, metric in self.net.metrics().items()}
               if callable(getattr(self.net, "metrics", None)) else {})
        if not self.tensor_targets:
            return GivenTargetsMetrics(own)
        metrics = build_metrics(self.task.task, chosen_metrics(self.task.task, self.task.metrics),
                                self.task.num_classes, self.task.ignore_index)
        metrics.update(own)
        return StageMetrics(metrics, build_confusion(self.task.task, self.task.num_classes, self.task.ignore_index)
                            if confusion else None,
                            reading=outputs_reading(self.task.task, self.task.loss, self.own_loss,
                                                    self.sigmoid_outputs))

    def setup(self, stage: str) -> None:
        """Build each stage's and dataset's metrics once, before the module moves to its device."""
        if self.train_metrics is None:
            self.train_metrics = self.new_stage_metrics()
            self.val_metrics.extend(self.new_stage_metrics(confusion=True) for _ in self.labels["val"])
            self.test_metrics.extend(self.new_stage_metrics(confusion=True) for _ in self.labels["test"])

    @classmethod
    def from_checkpoint(cls, path: str | Path, val_labels: list[str] | None = None,
                        test_labels: list[str] | None = None, task: dict[str, Any] | None = None) -> "MInterface":
        """Rebuild the net from a checkpoint's own hyperparameters, the task settings in `task` (those the command
        states, such as other --metrics) replacing the stored ones; a net that no longer fits is refused by name."""
        checkpoint = read_checkpoint(str(path))
        stored = checkpoint["hyper_parameters"]
        net_class = check_net_arguments(str(path), stored["model_name"], stored["model_kwargs"])
        if "task" not in stored:
            raise UserError(f"checkpoint {path} holds a {net_class.__name__}, which is its own LightningModule, not "
                            f"a net MInterface wraps: load it with {net_class.__name__}.load_from_checkpoint")
        model = cls(stored["model_name"], stored["model_kwargs"],
                    stored["val_labels"] if val_labels is None else val_labels,
                    stored["test_labels"] if test_labels is None else test_labels,
                    replace(TaskSettings(**stored["task"]), **(task or {})),
                    OptimizationSettings(**stored["optimization"]))
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

    def forward(self, inputs: Any, **keywords: Any) -> Any:
        """Run the net, its image inputs channels-last under --channels_last."""
        return self.net(self.speedups.inputs(inputs), **keywords)

    def keywords_of(self, batch: Any) -> dict[str, Any]:
        """The entries of a dict batch the net's forward takes beside its inputs."""
        return keyword_inputs(batch, self.forward_keywords, self.task.input_key, self.task.target_key)

    def shared_step(self, batch: Any, metrics: StageMetrics) -> torch.Tensor:
        """The loss of a batch; its prediction and targets go to `metrics`."""
        inputs, targets = split_batch(batch, self.task.input_key, self.task.target_key)
        outputs = self.net(self.speedups.inputs(inputs), **self.keywords_of(batch))
        if not self.tensor_targets:
            loss = self.loss_function(outputs, targets)
            metrics.update(loss, outputs, targets)
            return loss
        given = prediction(outputs, self.task.output_key, type(self.net).__name__)
        predicted, scored = scores_and_targets(self.task.task, given, targets, self.task.class_axis)
        if self.own_loss:
            loss, count = self.loss_function(outputs, targets), None
        else:  # an epoch's loss is the mean over the targets counted, however they fall into batches
            loss, count = self.loss_function.mean_and_count(predicted, scored)
        metrics.update(loss, *fitted(self.task.task, predicted, scored), count)
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """One optimisation step; the loss is logged (and checked for divergence) every --log_every_n_steps."""
        loss = self.shared_step(batch, self.train_metrics)
        step, trainer = self.global_step, self.trainer  # each a chain of Lightning properties: read once
        self.loss_watch.update(loss, step)
        # Read on the host at the steps the loggers write only, so a GPU never waits for the CPU at the others.
        if not is_logged_step(trainer, step):
            return loss
        self.loss_watch.check(trainer, self.current_epoch)
        write_step_values(trainer, {metric_key(TRAIN, STEP_LOSS): loss.detach().item()}, step)
        return loss

    def on_validation_start(self) -> None:
        """Stop a diverged run before its validation (and the checkpoint that follows it)."""
        self.loss_watch.check(self.trainer, self.current_epoch)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Write no checkpoint of a diverged run, whatever asked for it (checked in this process alone); within an
        epoch of a fit in one process, keep the epoch's train metrics so far for the run that resumes it."""
        self.loss_watch.check(self.trainer, self.current_epoch, every_process=False)
        epoch, trained = train_position(self.trainer)
        # Other processes' counts are not in rank 0's checkpoint: a resumed DDP epoch counts from its resume.
        if trained and self.trainer.world_size == 1 and self.trainer.state.fn == "fit":
            checkpoint[EPOCH_SO_FAR] = {"epoch": epoch, "step": self.global_step,
                                        "train_metrics": self.train_metrics.epoch_state()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the train metrics of the epoch the checkpoint was taken in, until training starts."""
        self.resumed_epoch = checkpoint.get(EPOCH_SO_FAR)

    def on_train_start(self) -> None:
        """Count the resumed epoch's train metrics on from its batches before the checkpoint."""
        resumed, self.resumed_epoch = self.resumed_epoch, None
        if resumed and self.trainer.world_size == 1 and (resumed["epoch"], resumed["step"]) == (
                self.current_epoch, self.global_step):
            self.train_metrics.go_on_from(resumed["train_metrics"], self.device)

    def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Update the metrics of the val set this batch came from."""
        self.shared_step(batch, self.val_metrics[dataloader_idx])

    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Update the metrics of the test set this batch came from."""
        self.shared_step(batch, self.test_metrics[dataloader_idx])

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> PredictedBatch:
        """The prediction for a batch (its inputs, when the dataset also gives targets), and what else it carries; a
        list of one dict per item (a detector's) is kept whole."""
        outputs = self(batch_inputs(batch, self.task.input_key), **self.keywords_of(batch))
        if not is_per_item_list(outputs):
            outputs = prediction(outputs, self.task.output_key, type(self.net).__name__)
        return PredictedBatch(outputs, batch_extras(batch, self.task.input_key))

    def epoch_values(self, metrics: StageMetrics) -> dict[str, torch.Tensor]:
        """The epoch's values of `metrics`, which then start afresh."""
        values = metrics.compute()
        metrics.reset()
        return values

    def log_epoch(self, stage: str, per_dataset: nn.ModuleList, labels: list[str]) -> None:
        """Log each dataset's values under its label, and their means over the datasets."""
        per_label = [self.epoch_values(metrics) for metrics in per_dataset]
        for label, values in zip(labels, per_label, strict=True):
            self.log_dict({metric_key(stage, name, label): value for name, value in values.items()}, sync_dist=True,
                          add_dataloader_idx=False)
        if per_label:
            # A dataset with nothing to score (NaN) is left out of the means rather than pulling them to NaN.
            means = {metric_key(stage, name): torch.stack([values[name] for values in per_label]).nanmean()
                     for name in per_label[0]}
            self.log_dict(means, sync_dist=True, add_dataloader_idx=False, prog_bar=stage == "val")

    def on_train_epoch_end(self) -> None:
        """Log the epoch's train metrics (the loss is the exact mean over the epoch's samples)."""
        self.loss_watch.check(self.trainer, self.current_epoch)
        values = self.epoch_values(self.train_metrics)
        self.log_dict({metric_key(TRAIN, name): value for name, value in values.items()}, sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        """Log each val set's metrics and their means."""
        self.log_epoch("val", self.val_metrics, self.labels["val"])

    def on_test_epoch_end(self) -> None:
        """Log each test set's metrics and their means."""
        self.log_epoch("test", self.test_metrics, self.labels["test"])

    def configure_optimizers(self) -> Any:
        """The chosen optimizer and, when a scheduler or warm-up is on, its schedulers."""
        optimizer = build_optimizer(optimizer_groups(self.net, self.optimization) or self.parameters(),
                                    self.optimization)
        return [optimizer], build_schedulers(optimizer, self.optimization, self.trainer)

    def configure_callbacks(self) -> list:
        """Freezing, and a learning-rate curve per parameter group."""
        return group_callbacks(self, self.optimization, self.group_count)
