"""Multi-label: each item carries several 0/1 labels at once."""

import torch
from torch.utils.data import Dataset


class TagsData(Dataset):
    """Feature vectors whose label k is 1 when feature k is positive."""

    def __init__(self, num_samples: int = 256, num_features: int = 16, num_classes: int = 4,
                 data_seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(data_seed)
        self.features = torch.randn(num_samples, num_features, generator=generator)
        self.labels = (self.features[:, :num_classes] > 0).long()

    def __len__(self):
        return len(self.features)

    def __getitem__(self, index):
        return self.features[index], self.labels[index]
