"""What a template checkpoint carries beside Lightning's own state, for any LightningModule it trains."""

from typing import Any

from utils.lightning_package import Callback, LightningModule, Trainer
from utils.runs.checkpoints import CHECKPOINT_FORMAT
from utils.runs.random_state import capture_random_state, restore_random_state
from utils.shared_names import VAL, metric_stage

PLAIN_TYPES = (bool, int, float, str, type(None))


def train_position(trainer: Trainer) -> tuple[int, int]:
    """The epoch a checkpoint taken now resumes in, and the batches of it already trained (0 at an epoch's end)."""
    epoch, done = trainer.current_epoch, trainer.fit_loop.epoch_loop.batch_progress.current.completed
    return (epoch + 1, 0) if done >= trainer.num_training_batches else (epoch, done)


def is_plain(value: Any) -> bool:
    """Whether `value` is made of numbers, strings, None, lists, tuples and string-keyed dicts only."""
    if isinstance(value, (list, tuple)):
        return all(is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and is_plain(item) for key, item in value.items())
    return type(value) in PLAIN_TYPES


def plain_values(hyperparameters: Any) -> dict[str, Any]:
    """The hyperparameters whose values are plain: what torch loads without running code from the file."""
    return {key: value for key, value in dict(hyperparameters).items() if is_plain(value)}


class RunState(Callback):
    """Stores the net's name and arguments, the val metrics of every validation and the global random generators.

    A resumed run draws the random numbers an uninterrupted one would, and a run reports the val metrics of its best
    checkpoint's step.
    """

    def __init__(self, model_name: str, model_kwargs: dict[str, Any], injected: dict[str, Any] | None = None) -> None:
        self.net = {"model_name": model_name, "model_kwargs": dict(model_kwargs), "injected": dict(injected or {})}
        self.validation_history: dict[int, dict[str, float]] = {}
        self.resumed_random_state: dict[str, Any] | None = None

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Keep this validation's val metrics under its global step."""
        if not trainer.sanity_checking:
            self.validation_history[trainer.global_step] = {
                key: float(value) for key, value in trainer.callback_metrics.items() if metric_stage(key) == VAL}

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        """Add the net, the history, the random state and the format to the checkpoint, as plain values.

        Hyperparameters that are objects (a net, an optimizer partial that `save_hyperparameters` kept) are left out:
        loading rebuilds them from `template_net`, so every checkpoint loads with torch's `weights_only=True`.
        """
        if "hyper_parameters" in checkpoint:
            checkpoint["hyper_parameters"] = plain_values(checkpoint["hyper_parameters"])
        checkpoint["template_net"] = self.net
        checkpoint["template_format"] = CHECKPOINT_FORMAT
        checkpoint["validation_history"] = dict(self.validation_history)
        checkpoint["random_state"] = capture_random_state()

    def on_load_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        """Restore the history; keep the random state until training starts (restoring the loops draws nothing)."""
        self.validation_history = dict(checkpoint.get("validation_history", {}))
        self.resumed_random_state = checkpoint.get("random_state")

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Put back the random state of the checkpoint a run resumes from."""
        if self.resumed_random_state is not None:
            restore_random_state(self.resumed_random_state)
            self.resumed_random_state = None
