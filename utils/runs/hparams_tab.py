"""What TensorBoard's hparams tab lists: each run's resolved options beside the last value of each of its metrics.

Only the session's start (its options) is written, never an experiment summary: TensorBoard then gathers the
options of every run under `--logdir` and takes each run's scalars (`val/<label>/...`, `test/<label>/...`) as its
metric columns, so runs with other options or datasets still sit side by side.
"""

from pathlib import Path
from typing import Any

from tensorboard.plugins.hparams import summary_v2
from torch.utils.tensorboard import SummaryWriter

Plain = bool | int | float | str


def plain_value(value: Any) -> Plain:
    """A config.yaml value as the tab shows it: numbers, booleans and text; lists joined, None as `none`."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value)
    return "none" if value is None else str(value)


def plain_options(config: dict[str, Any]) -> dict[str, Plain]:
    """Every resolved option of a run, by its config.yaml name."""
    return {name: plain_value(value) for name, value in config.items()}


def session_name(run_dir: Path) -> str:
    """The run's name in the tab: `<experiment>/<run folder>`, so two runs with equal options stay two rows."""
    return "/".join(run_dir.resolve().parts[-2:])


def record_options(run_dir: Path, config: dict[str, Any]) -> None:
    """Write the run's options into an event file of its own in the run folder."""
    with SummaryWriter(log_dir=str(run_dir)) as writer:
        writer.file_writer.add_summary(summary_v2.hparams_pb(plain_options(config), trial_id=session_name(run_dir)))


def record_final_metrics(run_dir: Path, metrics: dict[str, float]) -> None:
    """Write metrics a run computes outside Lightning (a cross-validation's means over folds) as its scalars."""
    with SummaryWriter(log_dir=str(run_dir)) as writer:
        for tag, value in metrics.items():
            writer.add_scalar(tag, value, global_step=0)
