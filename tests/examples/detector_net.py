"""A torchvision detector as a LightningModule of its own: in training its forward takes the targets and returns
its losses, which a plain net of the template is never given."""

import pytorch_lightning as pl
import torch
from torchmetrics.detection import IntersectionOverUnion
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn


class DetectorNet(pl.LightningModule):
    """Faster R-CNN (MobileNet-v3, 320 px) from scratch; val/iou is the mean IoU of its boxes with the true ones."""

    def __init__(self, num_classes: int = 3, lr: float = 0.01) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, num_classes=num_classes)
        self.val_iou = IntersectionOverUnion()

    def forward(self, images):
        return self.net(list(images))  # in eval mode: one dict of boxes, labels and scores per image

    def training_step(self, batch, batch_idx):
        images, targets = batch
        loss = sum(self.net(list(images), list(targets)).values())
        self.log("train/loss", loss, batch_size=len(images))
        return loss

    def validation_step(self, batch, batch_idx):
        images, targets = batch
        self.val_iou.update(self(images), list(targets))

    def predict_step(self, batch, batch_idx):
        return self(batch[0])  # --mode predict: one dict of boxes, labels and scores per image

    def on_validation_epoch_end(self):
        self.log("val/iou", self.val_iou.compute()["iou"])  # torchmetrics gives a dict of one entry
        self.val_iou.reset()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)
