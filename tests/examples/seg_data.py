"""Images whose pixels belong to the class of their brightness band."""

import torch
from torch.utils.data import Dataset


class SegData(Dataset):
    """Greyscale images [1, H, W]; each pixel's class is the band its brightness falls in."""

    def __init__(self, num_samples: int = 64, size: int = 8, num_classes: int = 3, data_seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(data_seed)
        self.images = num_classes * torch.rand(num_samples, 1, size, size, generator=generator)
        self.masks = self.images[:, 0].floor().long().clamp(max=num_classes - 1)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], self.masks[index]
