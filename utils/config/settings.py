"""Typed settings: one small frozen dataclass per group of options, built once from the parsed command line."""

from dataclasses import dataclass, fields
from typing import Any, Self


class FromOptions:
    """Builds a settings dataclass from the options dict, taking exactly the fields it declares."""

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Self:
        """The settings of this group, read from the parsed options."""
        return cls(**{field.name: options[field.name] for field in fields(cls)})


@dataclass(frozen=True)
class DataSettings(FromOptions):
    """What DInterface reads: batching, loading, the seeded hold-out split and the folds of a cross-validation."""

    batch_size: int
    num_workers: int
    drop_last: bool
    val_fraction: float
    seed: int
    task: str
    folds: int | None
    fold: int | None


@dataclass(frozen=True)
class TaskSettings(FromOptions):
    """What the task means for the loss and the metrics, and where batches and outputs keep their parts."""

    task: str
    num_classes: int | None
    loss: str | None
    label_smoothing: float
    metrics: list[str] | None
    input_key: str
    target_key: str
    output_key: str
    # Defaults, so checkpoints saved before these options existed still load.
    ignore_index: int | None = None
    class_axis: int | None = None


def prefixed(options: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The options named `<prefix>.<name>`, by name."""
    return {key.removeprefix(f"{prefix}."): value for key, value in options.items() if key.startswith(f"{prefix}.")}


@dataclass(frozen=True)
class OptimizationSettings:
    """The optimizer and the scheduler, each a torch.optim name and its keyword arguments, and the warm-up."""

    optimizer: str
    optimizer_arguments: dict[str, Any]
    scheduler: str
    scheduler_arguments: dict[str, Any]
    warmup_steps: int
    monitor: str
    monitor_mode: str

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "OptimizationSettings":
        """The optimizer's and scheduler's names and the values of their --optimizer.X and --scheduler.X options."""
        return cls(options["optimizer"], prefixed(options, "optimizer"), options["scheduler"],
                   prefixed(options, "scheduler"), options["warmup_steps"], options["monitor"], options["monitor_mode"])

    @property
    def lr(self) -> float:
        """The optimizer's learning rate."""
        return self.optimizer_arguments["lr"]

    @property
    def changes_learning_rate(self) -> bool:
        """Whether a scheduler or a warm-up changes the learning rate during training."""
        return self.scheduler != "none" or self.warmup_steps > 0


@dataclass(frozen=True)
class TrainerSettings(FromOptions):
    """What the Trainer and its callbacks read: hardware, loop lengths, checkpoints, early stopping, monitors."""

    mode: str
    accelerator: str
    devices: int | str | list[int]
    strategy: str
    num_nodes: int
    ddp_timeout: int
    sync_batchnorm: bool
    precision: str
    max_epochs: int
    min_epochs: int
    fast_dev_run: bool
    limit_train_batches: int | float
    limit_val_batches: int | float
    limit_test_batches: int | float
    val_check_interval: int | float
    gradient_clip_val: float
    accumulate_grad_batches: int
    log_every_n_steps: int
    deterministic: bool
    profiler: str | None
    device_stats: bool
    summary_depth: int
    keep_freed_memory: bool
    monitor: str
    monitor_mode: str
    save_top_k: int
    patience: int
    logger: list[str]
    mlflow_uri: str | None
    mlflow_checkpoints: bool
    confusion_images: str


@dataclass(frozen=True)
class RunSettings(FromOptions):
    """Which mode runs, on which checkpoint, with which seed, and where its folder goes."""

    mode: str
    ckpt: str | None
    seed: int
    log_dir: str


@dataclass(frozen=True)
class Settings:
    """Every group of settings of one run."""

    data: DataSettings
    task: TaskSettings
    optimization: OptimizationSettings
    trainer: TrainerSettings
    run: RunSettings

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "Settings":
        """Build each group from the parsed options."""
        return cls(DataSettings.from_options(options), TaskSettings.from_options(options),
                   OptimizationSettings.from_options(options), TrainerSettings.from_options(options),
                   RunSettings.from_options(options))
