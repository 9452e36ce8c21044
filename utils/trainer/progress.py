"""What the console keeps after each validation: one line per val set, which the progress bar alone would erase."""

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
