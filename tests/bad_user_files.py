"""Wrong user files for the catalogue of wrong inputs: nets, datasets and checkpoints a project copy gets."""

import io

import torch


class CallsAFunction:
    """An object whose unpickling calls os.system: what a malicious checkpoint holds."""

    def __reduce__(self) -> tuple:
        import os

        return os.system, ("echo the payload ran",)


ITERABLE_DATA = '''
import torch
from torch.utils.data import IterableDataset


class StreamData(IterableDataset):
    def __iter__(self):
        for _ in range(8):
            yield torch.randn(16), 0
'''

FROZEN_NET = '''
from torch import nn


class FrozenNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(16, 10)
        self.layer.requires_grad_(False)

    def forward(self, x):
        return self.layer(x)
'''

EMPTY_NET = '''
from torch import nn


class EmptyNet(nn.Module):
    def forward(self, x):
        return x[:, :10]
'''


def torch_bytes(value: object) -> bytes:
    """`value` as torch.save writes it."""
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def exported_bytes(kind: str) -> bytes:
    """A small net as --mode export writes it: a TorchScript archive, or a torch.export program."""
    net, buffer = torch.nn.Linear(16, 10), io.BytesIO()
    if kind == "torchscript":
        torch.jit.save(torch.jit.trace(net, torch.zeros(1, 16)), buffer)
    else:
        torch.export.save(torch.export.export(net, (torch.zeros(1, 16),)), buffer)
    return buffer.getvalue()


NET_WITHOUT_CLASS = '''
from torch import nn


class Net(nn.Module):
    pass


class Helper:
    pass
'''

NET_WITH_SYNTAX_ERROR = '''
from torch import nn


class BrokenNet(nn.Module)
    pass
'''

DATA_WITH_MISSING_PACKAGE = '''
import no_such_package_xyz
from torch.utils.data import Dataset


class NeedsPackageData(Dataset):
    pass
'''

NET_WITH_REQUIRED_WIDTH = '''
from torch import nn


class WideNet(nn.Module):
    def __init__(self, width: int, num_classes: int = 10):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(16, width), nn.ReLU(), nn.Linear(width, num_classes))

    def forward(self, x):
        return self.layers(x)
'''

NET_WITH_MAX_EPOCHS = '''
from torch import nn


class EpochsNet(nn.Module):
    def __init__(self, max_epochs: int = 4):
        super().__init__()
        self.layer = nn.Linear(16, 10)

    def forward(self, x):
        return self.layer(x)
'''

NET_WITHOUT_ANNOTATION = '''
from torch import nn


class BareNet(nn.Module):
    def __init__(self, width, num_classes: int = 10):
        super().__init__()
        self.layer = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.layer(x)
'''

NET_WITH_CALLABLE = '''
from collections.abc import Callable

from torch import nn


class HookNet(nn.Module):
    def __init__(self, hook: Callable):
        super().__init__()
        self.layer = nn.Linear(16, 10)

    def forward(self, x):
        return self.layer(x)
'''

NET_WITH_DICT_AND_UNION = '''
from torch import nn


class MixedNet(nn.Module):
    def __init__(self, class_weights: dict[str, float] = {}, size: int | float = 1):
        super().__init__()
        self.layer = nn.Linear(16, 10)

    def forward(self, x):
        return self.layer(x)
'''

NET_WITH_THREE_OUTPUTS = '''
from torch import nn


class ThreeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(16, 3)

    def forward(self, x):
        return self.layer(x)
'''

EMPTY_DATA = '''
import torch
from torch.utils.data import Dataset


class EmptyData(Dataset):
    def __len__(self):
        return 0

    def __getitem__(self, index):
        return torch.zeros(16), 0
'''

TRAIN_AND_TEST_SPLITS_DATA = '''
import torch
from torch.utils.data import Dataset


class TwoSplitsData(Dataset):
    def __init__(self, split: str = "train"):
        if split not in ("train", "test"):
            raise ValueError(f"Unknown split {split!r}. Valid splits are: train, test")

    def __len__(self):
        return 8

    def __getitem__(self, index):
        return torch.zeros(16), 0
'''

def indexed_data(name: str, item: str) -> str:
    """data/ source of a Dataset class `name` of 64 items, item `index` being the expression `item`."""
    return f"""
import torch
from torch.utils.data import Dataset


class {name}(Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, index):
        return {item}
"""


WRAPPED_TARGETS_DATA = indexed_data("WrappedData", "torch.randn(16), torch.tensor([index % 10])")
LIST_INPUTS_DATA = indexed_data("ListData", "[float(index)] * 16, index % 10")
NAMED_TARGETS_DATA = indexed_data("NamedTargetsData", "torch.randn(16), ('cat', 'dog')[index % 2]")
# Its __len__ says 64 items, but there are 60.
OVERCOUNTED_DATA = indexed_data("OvercountedData", "torch.randn(16), torch.arange(60)[index] % 10")

TEXT_DATA = '''
from torch.utils.data import Dataset


class TextData(Dataset):
    def __len__(self):
        return 20

    def __getitem__(self, index):
        return f"sentence {index}", index % 2
'''

WIDE_FEATURE_DATA = '''
import torch
from torch.utils.data import Dataset


class WideFeatureData(Dataset):
    """Twenty features, where StandardNet expects sixteen."""

    def __len__(self):
        return 20

    def __getitem__(self, index):
        return torch.randn(20), index % 10
'''

LABELS_DATA = '''
import torch
from torch.utils.data import Dataset


class LabelsData(Dataset):
    """Every item is labelled 7."""

    def __len__(self):
        return 20

    def __getitem__(self, index):
        return torch.randn(16), 7
'''

# The earlier run's net after its user edited it: the checkpoint's stored hyperparameters or weights no longer fit.
STANDARD_NET_RENAMED_PARAMETER = '''
from torch import nn


class StandardNet(nn.Module):
    def __init__(self, num_features: int = 16, width: int = 64, num_classes: int = 10) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(num_features, width), nn.ReLU(), nn.Linear(width, num_classes))

    def forward(self, x):
        return self.layers(x)
'''

STANDARD_NET_EXTRA_LAYER = '''
from torch import nn


class StandardNet(nn.Module):
    def __init__(self, num_features: int = 16, hidden: int = 64, num_classes: int = 10) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(num_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
        self.head = nn.Linear(num_classes, num_classes)

    def forward(self, x):
        return self.head(self.layers(x))
'''
