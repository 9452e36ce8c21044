"""Other people's LightningModules run unchanged: from `lightning` or `pytorch_lightning`, with their nets, optimizers
and schedulers injected by type, checkpoints that load back, and Lightning's own demos."""

import collections.abc
import functools
import json
import math
import os
import shutil
from pathlib import Path
from typing import Optional

import pytest
import torch
from conftest import FAST, PROJECT, error_line
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from utils.loading.constructor_parameters import object_kind

EXAMPLES = Path(__file__).parent / "examples"
PACKAGES = ("lightning.pytorch", "pytorch_lightning")
INJECTED = ("--model_name", "injected_module", "--net", "standard_net", "--hidden", "8", "--dataset", "standard_data",
            "--num_samples", "256", "--compile", "false", "--optimizer", "sgd", "--optimizer.lr", "0.05",
            "--scheduler", "step_lr", "--scheduler.step_size", "1")


def load(path: Path) -> dict:
    """A checkpoint, read as torch reads untrusted files."""
    return torch.load(path, weights_only=True)


def results(run_dir: Path) -> dict:
    """The run's results.json."""
    return json.loads((run_dir / "results.json").read_text())


@pytest.mark.parametrize("package", PACKAGES)
def test_boring_model_of_either_package_trains_with_its_own_step_and_optimizer(project, package):
    project.write("model/boring_model.py", f"from {package}.demos.boring_classes import BoringModel\n")
    project.write("data/random_dataset.py", f"from {package}.demos.boring_classes import RandomDataset\n")
    # BoringModel logs nothing, so nothing can be monitored: no validation, no early stopping.
    process = project.run("--model_name", "boring_model", "--dataset", "random_dataset", "--size", "32", "--length",
                          "64", "--batch_size", "8", *FAST, "--limit_val_batches", "0", "--patience", "0")
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    last = load(run_dir / "checkpoints" / "last.ckpt")
    assert last["global_step"] == 2 and set(last["state_dict"]) == {"layer.weight", "layer.bias"}
    # Its own configure_optimizers: SGD at 0.1 under a StepLR (the template's default is Adam at 1e-3, no schedule).
    assert last["lr_schedulers"][0]["base_lrs"] == [0.1] and last["lr_schedulers"][0]["step_size"] == 1
    assert last["optimizer_states"][0]["param_groups"][0]["momentum"] == 0  # the template's SGD default is 0.9
    # Its validation_step and test_step are its own, though it comes from Lightning's package: they run.
    assert "skipped" not in results(run_dir)
    tested = project.run("--mode", "test", "--ckpt", str(run_dir / "checkpoints" / "last.ckpt"))
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "no metrics were computed" in tested.stdout  # it logs nothing, and the template says so
    validated = project.run("--model_name", "boring_model", "--dataset", "random_dataset", "--size", "32", "--length",
                            "64", *FAST)
    assert validated.returncode == 2 and "Traceback" not in validated.stderr, validated.stderr[-3000:]
    assert validated.stderr.splitlines()[-1] == (
        "error: BoringModel logged no val/ key at its first validation (it logged nothing): log one with self.log in "
        "validation_step, or --monitor none to keep the last checkpoint only")
    assert len(project.run_dirs()) == 2  # the fit and the test; the refused run left nothing


def test_a_class_neither_a_net_nor_a_lightning_module_is_one_error_line(project):
    project.write("model/plain_thing.py", "class PlainThing:\n    def __init__(self, width: int = 3):\n"
                                          "        self.width = width\n")
    line = error_line(project.run("--model_name", "plain_thing", "--dataset", "standard_data", *FAST))
    assert "PlainThing" in line and "neither a torch.nn.Module" in line and "lightning.LightningModule" in line
    assert not project.logs.exists() or not project.run_dirs()


def test_injected_net_optimizer_and_scheduler_train_test_and_resume(project):
    shutil.copy(EXAMPLES / "injected_module.py", project.root / "model")
    process = project.run(*INJECTED, *FAST)
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    fitted = results(run_dir)
    last = load(run_dir / "checkpoints" / "last.ckpt")
    # The net is model/standard_net.py built with --hidden 8; the optimizer SGD with the template's options.
    assert last["state_dict"]["net.layers.0.weight"].shape == (8, 16)
    assert last["optimizer_states"][0]["param_groups"][0]["momentum"] == 0.9
    assert last["lr_schedulers"][0]["base_lrs"] == [0.05] and last["lr_schedulers"][0]["step_size"] == 1
    # Objects are left out of the stored hyperparameters; the checkpoint says how to rebuild them.
    assert last["hyper_parameters"] == {"compile": False}
    assert last["template_net"]["injected"]["net"]["model_kwargs"]["hidden"] == 8

    test = project.run("--model_name", "injected_module", "--dataset", "standard_data", "--num_samples", "256",
                       "--mode", "test", "--ckpt", str(run_dir / "checkpoints" / "last.ckpt"), *FAST)
    assert test.returncode == 0, test.stderr[-3000:]
    tested = results(project.run_dirs()[-1])["test"]["standard_data"]
    # One validation, so the best checkpoint fit tested is last.ckpt: the same numbers back.
    assert tested == pytest.approx(fitted["test"]["standard_data"])

    resumed = project.run("--resume", str(run_dir), "--max_epochs", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert load(run_dir / "checkpoints" / "last.ckpt")["global_step"] == 2 * last["global_step"]


def test_a_module_that_compiles_its_net_to_fit_tests_its_checkpoint_with_the_net_plain(project):
    shutil.copy(EXAMPLES / "injected_module.py", project.root / "model")
    # Compiled as lightning-hydra-template's modules compile their net; run eagerly (no compiler), keys as compiled.
    compiled = [word if word != "false" else "true" for word in INJECTED]
    process = project.run(*compiled, *FAST, env={"TORCH_COMPILE_DISABLE": "1"})
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    assert "net._orig_mod.layers.0.weight" in load(checkpoint)["state_dict"]
    test = project.run("--mode", "test", "--ckpt", str(checkpoint), *FAST)
    assert test.returncode == 0, test.stderr[-3000:]
    tested = results(project.run_dirs()[-1])["test"]["standard_data"]
    assert tested == pytest.approx(results(run_dir)["test"]["standard_data"])


def test_a_module_that_fails_before_its_first_step_leaves_no_run_folder(project):
    shutil.copy(EXAMPLES / "injected_module.py", project.root / "model")
    # ExampleNet, a CNN of 28 x 28 images, fed StandardData's 16 numbers: the module's own code fails.
    process = project.run("--model_name", "injected_module", "--net", "example_net", "--dataset", "standard_data",
                          "--compile", "false", *FAST)
    assert process.returncode == 1 and "RuntimeError" in process.stderr  # the module's error, with its traceback
    assert not project.logs.exists() or not project.run_dirs()


def test_injected_module_trains_on_two_processes_of_its_package(project):
    shutil.copy(EXAMPLES / "injected_module.py", project.root / "model")
    process = project.run(*INJECTED, *FAST, "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp")
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    assert results(run_dir)["best_checkpoint"] and "acc" in results(run_dir)["test"]["standard_data"]


def test_a_value_logged_unsynced_on_two_processes_or_by_process_0_alone_is_refused(project):
    # A GAN logging with sync_dist=True trains on two processes (tests/test_own_module.py).
    # Each process would log its half's value, and the run report process 0's as the whole val set's.
    module = (EXAMPLES / "tensor_lit_module.py").read_text()
    project.write("model/tensor_lit_module.py", module)
    ddp = ("--dataset", "standard_data", "--num_samples", "256", "--batch_size", "32", *FAST, "--accelerator", "cpu",
           "--devices", "2", "--strategy", "ddp")
    refused = project.run("--model_name", "tensor_lit_module", *ddp)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr[-3000:]
    [line] = [line for line in refused.stderr.splitlines() if line.startswith("error:")]  # one, for both processes
    assert line.startswith("error: TensorLitModule logged val/acc unsynced: each of the 2 processes logged the value "
                           "of its own part of the val set (") and "sync_dist=True" in line, line
    synced = module.replace("class TensorLitModule", "class SyncedModule").replace(".mean())",
                                                                                  ".mean(), sync_dist=True)")
    # Logged by process 0 alone, its half would pass for the whole set's value.
    project.write("model/synced_module.py", synced.replace("targets))", "targets), sync_dist=True)").replace(
        "        self.log(\"val/acc\"", "        if self.global_rank == 0:\n            self.log(\"val/extra\", 1.0 * "
        "batch_idx, rank_zero_only=True)\n        self.log(\"val/acc\""))
    refused = project.run("--model_name", "synced_module", *ddp)
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert "error: SyncedModule logged val/extra in some of its 2 processes alone (rank_zero_only=True, say)" in \
        refused.stderr


def test_a_refusal_of_an_unsynced_value_names_its_dataset_label():
    from utils.trainer.synced_values import shown_key

    assert shown_key("val/loss/dataloader_idx_1", ["clean", "noisy"]) == "val/noisy/loss"
    assert shown_key("val_acc/dataloader_idx_0", ["clean", "noisy"]) == "val/clean/acc"
    assert shown_key("val/loss", ["clean"]) == "val/loss"


def test_injected_net_is_an_option_with_its_own_options(project):
    shutil.copy(EXAMPLES / "injected_module.py", project.root / "model")
    shown = project.run("--model_name", "injected_module", "--net", "standard_net", "--help")
    assert shown.returncode == 0 and "--net NAME" in shown.stdout and "--hidden" in shown.stdout
    assert "--compile" in shown.stdout
    missing = error_line(project.run("--model_name", "injected_module", "--dataset", "standard_data", *FAST))
    assert "InjectedModule(net) takes a net: pass --net NAME" in missing and "standard_net" in missing
    unknown = error_line(project.run(*INJECTED[:2], "--net", "standard_nte", *INJECTED[4:], *FAST))
    assert "'standard_nte'" in unknown and "did you mean 'standard_net'" in unknown
    refused = error_line(project.run(*INJECTED, "--optimizer.momentum", "-1", *FAST))
    assert "--optimizer sgd: torch refused its arguments" in refused and "momentum" in refused
    per_step = error_line(project.run(*INJECTED[:-4], "--scheduler", "one_cycle_lr", *FAST))
    assert "--scheduler one_cycle_lr needs the run's number of optimizer steps" in per_step
    assert not project.logs.exists() or not project.run_dirs()


def test_a_checkpoint_holding_objects_says_how_to_fix_the_module(project):
    shutil.copy(EXAMPLES / "injected_module.py", project.root / "model")
    stored = {"template_net": {"model_name": "injected_module", "model_kwargs": {"compile": False}},
              "state_dict": {}, "hyper_parameters": {"optimizer": functools.partial(torch.optim.SGD, lr=0.1)}}
    torch.save(stored, project.root / "objects.ckpt")
    line = error_line(project.run("--model_name", "injected_module", "--dataset", "standard_data", "--mode", "test",
                                  "--ckpt", "objects.ckpt"))
    assert "functools.partial" in line and "save_hyperparameters(ignore=[...])" in line
    assert "trust" not in line


@pytest.mark.parametrize(("annotation", "kind"), [
    (torch.nn.Module, "net"), (torch.nn.Linear, "net"), (Optional[torch.nn.Module], "net"),  # noqa: UP045 (the typing spelling)
    (torch.optim.Optimizer, "optimizer"), (collections.abc.Callable[..., torch.optim.Optimizer], "optimizer"),
    (torch.optim.lr_scheduler, "scheduler"), (torch.optim.lr_scheduler.LRScheduler, "scheduler"),
    (torch.optim.lr_scheduler.ReduceLROnPlateau | None, "scheduler"),
    (collections.abc.Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler], "scheduler"),
    (int, None), (collections.abc.Callable[..., int], None), (torch.nn.Module | torch.optim.Optimizer, None),
])
def test_annotations_that_inject_an_object(annotation, kind):
    assert object_kind(annotation) == kind


@pytest.mark.parametrize("package", PACKAGES)
def test_demo_transformer_learns_a_local_token_dataset(project, package):
    wrapper = (EXAMPLES / "language_model.py").read_text()
    assert wrapper in (PROJECT / "README.md").read_text()  # the README shows the wrapper this test runs
    root = package.partition(".")[0]
    project.write("model/language_model.py", wrapper.replace("from lightning import", f"from {root} import"))
    project.write("model/transformer.py", f"from {package}.demos import Transformer\n")
    shutil.copy(EXAMPLES / "token_data.py", project.root / "data")
    process = project.run("--model_name", "language_model", "--net", "transformer", "--dataset", "token_data",
                          "--vocab_size", "64", "--ninp", "32", "--nhid", "64", "--nlayers", "1", "--optimizer", "sgd",
                          "--optimizer.lr", "0.1", "--batch_size", "32", "--max_epochs", "2")
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    events = EventAccumulator(str(run_dir))
    events.Reload()
    first_train_loss = events.Scalars("train/loss")[0].value
    assert results(run_dir)["test"]["token_data"]["loss"] < min(first_train_loss, math.log(64))


@pytest.mark.skipif(not os.environ.get("HYDRA_TEMPLATE_SRC"),
                    reason="HYDRA_TEMPLATE_SRC names no folder holding lightning-hydra-template's mnist_module.py "
                           "and simple_dense_net.py (src/models/ and src/models/components/ of that repository)")
def test_hydra_templates_mnist_module_runs_unchanged(project):
    source = Path(os.environ["HYDRA_TEMPLATE_SRC"])
    shutil.copy(source / "mnist_module.py", project.root / "model" / "mnist_lit_module.py")
    shutil.copy(source / "simple_dense_net.py", project.root / "model" / "simple_dense_net.py")
    # The MNIST defaults' two val sets, clean and noisy: MNISTLitModule keeps one Accuracy per stage.
    tiny = ("--max_epochs", "1", "--limit_train_batches", "8", "--limit_val_batches", "2", "--limit_test_batches", "2",
            "--batch_size", "64")
    process = project.run("--model_name", "mnist_lit_module", "--net", "simple_dense_net", "--compile", "false", *tiny)
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    fitted = results(run_dir)
    print("hydra fit:", json.dumps({key: fitted[key] for key in ("best_score", "val", "test")}))
    assert fitted["val"]["clean"]["acc"] != fitted["val"]["noisy"]["acc"]
    assert "acc" in fitted["test"]["example_test_data"]
    assert load(run_dir / "checkpoints" / "last.ckpt")["hyper_parameters"] == {"compile": False, "scheduler": None}
    test = project.run("--model_name", "mnist_lit_module", "--mode", "test", "--ckpt",
                       str(run_dir / "checkpoints" / "last.ckpt"), *tiny)
    assert test.returncode == 0, test.stderr[-3000:]
    tested = results(project.run_dirs()[-1])["test"]["example_test_data"]
    print("hydra test of last.ckpt:", json.dumps(tested))
    assert tested == pytest.approx(fitted["test"]["example_test_data"])
