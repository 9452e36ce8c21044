"""A training loss that turns NaN or infinite, caught without reading the loss on the host at every step."""

from collections.abc import Mapping
from typing import Any

import torch

from utils.errors import TrainingDiverged
from utils.lightning_package import Callback, LightningModule, Trainer

NONE_YET = torch.iinfo(torch.int64).max  # the first bad step while every loss so far was finite


def is_logged_step(trainer: Trainer, step: int) -> bool:
    """Whether optimizer step `step` is one the loggers write (every step of a dry run)."""
    every = trainer.log_every_n_steps
    return bool(trainer.fast_dev_run or (every and (step + 1) % every == 0))


class LossWatch:
    """Keeps on the loss's device the first step whose training loss was not finite, and that loss.

    `update` adds a few small device operations to a step and never waits for the device; `check` reads the flag on
    the host, so it runs where the host reads anyway: at logged steps, before a validation, at an epoch's end and
    before a checkpoint is written.
    """

    def __init__(self, hint: str = "lower --lr, set --gradient_clip_val, or check the data") -> None:
        self.hint = hint
        self.first_step: torch.Tensor | None = None
        self.first_value: torch.Tensor | None = None

    def update(self, loss: torch.Tensor, step: int) -> None:
        """Note the loss of optimizer step `step`; the first non-finite one is kept with its step."""
        loss = loss.detach()
        if self.first_step is None or self.first_value is None:
            self.first_step = torch.full((), NONE_YET, dtype=torch.int64, device=loss.device)
            self.first_value = torch.zeros((), dtype=torch.float32, device=loss.device)
        # Five small operations: the earlier of the kept step and this one when this loss is not finite, and the
        # loss when that changed the kept step.
        first_step = torch.where(torch.isfinite(loss), self.first_step, self.first_step.clamp(max=step))
        self.first_value = torch.where(first_step == self.first_step, self.first_value, loss)
        self.first_step = first_step

    def check(self, trainer: Trainer, epoch: int, every_process: bool = True) -> None:
        """Stop the run when a step so far had a non-finite loss (on any process, when `every_process`)."""
        if self.first_step is None or self.first_value is None:
            return
        own_step = self.first_step
        # The earliest over the processes, so all of them stop together at the same point.
        first = trainer.strategy.reduce(own_step.clone(), reduce_op="min") if every_process else own_step
        step = int(first.item())
        if step == NONE_YET:
            return
        became = f"became {self.first_value.item()}" if int(own_step.item()) == step else "stopped being finite"
        raise TrainingDiverged(
            f"the training loss {became} at epoch {epoch}, step {step}: {self.hint}; checkpoints saved before that "
            f"step are kept and no later one was written"
        )


class OwnModuleLossWatch(Callback):
    """The same watch for an own LightningModule: reads the loss its `training_step` returns, checks where MInterface
    does (a module under manual optimization that returns nothing is not watched)."""

    def __init__(self) -> None:
        self.watch = LossWatch("lower the module's learning rate, set --gradient_clip_val, or check the data")
        self.step = 0

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        """Note the optimizer step this batch trains."""
        self.step = trainer.global_step

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        """Keep the step's loss on its device; read the flag at the steps the loggers write."""
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if isinstance(loss, torch.Tensor):
            self.watch.update(loss, self.step)
        if is_logged_step(trainer, self.step):
            self.watch.check(trainer, trainer.current_epoch)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Stop a diverged run before its validation (and the checkpoint that follows it)."""
        self.watch.check(trainer, trainer.current_epoch)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Stop a diverged run at its epoch's end."""
        self.watch.check(trainer, trainer.current_epoch)

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        """Write no checkpoint of a diverged run (checked in this process alone)."""
        self.watch.check(trainer, trainer.current_epoch, every_process=False)
