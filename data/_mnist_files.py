"""Read the MNIST IDX .gz files shipped in example_Minist_data/ into uint8 tensors (plain PyTorch, no framework)."""

import gzip
from functools import lru_cache
from pathlib import Path

import torch
from torch.utils.data import Dataset

FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
MEAN, STD = 0.1307, 0.3081  # MNIST train pixel statistics


def _read_idx(path: Path) -> torch.Tensor:
    with gzip.open(path, "rb") as file:
        data = file.read()
    dimensions = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dimensions)]
    return torch.frombuffer(bytearray(data[4 + 4 * dimensions:]), dtype=torch.uint8).reshape(shape)


@lru_cache(maxsize=2)
def load_mnist(data_dir: str, part: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (images uint8 [N, 28, 28], labels int64 [N]) of the 'train' or 'test' files."""
    root = Path(data_dir)
    if not root.is_absolute() and not root.exists():
        root = Path(__file__).resolve().parent.parent / data_dir  # relative to the project, wherever it runs from
    raw = root / "MNIST" / "raw"
    paths = [raw / name for name in FILES[part]]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"MNIST file {missing[0]} not found: pass --data_dir pointing at the folder that "
                                f"holds MNIST/raw/ with the four .gz files")
    images, labels = (_read_idx(path) for path in paths)
    return images, labels.long()


def split_training_digits(data_dir: str, holdout: int) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """Split the training files into (train part, last `holdout` digits)."""
    images, labels = load_mnist(data_dir, "train")
    if not 0 < holdout < len(labels):
        raise ValueError(f"holdout must be between 1 and {len(labels) - 1}, got {holdout}")
    return (images[:-holdout], labels[:-holdout]), (images[-holdout:], labels[-holdout:])


class MnistImages(Dataset):
    """Digits kept as one uint8 tensor; normalised (and noised) a whole batch at a time."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, noise_std: float = 0.0, noise_seed: int = 0):
        self.images, self.labels, self.noise_std = images, labels, noise_std
        # Fixed noise per image, so a noisy set is the same set at every epoch and in every run.
        generator = torch.Generator().manual_seed(noise_seed)
        self.noise = noise_std * torch.randn(images.shape, generator=generator) if noise_std > 0 else None

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        images, labels = self.__getitems__([index])
        return images[0], labels[0]

    def __getitems__(self, indices):
        indices = torch.as_tensor(indices)
        images = (self.images[indices].float().div_(255.0).sub_(MEAN).div_(STD)).unsqueeze(1)
        if self.noise is not None:
            images += self.noise[indices].unsqueeze(1)
        return images, self.labels[indices]
