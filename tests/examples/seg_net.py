"""Segmentation: class scores per pixel [B, C, H, W] against class indices [B, H, W]."""

from torch import nn


class SegNet(nn.Module):
    """Two convolutions: one score per class and pixel."""

    def __init__(self, num_classes: int = 3, width: int = 8) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, num_classes, 1))

    def forward(self, x):
        return self.layers(x)
