"""Drop-in files as other templates write them: class names in other case, helper files, inherited docstrings."""

import json
import math

from conftest import FAST, error_line

# A helper file as miracleyoo's template has one: functions and a building block, but no `Common` class.
COMMON = '''
from torch import nn


def linear_block(width_in, width_out):
    return nn.Sequential(nn.Linear(width_in, width_out), nn.ReLU())


class Residual(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.inner = linear_block(width, width)

    def forward(self, x):
        return x + self.inner(x)
'''

# The class name differs from the file's CamelCase (`MlpResNet`) only in case; no docstring of its own.
MLP_RES_NET = '''
from torch import nn

from . import common


class MLPResNet(nn.Module):
    def __init__(self, num_features: int = 16, width: int = 32, num_classes: int = 10):
        super().__init__()
        self.layers = nn.Sequential(common.linear_block(num_features, width), common.Residual(width),
                                    nn.Linear(width, num_classes))

    def forward(self, x):
        return self.layers(x)
'''

# `XorData` in the file's CamelCase, `XORData` in the file.
XOR_DATA = '''
import torch
from torch.utils.data import Dataset


class XORData(Dataset):
    """Points of 16 features, labelled by the signs of the first two."""

    def __init__(self, num_samples: int = 256):
        self.features = torch.randn(num_samples, 16, generator=torch.Generator().manual_seed(0))
        self.targets = ((self.features[:, 0] > 0) ^ (self.features[:, 1] > 0)).long()

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return self.features[index], self.targets[index]
'''


def add_drop_in_files(project) -> None:
    """The helper, the net that imports it and the dataset, written as the user would."""
    project.write("model/common.py", COMMON)
    project.write("model/mlp_res_net.py", MLP_RES_NET)
    project.write("data/xor_data.py", XOR_DATA)


def test_classes_named_in_other_case_train_beside_a_helper_file(project):
    add_drop_in_files(project)
    process = project.run("--model_name", "mlp_res_net", "--dataset", "xor_data", "--width", "8",
                          "--num_classes", "2", *FAST)
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    assert run_dir.parent.name == "mlp_res_net-xor_data"
    results = json.loads((run_dir / "results.json").read_text())
    assert math.isfinite(results["test"]["xor_data"]["loss"])


def test_list_leaves_out_helper_files_and_shows_only_a_class_own_docstring(project):
    add_drop_in_files(project)
    process = project.run("--list")
    assert process.returncode == 0, process.stderr
    assert process.stderr == ""
    listed = {line.split()[0]: line.split(maxsplit=1)[1:] for line in process.stdout.splitlines()
              if line.startswith("  ")}
    assert "common" not in listed
    assert listed["mlp_res_net"] == []  # no docstring of its own: nothing, not nn.Module's "Base class for all ..."
    assert listed["xor_data"] == ["Points of 16 features, labelled by the signs of the first two."]
    assert listed["standard_net"] == ["A two-layer perceptron for feature vectors (pairs with StandardData)."]
    assert "Base class" not in process.stdout


def test_a_helper_file_asked_for_by_name_is_one_error_line(project):
    add_drop_in_files(project)
    line = error_line(project.run("--model_name", "common", "--dataset", "xor_data"))
    assert "model/common.py has no class Common" in line and "Residual" in line


def test_two_classes_that_differ_only_in_case_are_one_error_line(project):
    project.write("model/two_nets.py", "from torch import nn\n\nclass TWONets(nn.Module):\n    pass\n\n"
                                       "class TwoNETS(nn.Module):\n    pass\n")
    line = error_line(project.run("--model_name", "two_nets", "--dataset", "standard_data"))
    assert "model/two_nets.py defines TWONets, TwoNETS, which differ only in case" in line
