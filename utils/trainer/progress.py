"""The console during a run: the progress bar, and one line per val set after each validation, which the bar alone
would erase."""

from typing import Any

from utils.lightning_package import Callback, LightningModule, TQDMProgressBar, Trainer
from utils.shared_names import VAL, split_metric_key


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
    """Lightning's progress bar, also showing step values the module logs off the bar, read only when it refreshes.

    A value logged with `prog_bar=True` is read on the host at every later step of its epoch, a GPU waiting each time
    for the CPU; shown from here, it is read at the bar's refreshes alone, in the place Lightning's would have it.
    """

    def __init__(self, refresh_rate: int = 1) -> None:
        super().__init__(refresh_rate)
        self.shown: list[str] = []

    def show(self, key: str) -> None:
        """Show the value logged under `key` (a step value the module logs with `prog_bar=False`)."""
        if key not in self.shown:
            self.shown.append(key)

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, Any]:
        """Lightning's items, the shown step values right after the standard ones (the run's version)."""
        metrics = super().get_metrics(trainer, pl_module)
        logged = trainer.callback_metrics
        shown = {key: float(logged[key]) for key in self.shown if key in logged and key not in metrics}
        if not shown:
            return metrics
        logged_on_bar = trainer.progress_bar_metrics
        standard = {key: value for key, value in metrics.items() if key not in logged_on_bar}
        return {**standard, **shown, **metrics}


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
