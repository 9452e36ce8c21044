"""Every loss, optimizer, scheduler and Trainer option reaches Lightning and trains for at least a step."""

import json
import os
from types import SimpleNamespace

import pytest
import torch
from conftest import error_line
from pytorch_lightning.callbacks import (
    DeviceStatsMonitor,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
)
from torch.utils.data import Dataset

import main
from utils.config.command_line import parse_command_line
from utils.config.settings import OptimizationSettings
from utils.optimization import build_optimizer, build_schedulers
from utils.trainer.build import build_trainer
from utils.trainer.net_summary import NetSummary
from utils.trainer.run_callbacks import template_callbacks

STANDARD = ["--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "200"]
TINY = ["--max_epochs", "2", "--limit_train_batches", "2", "--batch_size", "16", "--confusion_images", "off"]


@pytest.fixture
def fit(tmp_path, monkeypatch):
    """Run main.py in this process on StandardData; return the run folder and results.json."""
    def run(*arguments: str) -> tuple:
        monkeypatch.setenv("TEMPLATE_RUN_DIR", "")
        assert main.main([*STANDARD, *TINY, "--log_dir", str(tmp_path), *arguments]) == 0
        [run_dir] = sorted(tmp_path.glob("*/version_*"))[-1:]
        return run_dir, json.loads((run_dir / "results.json").read_text())
    return run


@pytest.mark.parametrize("arguments, metric", [
    (["--loss", "cross_entropy", "--label_smoothing", "0.1"], "accuracy"),
    (["--loss", "mse"], "accuracy"),
    (["--loss", "l1"], "f1"),
    (["--loss", "smooth_l1"], "f1"),
    (["--loss", "bce_with_logits"], "accuracy"),
    (["--task", "regression", "--loss", "mse", "--num_classes", "1"], "mae"),
    (["--task", "regression", "--loss", "smooth_l1", "--num_classes", "1"], "mae"),
    (["--task", "binary", "--loss", "bce_with_logits", "--num_classes", "1"], "f1"),
])
def test_each_loss_trains_and_reports_the_task_metrics(fit, arguments, metric):
    _, results = fit(*arguments)
    values = results["val"]["standard_data"]
    assert metric in values and "loss" in values
    assert all(value == value for value in values.values())  # no NaN


@pytest.mark.parametrize("arguments, expected", [
    (["--optimizer", "sgd", "--momentum", "0.5", "--nesterov"], {"momentum": 0.5, "nesterov": True}),
    (["--optimizer", "sgd", "--optimizer.momentum", "0.4", "--optimizer.dampening", "0.1"],
     {"momentum": 0.4, "dampening": 0.1}),
    (["--optimizer", "adam", "--betas", "0.8", "0.99"], {"betas": (0.8, 0.99)}),
    (["--optimizer", "adamw", "--weight_decay", "0.05"], {"weight_decay": 0.05}),
    (["--optimizer", "rmsprop", "--optimizer.alpha", "0.9", "--lr", "0.01"], {"alpha": 0.9, "lr": 0.01}),
    (["--optimizer", "RAdam", "--optimizer.decoupled_weight_decay"], {"decoupled_weight_decay": True}),
    (["--optimizer", "adagrad", "--optimizer.lr_decay", "0.01"], {"lr_decay": 0.01}),
])
def test_each_optimizer_trains_with_its_settings_in_the_checkpoint(fit, arguments, expected):
    run_dir, _ = fit(*arguments)
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    group = checkpoint["optimizer_states"][0]["param_groups"][0]
    assert {key: tuple(group[key]) if key == "betas" else group[key] for key in expected} == expected
    stored = checkpoint["hyper_parameters"]["optimization"]
    assert stored["optimizer"] == arguments[1].lower()
    assert all(stored["optimizer_arguments"][key] == pytest.approx(value) for key, value in expected.items())


SCHEDULERS = {
    "step": ["--scheduler.step_size", "1"], "multistep": ["--milestones", "1"], "cosine": [], "cosine_restarts": [],
    "exponential": [], "plateau": ["--scheduler.patience", "0"], "one_cycle_lr": [], "polynomial_lr": [],
    "linear_lr": ["--start_factor", "0.5"], "constant_lr": [], "cyclic_lr": ["--scheduler.max_lr", "0.01"],
}


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_each_scheduler_trains_with_warm_up_and_logs_the_learning_rate(fit, scheduler):
    run_dir, _ = fit("--scheduler", scheduler, *SCHEDULERS[scheduler], "--warmup_steps", "2",
                     "--log_every_n_steps", "1")
    assert "lr" in scalars(run_dir)


def scalars(run_dir) -> dict[str, list[float]]:
    """Every scalar a run logged, by tag, in step order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir))
    events.Reload()
    return {tag: [event.value for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_one_cycle_lr_is_stepped_every_batch_over_the_runs_steps_up_to_lr(fit):
    run_dir, _ = fit("--scheduler", "one_cycle_lr", "--lr", "0.1", "--max_epochs", "3", "--limit_train_batches", "4",
                     "--log_every_n_steps", "1")
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    [scheduler] = checkpoint["lr_schedulers"]
    assert scheduler["total_steps"] == 12 and scheduler["last_epoch"] == 12
    assert checkpoint["optimizer_states"][0]["param_groups"][0]["max_lr"] == 0.1
    rates = scalars(run_dir)["lr"]
    assert len(rates) == 12 and rates[0] == pytest.approx(0.1 / 25)
    assert max(rates) == pytest.approx(0.1, rel=0.05) and rates[-1] < rates[0]


@pytest.mark.parametrize("arguments, filled", [
    (["--scheduler", "cosine", "--max_epochs", "3"], {"T_max": 3}),
    (["--scheduler", "polynomial_lr", "--max_epochs", "3", "--power", "2"], {"total_iters": 3, "power": 2.0}),
    (["--scheduler", "plateau", "--monitor", "val/accuracy", "--monitor_mode", "max"], {"mode": "max"}),
])
def test_what_the_run_knows_is_filled_in(fit, arguments, filled):
    run_dir, _ = fit(*arguments)
    [scheduler] = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["lr_schedulers"]
    assert {key: scheduler[key] for key in filled} == filled


def _settings(scheduler: str = "none", warmup_steps: int = 0, **scheduler_arguments) -> OptimizationSettings:
    return OptimizationSettings(optimizer="sgd", optimizer_arguments={"lr": 1.0, "momentum": 0.0}, scheduler=scheduler,
                                scheduler_arguments=scheduler_arguments, warmup_steps=warmup_steps)


def _learning_rates(settings: OptimizationSettings, epochs: int, steps_per_epoch: int = 1) -> list[float]:
    """The learning rate each optimizer step used, read from what the step did to a parameter of gradient 1."""
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = build_optimizer([parameter], settings)
    trainer = SimpleNamespace(max_epochs=epochs, estimated_stepping_batches=epochs * steps_per_epoch, global_step=0)
    configs = build_schedulers(optimizer, settings, trainer)
    rates = []
    for _ in range(epochs):
        for _ in range(steps_per_epoch):
            before = parameter.item()
            parameter.grad = torch.ones(1)
            optimizer.step()
            trainer.global_step += 1
            rates.append(before - parameter.item())
            for config in configs:
                if config["interval"] == "step":
                    config["scheduler"].step()
        for config in configs:
            if config["interval"] == "epoch":
                config["scheduler"].step(1.0) if "monitor" in config else config["scheduler"].step()
    return rates


def test_warm_up_ramps_linearly_then_hands_over_to_the_scheduler():
    rates = _learning_rates(_settings("step", warmup_steps=4, step_size=2, gamma=0.5), epochs=4, steps_per_epoch=3)
    assert rates[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert rates[5] == pytest.approx(1.0) and rates[6] == pytest.approx(0.5)  # decayed after epoch 2
    assert rates[-1] == pytest.approx(0.5)


def test_warm_up_scales_a_per_step_schedule_without_changing_it():
    alone = _learning_rates(_settings("one_cycle_lr"), epochs=2, steps_per_epoch=4)
    warmed = _learning_rates(_settings("one_cycle_lr", warmup_steps=3), epochs=2, steps_per_epoch=4)
    assert warmed == pytest.approx([rate * min(1.0, (step + 1) / 4) for step, rate in enumerate(alone)])


def test_a_schedule_the_run_is_too_short_for_is_one_error_line():
    from utils.optimization import UserError  # the module's own class (a test re-importing modules may leave two)

    with pytest.raises(UserError, match=r"one_cycle_lr cannot schedule this run \(max_lr=1.0, total_steps=5\): "
                                        r"ZeroDivisionError.*--pct_start"):
        _learning_rates(_settings("one_cycle_lr", pct_start=0.2), epochs=1, steps_per_epoch=5)
    assert len(_learning_rates(_settings("one_cycle_lr", pct_start=0.3), epochs=1, steps_per_epoch=5)) == 5


def test_epoch_schedulers_follow_their_formulas():
    assert _learning_rates(_settings("multi_step_lr", milestones=[1, 3]), 4) == pytest.approx([1, 0.1, 0.1, 0.01])
    assert _learning_rates(_settings("exponential_lr", gamma=0.5), 3) == pytest.approx([1, 0.5, 0.25])
    assert _learning_rates(_settings("cosine_annealing_lr"), 3) == pytest.approx([1, 0.75, 0.25])
    assert _learning_rates(_settings("cosine_annealing_warm_restarts", T_0=2), 4) == pytest.approx([1, 0.5, 1, 0.5])
    assert _learning_rates(_settings("reduce_lr_on_plateau", patience=0, factor=0.5), 3) == pytest.approx([1, 1, 0.5])
    assert _learning_rates(_settings("polynomial_lr", power=1.0), 4) == pytest.approx([1, 0.75, 0.5, 0.25])


def test_trainer_options_reach_the_trainer(tmp_path):
    command = parse_command_line([
        *STANDARD, "--max_epochs", "7", "--min_epochs", "2", "--limit_train_batches", "0.5",
        "--limit_val_batches", "3", "--limit_test_batches", "4", "--val_check_interval", "0.5",
        "--gradient_clip_val", "1.5", "--accumulate_grad_batches", "3", "--log_every_n_steps", "7",
        "--precision", "bf16-mixed", "--deterministic", "--device_stats", "--summary_depth", "2",
        "--scheduler", "cosine", "--monitor", "val/accuracy", "--monitor_mode", "max", "--patience", "3",
        "--save_top_k", "2", "--accelerator", "cpu", "--devices", "1",
    ])
    trainer = build_trainer(command.settings.trainer, tmp_path / "exp" / "version_0", learning_rate_changes=True)
    assert (trainer.max_epochs, trainer.min_epochs) == (7, 2)
    assert (trainer.limit_train_batches, trainer.limit_val_batches, trainer.limit_test_batches) == (0.5, 3, 4)
    assert trainer.val_check_interval == 0.5 and trainer.gradient_clip_val == 1.5
    assert trainer.accumulate_grad_batches == 3 and trainer.log_every_n_steps == 7
    assert trainer.precision == "bf16-mixed"
    assert torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(False)
    for kind in (DeviceStatsMonitor, LearningRateMonitor, EarlyStopping, ModelCheckpoint):
        assert any(isinstance(callback, kind) for callback in trainer.callbacks), kind
    stopping = next(c for c in trainer.callbacks if isinstance(c, EarlyStopping))
    assert (stopping.monitor, stopping.mode, stopping.patience) == ("val/accuracy", "max", 3)
    checkpoint = trainer.checkpoint_callback
    assert (checkpoint.monitor, checkpoint.mode, checkpoint.save_top_k) == ("val/accuracy", "max", 2)
    assert any(c.filename == "last" and c.monitor is None for c in trainer.callbacks if isinstance(c, ModelCheckpoint))
    assert [c.max_depth for c in template_callbacks(trainer) if isinstance(c, NetSummary)] == [2]


def test_profiler_writes_its_report_into_the_run_folder(fit):
    run_dir, _ = fit("--profiler", "simple")
    assert list(run_dir.glob("*profile*.txt"))


def test_workers_persist_only_when_there_are_workers():
    from data.data_interface import DInterface

    for workers, persistent in ((0, False), (2, True)):
        command = parse_command_line([*STANDARD, "--num_workers", str(workers)])
        datamodule = DInterface(command.train_entry, command.val_entries, command.test_entries,
                                command.dataset_classes, command.class_values(), command.settings.data)
        loader = datamodule.train_dataloader()
        assert loader.num_workers == workers and loader.persistent_workers is persistent


def test_monitoring_a_per_dataset_key_names_the_best_checkpoint_after_it(fit):
    run_dir, results = fit("--monitor", "val/standard_data/accuracy", "--monitor_mode", "max")
    names = [path.name for path in (run_dir / "checkpoints").iterdir()]
    assert any("val_standard_data_accuracy" in name for name in names), names
    assert results["monitor"] == "val/standard_data/accuracy"


def test_train_set_is_held_out_from_only_when_it_is_also_evaluated():
    from data.data_interface import DInterface

    mnist = parse_command_line(["--model_name", "example_net"])
    shorthand = parse_command_line(STANDARD)
    sizes = []
    for command in (mnist, shorthand):
        datamodule = DInterface(command.train_entry, command.val_entries, command.test_entries,
                                command.dataset_classes, command.class_values(), command.settings.data)
        sizes.append((len(datamodule.train_set), [len(dataset) for dataset in datamodule.val_sets.values()]))
    assert sizes[0] == (55000, [5000, 5000])  # other classes validate: the whole train set trains
    assert sizes[1] == (180, [20])  # one class for every stage: 10% held out, never trained on


class TrainAndTestSplits(Dataset):
    """A split parameter that knows train (200 items) and test (50), as many public datasets do; item i holds i."""

    def __init__(self, split: str = "train"):
        if split not in ("train", "test"):
            raise ValueError(f"Unknown split {split!r}")
        self.size = 200 if split == "train" else 50

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        return torch.tensor([float(index)]), 0


def item_indices(dataset) -> set[int]:
    """The indices the items of `dataset` hold."""
    return {int(dataset[position][0]) for position in range(len(dataset))}


@pytest.mark.parametrize(("train", "val", "test", "test_size"), [
    ("two_splits:split=train", "two_splits:split=train", "two_splits:split=train", 20),  # --dataset's shorthand
    ("two_splits:split=train", "two_splits:split=train", "two_splits:split=test", 50),
    ("two_splits", "two_splits:split=train", "t=two_splits:split=test", 50),  # the train split named or not
])
def test_a_val_set_built_as_the_train_set_is_is_held_out_of_it_split_included(train, val, test, test_size):
    from data.data_interface import DInterface
    from utils.config.dataset_entries import parse_entry

    command = parse_command_line(STANDARD)
    datamodule = DInterface(parse_entry(train), [parse_entry(val)], [parse_entry(test)],
                            {"two_splits": TrainAndTestSplits}, command.class_values(), command.settings.data)
    [val_set], [test_set] = datamodule.val_sets.values(), datamodule.test_sets.values()
    trained = item_indices(datamodule.train_set)
    assert (len(trained), len(val_set), len(test_set)) == (180, 20, test_size)
    assert not trained & item_indices(val_set)  # validated on items it never trained on


def test_a_machine_without_gpu_stops_the_per_step_nvml_query(monkeypatch):
    from utils.trainer.platform import NVML_CHECK, stop_probing_for_absent_gpus

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setenv(NVML_CHECK, "1")  # as importing Lightning leaves it
    assert stop_probing_for_absent_gpus()
    assert os.environ[NVML_CHECK] == "0"
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv(NVML_CHECK, "1")
    assert not stop_probing_for_absent_gpus()  # a GPU: Lightning's fork-safe check stays
    assert os.environ[NVML_CHECK] == "1"


@pytest.mark.parametrize(("flag", "kept"), [([], True), (["--no-keep_freed_memory"], False)])
def test_every_process_that_trains_keeps_freed_memory_unless_told_not_to(tmp_path, monkeypatch, flag, kept):
    from utils.trainer.callbacks import FreedMemoryKept

    calls = []
    monkeypatch.setattr("utils.trainer.callbacks.keep_freed_memory", lambda: calls.append(True))
    settings = parse_command_line([*STANDARD, "--accelerator", "cpu", *flag]).settings.trainer
    trainer = build_trainer(settings, tmp_path / "exp" / "version_0")
    chosen = [callback for callback in template_callbacks(trainer) if isinstance(callback, FreedMemoryKept)]
    assert len(chosen) == kept
    for callback in chosen:  # Lightning calls setup in each process, ddp_spawn's ranks included
        callback.setup(trainer, None, "fit")
    assert len(calls) == kept


def test_results_report_the_best_checkpoints_validation_not_the_last(fit, tmp_path):
    # With max mode on the loss, the worst epoch is the "best": the results must be that epoch's, not the last.
    run_dir, results = fit("--monitor", "val/loss", "--monitor_mode", "max", "--max_epochs", "3",
                           "--limit_train_batches", "4")
    history = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["validation_history"]
    assert len(history) == 3 and results["best_step"] == min(history)
    reported = results["val"]["standard_data"]["loss"]
    assert reported == pytest.approx(history[results["best_step"]]["val/loss"])
    assert reported == pytest.approx(max(values["val/loss"] for values in history.values()))
    assert main.main([*STANDARD, "--mode", "validate", "--ckpt", results["best_checkpoint"], "--log_dir",
                      str(tmp_path)]) == 0
    validated = json.loads(sorted(tmp_path.glob("*/version_*"))[-1].joinpath("results.json").read_text())
    assert validated["val"]["standard_data"]["accuracy"] == pytest.approx(results["val"]["standard_data"]["accuracy"])


def test_checkpoints_are_saved_at_validations_within_an_epoch(fit):
    run_dir, _ = fit("--val_check_interval", "0.5", "--limit_train_batches", "4", "--max_epochs", "1",
                     "--save_top_k", "2")
    names = sorted(path.name for path in (run_dir / "checkpoints").iterdir())
    best = [name.split("-")[1] for name in names if name != "last.ckpt"]
    assert best == ["step2", "step4"] and "last.ckpt" in names
    [step4] = [name for name in names if "-step4-" in name]
    assert torch.load(run_dir / "checkpoints" / step4, weights_only=True)["global_step"] == 4
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 4 and sorted(last["validation_history"]) == [2, 4]


@pytest.mark.parametrize(("arguments", "scheduler", "lr"), [
    ((), "one_cycle_lr", 0.004),  # the default job: ExampleNet on the MNIST example
    (("--model_name", "example_net", "--max_epochs", "5"), "one_cycle_lr", 0.004),
    (("--optimizer.lr", "0.002"), "none", 0.002),
    (("--lr", "0.002"), "none", 0.002),  # a former name states it as well
    (("--scheduler", "none"), "none", 0.001),
    (("--scheduler", "cosine"), "cosine_annealing_lr", 0.001),
    (("--optimizer", "sgd"), "none", 0.001),
    (("--label_smoothing", "0"), "none", 0.001),
    (("--test_datasets", "example_test_data"), "one_cycle_lr", 0.004),  # the test sets change no training
    (("--val_datasets", "clean=example_eval_data"), "none", 0.001),  # trained on other terms than the recipe's
    (STANDARD, "none", 0.001),
])
def test_the_default_job_alone_trains_on_its_one_cycle_recipe_unless_its_training_is_stated(arguments, scheduler, lr):
    options = parse_command_line(list(arguments)).options
    assert (options["scheduler"], options["optimizer.lr"]) == (scheduler, lr)
    assert options["label_smoothing"] == (0.1 if scheduler == "one_cycle_lr" else 0.0)


def test_a_config_file_that_sets_the_learning_rate_keeps_the_default_jobs_schedule_off(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("optimizer.lr: 0.0005\n")
    options = parse_command_line(["--config", str(config)]).options
    assert (options["scheduler"], options["optimizer.lr"]) == ("none", 0.0005)


def test_save_top_k_minus_one_keeps_every_validations_checkpoint(fit):
    run_dir, results = fit("--save_top_k", "-1", "--max_epochs", "3", "--patience", "0")
    kept = sorted(path.name for path in (run_dir / "checkpoints").glob("epoch*.ckpt"))
    assert [name[:8] for name in kept] == ["epoch000", "epoch001", "epoch002"]
    assert results["best_checkpoint"].rsplit("/", 1)[1] in kept


TWO_SPLITS = '''import torch
from torch.utils.data import Dataset


class TwoSplits(Dataset):
    """Train (64 items) and test (16) splits, as many public datasets have."""

    def __init__(self, split: str = "train"):
        self.x = torch.randn(64 if split == "train" else 16, 16)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return self.x[index], index % 10
'''


def test_a_val_fraction_that_would_hold_out_nothing_is_one_error_line(project):
    project.write("data/two_splits.py", TWO_SPLITS)
    arguments = ("--model_name", "standard_net", "--train_dataset", "two_splits", "--val_datasets",
                 "v=two_splits:split=test", "--max_epochs", "1")
    line = error_line(project.run(*arguments, "--val_fraction", "0.3"))
    assert line.startswith("error: --val_fraction 0.3 holds out part of the train set") and "drop" in line, line
    assert not project.run_dirs()
    assert project.run(*arguments, "--val_fraction", "0.3", "--val_datasets", "two_splits:split=train").returncode == 0
