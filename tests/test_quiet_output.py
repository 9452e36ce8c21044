"""A run prints what the user can act on: no library notices they cannot, a model summary of the net's layers."""

import subprocess
import sys

from conftest import FAST_WITH_IMAGES, PROJECT

# StandardNet, whose forward also warns as a user's own code may: that warning must still show.
WARNING_NET = '''
import warnings

from torch import nn


class WarningNet(nn.Module):
    """A two-layer perceptron that warns about its input at every forward."""

    def __init__(self, num_features: int = 16, num_classes: int = 10):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(num_features, 8), nn.ReLU(), nn.Linear(8, num_classes))

    def forward(self, x):
        warnings.warn("WarningNet: the inputs are not normalised")
        return self.layers(x)
'''

# What Lightning prints on every run that nobody running the template can act on.
UNACTIONABLE = ("LeafSpec", "log_every_n_steps", "litlogger", "litmodels", "Tip:", "available: False")


def test_a_small_run_prints_no_notice_the_user_cannot_act_on_and_a_summary_of_the_net_layers(project):
    # FAST_WITH_IMAGES's two training batches are fewer than the logging interval: Lightning's own warning about it
    # is left out.
    process = project.run("--model_name", "standard_net", "--dataset", "standard_data", *FAST_WITH_IMAGES)
    assert process.returncode == 0, process.stderr[-3000:]
    assert (project.run_dirs()[0] / "results.json").is_file()
    output = process.stdout + process.stderr
    for notice in UNACTIONABLE:
        assert notice not in output, notice
    assert "Warning" not in process.stderr and "warn(" not in process.stderr, process.stderr
    rows = [line.split("|") for line in process.stderr.splitlines() if line.count("|") == 4]
    names_and_types = [(row[1].strip(), row[2].strip()) for row in rows[1:]]
    assert names_and_types == [("net", "StandardNet"), ("net.layers", "Sequential"), ("net.layers.0", "Linear"),
                               ("net.layers.1", "ReLU"), ("net.layers.2", "Linear")]
    assert "metrics" not in process.stderr and "ModuleList" not in process.stderr
    # 16 * 64 + 64 + 64 * 10 + 10 parameters, in the net and nowhere else.
    assert "1.7 K     Total params" in process.stderr and "5         Modules in train mode" in process.stderr


def test_warnings_of_the_user_own_code_still_show_and_summary_depth_one_lists_the_net_alone(project):
    project.write("model/warning_net.py", WARNING_NET)
    process = project.run("--model_name", "warning_net", "--dataset", "standard_data", "--summary_depth", "1",
                          *FAST_WITH_IMAGES)
    assert process.returncode == 0, process.stderr[-3000:]
    assert "UserWarning: WarningNet: the inputs are not normalised" in process.stderr
    rows = [line.split("|") for line in process.stderr.splitlines() if line.count("|") == 4]
    assert [(row[1].strip(), row[2].strip()) for row in rows] == [("Name", "Type"), ("net", "WarningNet")]


def test_steps_whose_loss_is_logged_print_no_warning(project):
    process = project.run("--model_name", "standard_net", "--dataset", "standard_data", *FAST_WITH_IMAGES,
                          "--log_every_n_steps", "1")
    assert process.returncode == 0, process.stderr[-3000:]
    assert "Warning" not in process.stderr and "warn(" not in process.stderr, process.stderr


def test_a_reader_that_stops_early_ends_the_listing_without_a_traceback():
    listing = subprocess.Popen([sys.executable, "main.py", "--list"], cwd=PROJECT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    listing.stdout.close()  # as `main.py --list | head` does once it has its lines
    errors = listing.stderr.read().decode()
    assert listing.wait() == 1 and errors == "", errors


def test_a_val_set_lacking_a_class_draws_its_confusion_matrix_without_a_warning(project):
    # 4 val items of 10 classes: the rows of the classes absent stay blank, which torchmetrics would warn about.
    process = project.run("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "40",
                          *FAST_WITH_IMAGES)
    assert process.returncode == 0, process.stderr[-3000:]
    assert "NaN values found in confusion matrix" not in process.stderr and "warn(" not in process.stderr
