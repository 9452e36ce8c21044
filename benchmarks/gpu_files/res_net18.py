"""torchvision's ResNet-18 with random weights, fed uint8 images that it scales to [0, 1] on the device."""

import torchvision
from torch import nn


class ResNet18(nn.Module):
    """ResNet-18 on uint8 RGB images: a quarter of the bytes float images would copy to the GPU."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.resnet = torchvision.models.resnet18(num_classes=num_classes)

    def forward(self, x):
        return self.resnet(x.float() / 255)
