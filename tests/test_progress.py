"""The console: the progress bar's step loss, one line per val set after each validation, and no Lightning notices
about defaults."""

import re
import subprocess
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import FAST, main_environment

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


def test_the_progress_bar_shows_the_loss_of_the_latest_logged_step(project):
    # 9 train steps an epoch, logged and the bar refreshed every 3: the bar's last loss is the last step's.
    process = project.run("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "640",
                          "--batch_size", "64", "--max_epochs", "2", "--log_every_n_steps", "3")
    assert process.returncode == 0, process.stderr[-3000:]
    accumulator = EventAccumulator(str(project.run_dirs()[0]))
    accumulator.Reload()
    logged = accumulator.Scalars("train/loss_step")
    assert [event.step for event in logged] == [2, 5, 8, 11, 14, 17]
    shown = re.findall(r"train/loss_step=([0-9.e+-]+)", process.stdout)
    assert len(set(shown)) >= 2  # the bar followed the logged steps
    assert float(shown[-1]) == float(f"{logged[-1].value:.3g}")


def test_an_error_during_training_starts_a_line_of_its_own_after_the_progress_bar(project):
    # Output and errors into one file, as `> run.log 2>&1` writes them: the bar's line ends before the error.
    # A loss turning NaN in the second epoch: the val bar closes first, so its cursor-up leaves the train bar's line.
    project.write("model/diverging_net.py", (Path(__file__).parent / "examples" / "diverging_net.py").read_text())
    process = subprocess.run([sys.executable, "main.py", "--model_name", "diverging_net", "--dataset", "standard_data",
                              "--num_samples", "400", "--batch_size", "16", "--max_epochs", "2", "--bad_step", "30"],
                             cwd=project.root, env=main_environment(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=300)
    assert process.returncode == 1 and "\nerror: the training loss became nan" in process.stdout, process.stdout[-2000:]
