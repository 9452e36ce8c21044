"""`--drop_last`: a train set that leaves one item for its last batch, and a net whose BatchNorm cannot train on it.

81 train items (101, less 20 held out for val) in batches of 16 make 5 full batches and a last one of one item.
"""


import torch
from conftest import copy_project, error_line
from forked_main import ForkServer
from torch import nn

from utils.tasks.train_batches import trains_on_one_item

BN_NET = '''"""A perceptron with BatchNorm1d: it normalises each feature over the batch."""

from torch import nn


class BnNet(nn.Module):
    """Linear, BatchNorm1d, ReLU, Linear."""

    def __init__(self, num_features: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(num_features, 32), nn.BatchNorm1d(32), nn.ReLU(),
                                    nn.Linear(32, num_classes))

    def forward(self, x):
        return self.layers(x)
'''
RUN = ("--dataset", "standard_data", "--num_samples", "101", "--val_fraction", "0.2", "--batch_size", "16",
       "--max_epochs", "1", "--confusion_images", "off")


def trained_steps(fork_server: ForkServer, tmp_path, *arguments: str) -> int:
    """The optimizer steps of a finished one-epoch run, read from its last.ckpt."""
    project = copy_project(tmp_path / "project")
    project.write("model/bn_net.py", BN_NET)
    process = fork_server.run(project.root, *RUN, *arguments)
    assert process.returncode == 0, process.stderr[-3000:]
    [last] = project.logs.glob("*/version_0/checkpoints/last.ckpt")
    return torch.load(last, weights_only=True)["global_step"]


def test_batchnorm_on_a_last_batch_of_one_item_is_one_line_suggesting_drop_last(fork_server, tmp_path):
    project = copy_project(tmp_path / "project")
    project.write("model/bn_net.py", BN_NET)
    line = error_line(fork_server.run(project.root, "--model_name", "bn_net", *RUN))
    assert "last train batch" in line and "one item" in line and "BnNet" in line and "--drop_last" in line, line
    assert not project.logs.exists()


def test_drop_last_trains_the_batchnorm_net_on_full_batches_only(fork_server, tmp_path):
    assert trained_steps(fork_server, tmp_path, "--model_name", "bn_net", "--drop_last") == 5


def test_a_net_that_trains_on_one_item_keeps_its_last_batch(fork_server, tmp_path):
    assert trained_steps(fork_server, tmp_path, "--model_name", "standard_net") == 6


def test_drop_last_that_leaves_no_train_batch_is_one_line(fork_server, tmp_path):
    project = copy_project(tmp_path / "project")
    line = error_line(fork_server.run(project.root, "--model_name", "standard_net", *RUN, "--drop_last",
                                      "--batch_size", "100"))
    assert "--drop_last drops every train batch" in line and "81 train items" in line, line


def test_the_one_item_trial_leaves_the_net_and_the_random_numbers_as_they_were():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5)).eval()
    images, features = torch.randn(1, 3, 5, 5), torch.randn(1, 4)
    before, random_state = {key: value.clone() for key, value in net.state_dict().items()}, torch.get_rng_state()
    assert trains_on_one_item(net, images) is None  # 9 values per channel: BatchNorm2d trains on one image
    assert "Expected more than 1 value per channel" in trains_on_one_item(nn.BatchNorm1d(4), features)
    assert not net.training and torch.equal(torch.get_rng_state(), random_state)
    assert all(torch.equal(before[key], value) for key, value in net.state_dict().items())
