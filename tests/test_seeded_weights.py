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
RUN = ("--model_name", "standard_net", "--dataset", "drawn_data", "--num_classes", "2", "--max_epochs", "1",
       "--hidden", "32")


def test_an_extra_test_set_leaves_the_trained_numbers_as_they_were(fork_server, tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("seeded") / "project")
    project.write("data/drawn_data.py", GLOBAL_DRAWS)
    values = {}
    for experiment, extra in (("alone", ()), ("more", ("--test_datasets", "drawn_data", "small=drawn_data:size=40"))):
        process = fork_server.run(project.root, *RUN, "--experiment", experiment, *extra)
        assert process.returncode == 0, process.stderr[-3000:]
        values[experiment] = json.loads((project.logs / experiment / "version_0" / "results.json").read_text())
    assert values["alone"]["val"] == values["more"]["val"]
    assert values["alone"]["best_score"] == values["more"]["best_score"]
