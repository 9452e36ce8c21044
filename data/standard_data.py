"""The smallest runnable dataset, made in memory: copy this file to start your own."""

import torch
from torch.utils.data import Dataset


class StandardData(Dataset):
    """Noisy points around one random centre per class: learnable in seconds, no files needed."""

    # Each keyword parameter becomes a command-line option: `--num_samples 5000` reaches StandardData.
    def __init__(self, num_samples: int = 2000, num_features: int = 16, num_classes: int = 10,
                 noise: float = 1.0, data_seed: int = 0) -> None:
        if num_samples < 1:
            raise ValueError(f"num_samples must be at least 1, got {num_samples}")
        generator = torch.Generator().manual_seed(data_seed)
        centres = 2.0 * torch.randn(num_classes, num_features, generator=generator)
        self.targets = torch.randint(num_classes, (num_samples,), generator=generator)
        self.features = centres[self.targets] + noise * torch.randn(num_samples, num_features, generator=generator)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return self.features[index], self.targets[index]

    # Optional, for speed: with __getitems__ the loader asks for a whole batch of indices at once, and
    # the dataset answers with the batch itself (inputs, targets) in one tensor indexing, instead of
    # building `batch_size` single items and stacking them. Delete it and everything still works.
    def __getitems__(self, indices):
        indices = torch.as_tensor(indices)
        return self.features[indices], self.targets[indices]
