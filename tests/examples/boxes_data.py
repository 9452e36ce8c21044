"""Detection-style targets: each image holds one to three boxes, so the targets are a list of box tensors."""

import torch
from torch.utils.data import Dataset


class BoxesData(Dataset):
    """Blank images with one to three filled rectangles; the target is their boxes [N, 4] as fractions."""

    def __init__(self, num_samples: int = 128, size: int = 16, data_seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(data_seed)
        self.images, self.boxes = [], []
        for _ in range(num_samples):
            image, boxes = torch.zeros(1, size, size), []
            for _ in range(int(torch.randint(1, 4, (), generator=generator))):
                x0, y0 = torch.randint(0, size - 4, (2,), generator=generator).tolist()
                x1, y1 = x0 + 4, y0 + 4
                image[0, y0:y1, x0:x1] = 1.0
                boxes.append(torch.tensor([x0, y0, x1, y1]) / size)
            self.images.append(image)
            self.boxes.append(torch.stack(boxes))

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], self.boxes[index]

    @staticmethod
    def collate_fn(items):
        images, boxes = zip(*items, strict=True)
        return torch.stack(images), list(boxes)
