"""Lightning's usual style: keys named val_loss, val_acc, test_loss, test_acc, and a plateau schedule on val_loss."""

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn


class PlainNamedModule(pl.LightningModule):
    """Logs as Lightning's documentation does; `accuracy_only` logs val_acc and no val loss."""

    def __init__(self, num_features: int = 16, num_classes: int = 10, accuracy_only: bool = False) -> None:
        super().__init__()
        self.accuracy_only = accuracy_only
        self.net = nn.Linear(num_features, num_classes)

    def training_step(self, batch, batch_idx):
        inputs, targets = batch
        loss = F.cross_entropy(self.net(inputs), targets)
        self.log("train_loss", loss)
        return loss

    def evaluate(self, batch, stage):
        inputs, targets = batch
        logits = self.net(inputs)
        if not self.accuracy_only:
            self.log(f"{stage}_loss", F.cross_entropy(logits, targets))
        self.log(f"{stage}_acc", (logits.argmax(dim=1) == targets).float().mean())

    def validation_step(self, batch, batch_idx):
        self.evaluate(batch, "val")

    def test_step(self, batch, batch_idx):
        self.evaluate(batch, "test")

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        if self.accuracy_only:
            return optimizer
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss"}}
