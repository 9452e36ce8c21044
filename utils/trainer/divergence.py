"""A training loss that turns NaN or infinite, caught without reading the loss on the host at every step."""

import torch

from utils.errors import TrainingDiverged
from utils.lightning_package import Trainer

NONE_YET = torch.iinfo(torch.int64).max  # the first bad step while every loss so far was finite


class LossWatch:
    """Keeps on the loss's device the first step whose training loss was not finite, and that loss.

    `update` adds a few small device operations to a step and never waits for the device; `check` reads the flag on
    the host, so it runs where the host reads anyway: at logged steps, before a validation, at an epoch's end and
    before a checkpoint is written.
    """

    def __init__(self) -> None:
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
            f"the training loss {became} at epoch {epoch}, step {step}: lower --lr, set --gradient_clip_val, or "
            f"check the data; checkpoints saved before that step are kept and no later one was written"
        )
