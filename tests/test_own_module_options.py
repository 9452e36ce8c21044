"""Template options that a user's own LightningModule configures itself are refused, never silently ignored."""

import shutil
from pathlib import Path

import pytest
import torch
from conftest import Project, copy_project, error_line

from utils.lightning_package import LightningModule
from utils.trainer.own_module_options import module_takes

EXAMPLES = Path(__file__).parent / "examples"
RUN = ("--model_name", "tensor_lit_module", "--dataset", "standard_data", "--num_samples", "64")


@pytest.fixture(scope="module")
def own_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A project whose model/ holds TensorLitModule; the refused runs below leave it unchanged."""
    project = copy_project(tmp_path_factory.mktemp("own") / "project")
    project.write("model/tensor_lit_module.py", (EXAMPLES / "tensor_lit_module.py").read_text())
    return project


@pytest.mark.parametrize(("option", "typed"), [
    (("--optimizer", "sgd"), "--optimizer"), (("--scheduler", "step_lr"), "--scheduler"),
    (("--lr", "0.1"), "--lr"), (("--optimizer.lr", "0.1"), "--optimizer.lr"), (("--metrics", "accuracy"), "--metrics"),
    (("--loss", "mse"), "--loss"),
    (("--task", "classification"), "--task"), (("--output_key", "out"), "--output_key"),
    (("--input_key", "x"), "--input_key")])
def test_each_option_the_module_configures_itself_is_one_error_line(fork_server, own_project, option, typed):
    # Given explicitly, even with the template's default value (classification), the option is refused, named as typed.
    line = error_line(fork_server.run(own_project.root, *RUN, *option))
    assert line.startswith(f"error: {typed}: TensorLitModule is a LightningModule and configures its "
                           f"optimizer, scheduler, loss, metrics and task itself")
    assert not own_project.logs.exists() or list(own_project.logs.iterdir()) == []


@pytest.mark.parametrize("several", [("--folds", "2"), ("--sweep", "sweep.yaml")])
def test_folds_and_sweeps_of_an_own_module_need_its_monitor_named(fork_server, own_project, several):
    own_project.write("sweep.yaml", "hidden: [16, 32]\n")
    line = error_line(fork_server.run(own_project.root, *RUN, *several))
    assert line.startswith("error: --folds and --sweep compare runs by --monitor, and TensorLitModule")
    assert "pass --monitor val/<a key it logs>" in line
    assert not own_project.logs.exists() or list(own_project.logs.iterdir()) == []


def test_a_config_file_counts_as_given_and_is_named(fork_server, own_project):
    config = own_project.write("options.yaml", "optimizer: adamw\nmax_epochs: 1\n")
    line = error_line(fork_server.run(own_project.root, *RUN, "--config", str(config)))
    assert line.startswith(f"error: --optimizer (in --config {config}): TensorLitModule"), line
    own_project.write("lr.yaml", "lr: 0.1\n")
    line = error_line(fork_server.run(own_project.root, *RUN, "--config", "lr.yaml"))
    assert line.startswith("error: --lr (in --config lr.yaml): TensorLitModule is a LightningModule"), line


def test_a_run_recorded_before_the_refusal_resumes_and_its_config_forgets_the_ignored_options(fork_server,
                                                                                              tmp_path):
    project = copy_project(tmp_path / "project")
    project.write("model/tensor_lit_module.py", (EXAMPLES / "tensor_lit_module.py").read_text())
    first = fork_server.run(project.root, *RUN, "--max_epochs", "1", "--limit_train_batches", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    [run_dir] = project.run_dirs()
    last = run_dir / "checkpoints" / "last.ckpt"
    first_step = torch.load(last, weights_only=True)["global_step"]
    # What config.yaml held before own modules refused the template's optimizer and loss.
    with (run_dir / "config.yaml").open("a") as config:
        config.write("optimizer: adam\nloss: cross_entropy\n")
    resumed = fork_server.run(project.root, "--resume", str(run_dir), "--max_epochs", "2",
                              "--limit_train_batches", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert torch.load(last, weights_only=True)["global_step"] == 2 * first_step
    assert "optimizer" not in (run_dir / "config.yaml").read_text()
    line = error_line(fork_server.run(project.root, "--resume", str(run_dir), "--max_epochs", "3", "--loss", "mse"))
    assert line.startswith("error: --loss: TensorLitModule")


class Injected(LightningModule):
    """Stands for a module whose constructor takes an optimizer and a scheduler factory, as hydra-template's does."""

    def __init__(self, optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler,
                 warm: "torch.optim.lr_scheduler.LRScheduler | None" = None, lr: float = 0.1) -> None:
        super().__init__()


def test_an_option_is_the_modules_own_when_its_constructor_takes_what_it_configures():
    assert module_takes(Injected, "optimizer") and module_takes(Injected, "optimizer.weight_decay")
    assert module_takes(Injected, "scheduler.gamma") and module_takes(Injected, "warmup_steps")
    assert not module_takes(Injected, "metrics") and not module_takes(Injected, "loss")


def test_clipping_or_accumulating_for_a_module_that_steps_its_optimizers_itself_is_one_error_line(fork_server,
                                                                                                   own_project):
    own_project.write("model/tiny_gan.py", (EXAMPLES / "tiny_gan.py").read_text())
    gan = ("--model_name", "tiny_gan", *RUN[2:], "--max_epochs", "1")
    for option, value in (("--gradient_clip_val", "1.0"), ("--accumulate_grad_batches", "2")):
        line = error_line(fork_server.run(own_project.root, *gan, option, value))
        assert line.startswith(f"error: {option} {value}: TinyGan steps its optimizers itself (automatic_optimization "
                               f"is False), so Lightning cannot apply it"), line
    assert not own_project.logs.exists() or list(own_project.logs.iterdir()) == []
    finished = fork_server.run(own_project.root, *gan, "--limit_train_batches", "2", "--experiment", "gan")
    assert finished.returncode == 0, finished.stderr[-3000:]
    last = own_project.logs / "gan" / "version_0" / "checkpoints" / "last.ckpt"
    line = error_line(fork_server.run(own_project.root, "--mode", "predict", "--ckpt", str(last)))
    shutil.rmtree(own_project.logs / "gan")  # the other tests of this file find Logs/ as it was
    assert line == ("error: --mode predict: TinyGan defines no predict_step, so there is nothing to predict: add "
                    "predict_step to it, or use another --mode")

