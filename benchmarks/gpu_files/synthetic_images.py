"""Random 224 x 224 RGB images and labels, made once in memory and served a whole batch at a time."""

import torch
from torch.utils.data import Dataset


class SyntheticImages(Dataset):
    """`num_samples` random uint8 images with random labels: a data path that leaves the GPU the work."""

    def __init__(self, num_samples: int = 1024, image_size: int = 224, num_classes: int = 1000) -> None:
        generator = torch.Generator().manual_seed(0)
        self.images = torch.randint(0, 256, (num_samples, 3, image_size, image_size), dtype=torch.uint8,
                                    generator=generator)
        self.labels = torch.randint(0, num_classes, (num_samples,), generator=generator)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        chosen = torch.tensor(indices)
        return self.images[chosen], self.labels[chosen]
