"""A module written only to train: no validation_step, no test_step."""

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn


class TrainOnlyModule(pl.LightningModule):
    """Fits a linear classifier and logs its training loss, nothing else."""

    def __init__(self, num_features: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Linear(num_features, num_classes)

    def training_step(self, batch, batch_idx):
        inputs, targets = batch
        loss = F.cross_entropy(self.net(inputs), targets)
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)
