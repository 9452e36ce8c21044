"""Freezing: the --freeze parameters keep their values until --unfreeze_at_epoch, and the learning rate of every
parameter group is logged."""

from typing import Any

from utils.config.settings import OptimizationSettings
from utils.errors import UserError
from utils.lightning_package import Callback, LearningRateMonitor, LightningModule, Trainer, TrainerFn
from utils.parameter_groups import frozen_names


class FreezeUntilEpoch(Callback):
    """Sets requires_grad False on the frozen parameters before the optimizer is built, and True again from
    `unfreeze_at_epoch` on.

    Not Lightning's BaseFinetuning: that adds a thawed module's parameters to the optimizer as a new group, which
    would change the groups a scheduler and the learning-rate curves follow. Here the frozen parameters sit in their
    groups from the start (torch skips a parameter without a gradient), and the thaw depends on the epoch alone, so a
    run resumed after it trains them too.
    """

    def __init__(self, names: set[str], unfreeze_at_epoch: int | None) -> None:
        self.names = names  # the net's own parameter names
        self.unfreeze_at_epoch = unfreeze_at_epoch

    def set_trainable(self, pl_module: LightningModule, trainable: bool) -> None:
        """Set requires_grad of the frozen parameters."""
        for name, parameter in pl_module.net.named_parameters():
            if name in self.names:
                parameter.requires_grad_(trainable)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Freeze before the optimizer is built (and before the model summary counts what trains)."""
        # DDP and FSDP synchronise only the parameters that train when they wrap the net: thawed ones would drift.
        if self.unfreeze_at_epoch is not None and trainer.world_size > 1:
            raise UserError(f"--unfreeze_at_epoch: the {trainer.world_size} processes of this run would each train "
                            f"the thawed parameters on their own (DDP keeps in step only those that train from the "
                            f"start): train on one device, or drop --unfreeze_at_epoch to keep them frozen")
        self.set_trainable(pl_module, False)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Thaw a run resumed in the middle of an epoch from `unfreeze_at_epoch` on (that epoch does not start)."""
        self.on_train_epoch_start(trainer, pl_module)

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Thaw from `unfreeze_at_epoch` on, a resumed run included."""
        if self.unfreeze_at_epoch is not None and trainer.current_epoch >= self.unfreeze_at_epoch:
            self.set_trainable(pl_module, True)


def group_callbacks(pl_module: LightningModule, settings: OptimizationSettings, groups: int) -> list[Any]:
    """For a fit: the freezing callback when --freeze is given, and a learning-rate curve per group when there are
    several and no scheduler or warm-up has the Trainer log them already."""
    callbacks: list[Any] = []
    if pl_module.trainer.state.fn != TrainerFn.FITTING:
        return callbacks
    if settings.freeze:
        callbacks.append(FreezeUntilEpoch(frozen_names(pl_module.net, settings), settings.unfreeze_at_epoch))
    if groups > 1 and not settings.changes_learning_rate:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    return callbacks
