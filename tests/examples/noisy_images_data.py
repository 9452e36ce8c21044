"""Pairs of (noisy image, clean image), values in [0, 1]."""

import torch
from torch.utils.data import Dataset


class NoisyImagesData(Dataset):
    """Smooth 16 x 16 images, and the same with Gaussian noise as the input."""

    def __init__(self, num_samples: int = 64, noise: float = 0.2, data_seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(data_seed)
        ramps = torch.linspace(0, 1, 16)
        slopes = torch.rand(num_samples, 1, 1, 1, generator=generator)
        self.clean = (slopes * ramps[None, None, :, None] + (1 - slopes) * ramps[None, None, None, :]).clamp(0, 1)
        self.noisy = self.clean + noise * torch.randn(self.clean.shape, generator=generator)

    def __len__(self):
        return len(self.clean)

    def __getitem__(self, index):
        return self.noisy[index], self.clean[index]
