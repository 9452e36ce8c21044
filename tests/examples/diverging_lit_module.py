"""A LightningModule whose training loss is NaN at one chosen step, counted from 0."""

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn


class DivergingLitModule(pl.LightningModule):
    """A linear classifier; the loss its training_step returns at `bad_step` is NaN."""

    def __init__(self, num_features: int = 16, num_classes: int = 10, bad_step: int = -1) -> None:
        super().__init__()
        self.layer = nn.Linear(num_features, num_classes)
        self.bad_step = bad_step

    def training_step(self, batch, batch_idx):
        inputs, targets = batch
        loss = F.cross_entropy(self.layer(inputs), targets)
        return loss * float("nan") if self.global_step == self.bad_step else loss

    def validation_step(self, batch, batch_idx):
        inputs, targets = batch
        self.log("val/loss", F.cross_entropy(self.layer(inputs), targets))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)
