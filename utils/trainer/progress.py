"""The console during a run: the progress bar, and one line per val set after each validation, which the bar alone
would erase."""

import contextlib
from typing import Any

from utils.lightning_package import Callback, LightningModule, TQDMProgressBar, Trainer
from utils.shared_names import VAL, split_metric_key

# The bars an evaluation draws below the train bar first: closing one moves the cursor up to the bar above it.
BARS = ("val_progress_bar", "test_progress_bar", "predict_progress_bar", "train_progress_bar")


def validation_lines(metrics: dict[str, Any], epoch: int, step: int) -> list[str]:
    """`epoch E step S  val/<label>  loss ...  accuracy ...`, one line per val set, the loss first."""
    per_label: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        parts = split_metric_key(key)
        if parts and parts.stage == VAL and parts.label is not None:
            per_label.setdefault(parts.label, {})[parts.name] = float(value)
    width = max((len(label) for label in per_label), default=0) + 4
    lines = []
    for label, values in per_label.items():
        names = sorted(values, key=lambda name: (name != "loss", name))
        cells = "  ".join(f"{name} {values[name]:.4f}" for name in names)
        lines.append(f"epoch {epoch} step {step}  {VAL + '/' + label:<{width}}  {cells}")
    return lines


class StepValuesBar(TQDMProgressBar):
    """Lightning's progress bar, also showing the step values the module writes to the loggers itself (the loss).

    A value logged with `self.log` is kept among Lightning's results, which it walks at every later step of the epoch
    (and with `prog_bar=True` reads on the host there, a GPU waiting for the CPU); these are handed to the bar at the
    logged steps alone, and shown in the place Lightning's would have them.
    """

    def __init__(self, refresh_rate: int = 1) -> None:
        super().__init__(refresh_rate)
        self.shown: dict[str, float] = {}

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        """Close the bars a stopped run leaves open, so the error or stop line that follows starts a line of its
        own."""
        for bar in BARS:
            with contextlib.suppress(TypeError):  # a bar this run never made
                getattr(self, bar).close()

    def show(self, values: dict[str, float]) -> None:
        """Show `values` until newer ones come."""
        self.shown.update(values)

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, Any]:
        """Lightning's items, the shown step values right after the standard ones (the run's version)."""
        metrics = super().get_metrics(trainer, pl_module)
        shown = {key: value for key, value in self.shown.items() if key not in metrics}
        if not shown:
            return metrics
        logged_on_bar = trainer.progress_bar_metrics
        standard = {key: value for key, value in metrics.items() if key not in logged_on_bar}
        return {**standard, **shown, **metrics}


def write_step_values(trainer: Trainer, values: dict[str, float], step: int) -> None:
    """Write the values of optimizer step `step` to every logger, with the epoch as Lightning adds it, and show them on
    the bar: what `self.log` does at a logged step, without Lightning walking them again at every later step."""
    for logger in trainer.loggers:
        logger.log_metrics({**values, "epoch": trainer.current_epoch}, step=step)
        logger.save()
    if isinstance(trainer.progress_bar_callback, StepValuesBar):
        trainer.progress_bar_callback.show(values)


class ValidationLines(Callback):
    """Prints each val set's metrics on a line of its own after every validation, above the progress bar."""

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Print the lines once the validation's metrics are in (not for the sanity check)."""
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        bar = trainer.progress_bar_callback
        for line in validation_lines(trainer.callback_metrics, trainer.current_epoch, trainer.global_step):
            if isinstance(bar, TQDMProgressBar):
                bar.print(line)
            else:
                print(line)
