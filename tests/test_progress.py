"""The console after each validation: one line per val set, and no Lightning notices about defaults."""

import re

from tests.conftest import FAST

TWO_SETS = ("--model_name", "standard_net", "--train_dataset", "standard_data", "--val_datasets", "a=standard_data",
            "b=standard_data:data_seed=1", "--num_samples", "200", *FAST)


def test_each_validation_leaves_one_line_per_val_set_and_defaults_stay_unannounced(project):
    process = project.run(*TWO_SETS, "--max_epochs", "2")
    assert process.returncode == 0, process.stderr[-3000:]
    lines = [line.strip() for line in re.split(r"[\r\n]", process.stdout) if "step" in line and "val/" in line
             and line.strip().startswith("epoch ")]
    assert [line.split()[:5] for line in lines] == [["epoch", "0", "step", "2", "val/a"],
                                                    ["epoch", "0", "step", "2", "val/b"],
                                                    ["epoch", "1", "step", "4", "val/a"],
                                                    ["epoch", "1", "step", "4", "val/b"]]
    assert all("loss" in line and "accuracy" in line for line in lines)
    assert "was configured" not in process.stdout + process.stderr
    assert "already configured with model summary" not in process.stderr
