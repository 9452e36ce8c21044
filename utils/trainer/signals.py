"""A run stopped by a signal: SIGTERM saves a resumable last.ckpt, and either signal ends with a non-zero exit."""

import signal
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from utils.errors import RunStopped, main_command
from utils.lightning_package import Callback, LightningModule, SIGTERMException, Trainer
from utils.shared_names import last_checkpoint
from utils.trainer.run_state import train_position

Result = TypeVar("Result")


class CheckpointOnSigterm(Callback):
    """Saves `last.ckpt` when SIGTERM stops training, so a scheduler's preemption loses no finished step."""

    def __init__(self, run_dir: Path) -> None:
        self.last = last_checkpoint(run_dir)

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        """Save on SIGTERM only: Lightning raises it between batches, where the state is whole (a Ctrl-C is not),
        unless gradients of --accumulate_grad_batches wait for their optimizer step (a checkpoint holds none)."""
        if isinstance(exception, SIGTERMException) and trainer.training and not accumulating(trainer):
            trainer.save_checkpoint(self.last, weights_only=False)  # the whole state, for --resume


def accumulating(trainer: Trainer) -> bool:
    """Whether the batches trained so far this epoch hold gradients that no optimizer step has used yet."""
    return train_position(trainer)[1] % trainer.accumulate_grad_batches != 0


def resume_hint(run_dir: Path) -> str:
    """How to continue a stopped run from its folder, or that it saved nothing to continue from."""
    if last_checkpoint(run_dir).is_file():
        return f"resume with: {main_command()} --resume {run_dir}"
    return "it saved no checkpoint yet: start it again"


def stopped_by_signal(trainer: Trainer, run_dir: Path, mode: Callable[[], Result]) -> Result:
    """Run `mode`, turning the exit Lightning makes on SIGTERM or Ctrl-C into RunStopped with its exit code."""
    try:
        return mode()
    except SystemExit as stop:  # SIGTERMException is one; Lightning ends a Ctrl-C with sys.exit(1)
        if not trainer.interrupted:
            raise
        number = signal.SIGTERM if isinstance(stop, SIGTERMException) else signal.SIGINT
        message = f"stopped by {number.name}; {resume_hint(run_dir)}" if trainer.is_global_zero else ""
        raise RunStopped(message, 128 + number) from None
