"""A training loss that turns NaN or infinite, caught without reading the loss on the host at every step."""

from collections.abc import Mapping
from typing import Any

import torch

from utils.errors import TrainingDiverged
from utils.lightning_package import Callback, LightningModule, Trainer

NONE_YET = torch.iinfo(torch.int64).max  # the first bad step while every loss so far was finite
STACKED_EVERY = 64  # losses kept as one tensor: a single device operation for that many steps


def is_logged_step(trainer: Trainer, step: int) -> bool:
    """Whether optimizer step `step` is one the loggers write (every step of a dry run)."""
    every = trainer.log_every_n_steps
    return bool(trainer.fast_dev_run or (every and (step + 1) % every == 0))


class LossWatch:
    """Keeps the training losses on their device until a check looks for the first that was not finite.

    `update` keeps a reference to the step's loss (and every 64 steps stacks them, one small device operation) and
    never waits for the device; `check` reads them on the host, so it runs where the host reads anyway: at logged
    steps, before a validation, at an epoch's end and before a checkpoint is written.
    """

    def __init__(self, hint: str = "lower --lr, set --gradient_clip_val, or check the data") -> None:
        self.hint = hint
        self.device: torch.device | None = None  # set by the first loss: from then on every check compares processes
        self.steps: list[int] = []
        self.losses: list[torch.Tensor] = []
        self.stacked: list[tuple[list[int], torch.Tensor]] = []

    def update(self, loss: torch.Tensor, step: int) -> None:
        """Note the loss of optimizer step `step`, to be looked at by the next check."""
        self.device = loss.device
        self.steps.append(step)
        self.losses.append(loss.detach())
        if len(self.losses) == STACKED_EVERY:
            self.stack()

    def stack(self) -> None:
        """Keep the losses noted since the last stacking as one tensor."""
        if self.losses:
            self.stacked.append((self.steps, torch.stack(self.losses).float()))
            self.steps, self.losses = [], []

    def first_bad(self) -> tuple[int, float]:
        """The first step since the last check whose loss was not finite (NONE_YET when none was), and that loss."""
        self.stack()
        stacked, self.stacked = self.stacked, []
        if not stacked:
            return NONE_YET, 0.0
        losses = torch.cat([values for _, values in stacked])
        bad = ~torch.isfinite(losses)
        if not bool(bad.any()):
            return NONE_YET, 0.0
        index = int(bad.nonzero()[0])
        return [step for steps, _ in stacked for step in steps][index], float(losses[index])

    def check(self, trainer: Trainer, epoch: int, every_process: bool = True) -> None:
        """Stop the run when a step so far had a non-finite loss (on any process, when `every_process`)."""
        if self.device is None:
            return
        own_step, value = self.first_bad()
        # The earliest over the processes, so all of them stop together at the same point.
        own = torch.tensor(own_step, dtype=torch.int64, device=self.device)
        step = int(trainer.strategy.reduce(own, reduce_op="min")) if every_process else own_step
        if step == NONE_YET:
            return
        became = f"became {value}" if own_step == step else "stopped being finite"
        raise TrainingDiverged(
            f"the training loss {became} at epoch {epoch}, step {step}: {self.hint}; checkpoints saved before that "
            f"step are kept and no later one was written"
        )


class OwnModuleLossWatch(Callback):
    """The same watch for an own LightningModule: reads the loss its `training_step` returns, checks where MInterface
    does (a module under manual optimization that returns nothing is not watched)."""

    reduces_across_processes = True  # at an epoch's end every process must reduce before rank 0's bar syncs metrics

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
