"""Images of one to three bright squares on noise; each target a dict of its boxes and their labels."""

import torch
from torch.utils.data import Dataset


class ShapesData(Dataset):
    """Items are (image [3, 64, 64], {"boxes": [N, 4], "labels": [N]}), as torchvision's detectors take them."""

    def __init__(self, num_samples: int = 16, split: str = "train") -> None:
        generator = torch.Generator().manual_seed({"train": 0, "val": 1, "test": 2}[split])
        self.items = []
        for _ in range(num_samples):
            image = torch.rand(3, 64, 64, generator=generator) * 0.2
            count = int(torch.randint(1, 4, (1,), generator=generator))
            corners = torch.randint(0, 48, (count, 2), generator=generator)
            boxes = torch.cat([corners, corners + 16], dim=1).float()
            for x0, y0, x1, y1 in boxes.int().tolist():
                image[:, y0:y1, x0:x1] = 1.0
            labels = torch.randint(1, 3, (count,), generator=generator)
            self.items.append((image, {"boxes": boxes, "labels": labels}))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]

    @staticmethod
    def collate_fn(items):
        return tuple(zip(*items, strict=True))  # a tuple of images and a tuple of target dicts
