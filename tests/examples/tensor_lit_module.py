"""A classifier that logs plain tensors, takes `dataloader_idx` in its validation_step and defines no test_step."""

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn


class TensorLitModule(pl.LightningModule):
    """Logs its accuracy before its loss, as plain tensors; it only trains and validates."""

    def __init__(self, num_features: int = 16, num_classes: int = 10, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(num_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def training_step(self, batch, batch_idx):
        inputs, targets = batch
        loss = F.cross_entropy(self.net(inputs), targets)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        inputs, targets = batch
        logits = self.net(inputs)
        self.log("val/acc", (logits.argmax(dim=1) == targets).float().mean())
        self.log("val/loss", F.cross_entropy(logits, targets))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)
