"""The model summary at the start of a fit: the net's layers, without the torchmetrics objects kept beside them."""

from torch import nn
from torchmetrics import Metric, MetricCollection

from utils.lightning_package import (
    Callback,
    LightningModule,
    ModelSummary,
    Trainer,
    get_human_readable_count,
    summarize,
)


def holds_only_metrics(module: nn.Module) -> bool:
    """Whether `module` is a metric, or a container whose every part is one (the template's per-set metrics)."""
    if isinstance(module, (Metric, MetricCollection)):
        return True
    children = list(module.children())
    return bool(children) and all(holds_only_metrics(child) for child in children)


def layers_beside_metrics(module: nn.Module) -> list[str]:
    """The names of `module`'s submodules, less every metric and container of metrics and what lies inside them."""
    left_out: list[str] = []
    kept = []
    for name, submodule in list(module.named_modules())[1:]:
        if any(name.startswith(f"{outer}.") for outer in left_out):
            continue
        if holds_only_metrics(submodule):
            left_out.append(name)
        else:
            kept.append(name)
    return kept


class NetSummary(Callback):
    """Lightning's model summary table, `max_depth` levels deep, listing layers but no metrics."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Print the table once, from the first process; a depth of 0 prints none."""
        if not self.max_depth or not trainer.is_global_zero:
            return
        summary = summarize(pl_module, max_depth=self.max_depth)
        layers = set(layers_beside_metrics(pl_module))
        rows = [index for index, name in enumerate(summary.layer_names) if name in layers]
        columns = [
            (" ", [str(number) for number in range(len(rows))]),
            ("Name", [summary.layer_names[index] for index in rows]),
            ("Type", [summary.layer_types[index] for index in rows]),
            ("Params", [get_human_readable_count(summary.param_nums[index]) for index in rows]),
            ("Mode", ["train" if summary.training_modes[index] else "eval" for index in rows]),
        ]
        modes = [pl_module.get_submodule(name).training for name in layers]
        ModelSummary.summarize(columns, summary.total_parameters, summary.trainable_parameters, summary.model_size,
                               {"train": modes.count(True), "eval": modes.count(False)}, summary.total_flops)
