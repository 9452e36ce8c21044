"""A run's numbers do not depend on how many datasets it builds: the net's first weights are seeded on their own."""

import json

from conftest import copy_project

# A dataset as users write them (the README's MyData): its items drawn from torch's global generator.
GLOBAL_DRAWS = '''
import torch
from torch.utils.data import Dataset


class DrawnData(Dataset):
    def __init__(self, size: int = 300):
        self.x = torch.randn(size, 16)
        self.y = (self.x.sum(dim=1) > 0).long()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return self.x[index], self.y[index]
'''
# A test set drawing from it as it gives each item, as a random augmentation does.
DRAWS_PER_ITEM = '''
import torch
from torch.utils.data import Dataset


class NoisyData(Dataset):
    def __len__(self):
        return 40

    def __getitem__(self, index):
        return torch.randn(16), index % 2
'''
# A net whose training draws from it too.
DROPOUT_NET = '''
from torch import nn


class DropoutNet(nn.Module):
    def __init__(self, num_classes: int = 2):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, num_classes))

    def forward(self, x):
        return self.layers(x)
'''
RUN = ("--model_name", "dropout_net", "--dataset", "drawn_data", "--num_classes", "2", "--max_epochs", "1")


def test_an_extra_test_set_leaves_the_trained_numbers_as_they_were(fork_server, tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("seeded") / "project")
    project.write("data/drawn_data.py", GLOBAL_DRAWS)
    project.write("data/noisy_data.py", DRAWS_PER_ITEM)
    project.write("model/dropout_net.py", DROPOUT_NET)
    values = {}
    more = ("--test_datasets", "drawn_data", "small=drawn_data:size=40", "noisy=noisy_data")
    for experiment, extra in (("alone", ()), ("more", more)):
        process = fork_server.run(project.root, *RUN, "--experiment", experiment, *extra)
        assert process.returncode == 0, process.stderr[-3000:]
        values[experiment] = json.loads((project.logs / experiment / "version_0" / "results.json").read_text())
    assert values["alone"]["val"] == values["more"]["val"]
    assert values["alone"]["best_score"] == values["more"]["best_score"]


# A train set whose every item draws from NumPy's and Python's generators, as albumentations-style augmentations do.
NUMPY_DRAWS = '''
import random

import numpy as np
import torch
from torch.utils.data import Dataset


class NumpyNoisyData(Dataset):
    def __init__(self, size: int = 200):
        self.x = torch.randn(size, 16, generator=torch.Generator().manual_seed(size))
        self.y = (self.x.sum(dim=1) > 0).long()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        noise = torch.from_numpy(np.random.randn(16).astype("float32")) * random.random()
        return self.x[index] + noise, self.y[index]
'''


def test_an_extra_test_set_drawing_from_numpy_and_python_leaves_the_trained_numbers_as_they_were(fork_server,
                                                                                                tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("seeded") / "project")
    project.write("data/numpy_noisy_data.py", NUMPY_DRAWS)
    run = ("--model_name", "standard_net", "--train_dataset", "numpy_noisy_data", "--val_datasets",
           "v=numpy_noisy_data:size=60", "--num_classes", "2", "--max_epochs", "1")
    values = {}
    for experiment, extra in (("alone", ()), ("more", ("--test_datasets", "t=numpy_noisy_data:size=40"))):
        process = fork_server.run(project.root, *run, "--experiment", experiment, *extra)
        assert process.returncode == 0, process.stderr[-3000:]
        values[experiment] = json.loads((project.logs / experiment / "version_0" / "results.json").read_text())
    assert values["alone"]["val"] == values["more"]["val"]
