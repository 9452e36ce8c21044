"""Every checkpoint carries its run's resolved configuration: the defaults of the modes that evaluate it."""

from typing import Any

from utils.lightning_package import Callback, LightningModule, Trainer
from utils.stored_runs.checkpoint_files import STORED_CONFIG


class StoredConfig(Callback):
    """Adds the run's config.yaml contents, plain values only, to each checkpoint it saves."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        """Store the configuration, so a checkpoint moved out of its run folder still knows its net and datasets."""
        checkpoint[STORED_CONFIG] = self.config
