"""The MNIST example net."""

import torch
from torch import nn


class ExampleNet(nn.Module):
    """A small CNN for 28x28 greyscale digits: two conv blocks and a two-layer head, trained on noisy digits too."""

    def __init__(self, num_classes: int = 10, channels: int = 32, hidden: int = 128, dropout: float = 0.25,
                 input_noise: float = 1.0) -> None:
        super().__init__()
        self.input_noise = input_noise
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(channels, 2 * channels, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14 -> 7
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(2 * channels * 7 * 7, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        # Convolutions run faster on weights stored channels-last, on CPUs and on tensor cores alike.
        self.to(memory_format=torch.channels_last)

    def forward(self, x):
        if self.training and self.input_noise > 0:
            # Gaussian noise of a random std per image, up to input_noise, as dropout only while training: the net
            # learns clean and noisy digits alike, so the noisy val set and the best checkpoint improve together.
            std = self.input_noise * torch.rand(len(x), 1, 1, 1, device=x.device, dtype=x.dtype)
            x = x + std * torch.randn_like(x)
        return self.head(self.features(x))
