"""The option registry: each framework option declared once feeds the parser, the settings and the Trainer."""

import inspect
import json
from dataclasses import replace

import pytest
import torch

import main
from utils.config.command_line import parse_command_line
from utils.config.framework_options import OPTIONS, names_where
from utils.lightning_package import Trainer
from utils.trainer.build import trainer_arguments

STANDARD = ["--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "64"]
TINY = ["--max_epochs", "1", "--batch_size", "16", "--accelerator", "cpu", "--confusion_images", "off"]


def test_every_trainer_option_is_a_keyword_argument_of_the_trainer():
    settings = parse_command_line(STANDARD).settings.trainer
    arguments = trainer_arguments(settings)
    assert set(arguments) == set(names_where(trainer=True))
    assert set(arguments) <= set(inspect.signature(Trainer.__init__).parameters)


@pytest.mark.parametrize("devices", ["auto", -1])
def test_predict_takes_one_device_where_the_devices_are_left_to_lightning(devices):
    # --devices auto (or -1) on a machine of several GPUs would start a process per GPU, each predicting its share.
    settings = replace(parse_command_line(STANDARD).settings.trainer, mode="predict", devices=devices)
    assert trainer_arguments(settings)["devices"] == 1
    assert trainer_arguments(replace(settings, mode="test"))["devices"] == devices


def test_each_option_has_its_default_when_not_given():
    options = parse_command_line(STANDARD).options
    defaults = {option.name: option.default for option in OPTIONS if option.name not in ("model_name", "dataset")}
    assert {name: options[name] for name in defaults} == defaults


def test_config_yaml_keeps_the_saved_options_and_leaves_out_the_others(tmp_path, monkeypatch):
    monkeypatch.setenv("TEMPLATE_RUN_DIR", "")
    assert main.main([*STANDARD, *TINY, "--log_dir", str(tmp_path)]) == 0
    [run_dir] = tmp_path.glob("*/version_*")
    config = (run_dir / "config.yaml").read_text()
    saved = names_where(saved=True)
    assert all(f"\n{name}:" in f"\n{config}" for name in saved)
    assert not any(f"\n{name}:" in f"\n{config}" for name in names_where(saved=False))


@pytest.mark.parametrize("newer", [("ignore_index", "class_axis", "output_key"), ("warmup_steps",)])
def test_a_checkpoint_saved_before_an_option_existed_still_tests(tmp_path, monkeypatch, capsys, newer):
    monkeypatch.setenv("TEMPLATE_RUN_DIR", "")
    assert main.main([*STANDARD, *TINY, "--log_dir", str(tmp_path)]) == 0
    [checkpoint_path] = tmp_path.glob("*/version_*/checkpoints/last.ckpt")
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    for group in ("task", "optimization"):
        for name in newer:
            checkpoint["hyper_parameters"][group].pop(name, None)
    older = tmp_path / "older.ckpt"
    torch.save(checkpoint, older)
    assert main.main(["--mode", "test", "--ckpt", str(older), "--log_dir", str(tmp_path / "tests"),
                      "--accelerator", "cpu"]) == 0
    [results] = (tmp_path / "tests").glob("*/version_*/results.json")
    assert json.loads(results.read_text())["mode"] == "test"


@pytest.mark.parametrize(("given", "mode"), [
    ([], "min"), (["--monitor", "val/accuracy"], "max"), (["--monitor", "val/clean/f1"], "max"),
    (["--monitor", "val/mse"], "min"), (["--monitor", "val/accuracy", "--monitor_mode", "min"], "min"),
    (["--monitor", "val/loss", "--monitor_mode", "max"], "max")])
def test_an_unset_monitor_mode_follows_the_monitors_name_and_a_given_one_wins(given, mode):
    assert parse_command_line([*STANDARD, *given]).options["monitor_mode"] == mode


@pytest.mark.parametrize(("task", "metric"), [
    ("classification", "accuracy"), ("classification", "f1"), ("classification", "auroc"),
    ("classification", "precision"), ("classification", "recall"), ("classification", "average_precision"),
    ("classification", "cohen_kappa"), ("classification", "matthews_corr_coef"), ("classification", "hamming_distance"),
    ("classification", "calibration_error"), ("classification", "jaccard_index"),
    ("segmentation", "iou"), ("segmentation", "dice"), ("regression", "mse"), ("regression", "mae"),
    ("regression", "r2"), ("regression", "explained_variance"), ("regression", "spearman_corr_coef"),
    ("regression", "cosine_similarity"), ("regression", "psnr:data_range=1.0")])
def test_the_monitor_mode_a_metrics_name_gives_is_the_way_torchmetrics_says_it_improves(task, metric):
    from utils.shared_names import monitor_mode_of
    from utils.tasks.kinds import task_kind
    from utils.tasks.metric_catalogue import build_metric

    built = build_metric(metric, task_kind(task).metrics_task, 3)
    assert built.higher_is_better is not None
    assert monitor_mode_of(f"val/{metric.partition(':')[0]}") == ("max" if built.higher_is_better else "min")
