"""What a --metrics entry means is what torchmetrics builds: the way its value improves, the arguments its class
takes, and one number to log."""

import pytest

import main
from main import checked_command
from utils.errors import UserError
from utils.tasks.kinds import task_kind
from utils.tasks.metric_catalogue import build_metric

STANDARD = ["--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "64"]


@pytest.mark.parametrize(("task", "metric"), [
    ("classification", "exact_match"), ("classification", "f_beta_score:beta=2.0"),
    ("classification", "critical_success_index:threshold=0.5"), ("segmentation", "mean_iou"),
    ("regression", "spectral_angle_mapper"), ("regression", "learned_perceptual_image_patch_similarity"),
    ("classification", "hinge_loss"), ("regression", "r2")])
def test_an_unset_monitor_mode_is_the_way_the_monitored_metrics_class_says_it_improves(task, metric):
    name = metric.partition(":")[0]
    command = checked_command([*STANDARD, "--task", task, "--metrics", metric, "--monitor", f"val/{name}"])
    if name != "learned_perceptual_image_patch_similarity":  # building it loads a net's weights
        better = build_metric(metric, task_kind(task).metrics_task, 3).higher_is_better
        assert command.settings.trainer.monitor_mode == ("max" if better else "min")
    expected = "min" if name in ("spectral_angle_mapper", "learned_perceptual_image_patch_similarity",
                                 "hinge_loss") else "max"
    assert command.settings.trainer.monitor_mode == expected


def test_a_monitored_metric_whose_class_does_not_say_which_way_is_better_asks_for_the_monitor_mode():
    arguments = [*STANDARD, "--metrics", "negative_predictive_value", "--monitor", "val/negative_predictive_value"]
    with pytest.raises(UserError, match="pass --monitor_mode max or min"):
        checked_command(arguments)
    assert checked_command([*arguments, "--monitor_mode", "max"]).settings.trainer.monitor_mode == "max"


@pytest.mark.parametrize(("metrics_task", "entry", "argument", "built"), [
    ("binary", "f1:average=macro", "average", "BinaryF1Score"),
    ("binary", "accuracy:average=macro", "average", "BinaryAccuracy"),
    ("binary", "accuracy:top_k=2", "top_k", "BinaryAccuracy"),
    ("multiclass", "auroc:max_fpr=0.5", "max_fpr", "MulticlassAUROC")])
def test_an_argument_the_class_built_for_the_task_does_not_take_is_refused(metrics_task, entry, argument, built):
    with pytest.raises(UserError, match=f"builds {built} for this task, which does not take '{argument}'"):
        build_metric(entry, metrics_task, 3)
    build_metric(entry.partition(":")[0], metrics_task, 3)  # the same metric without it is built


def test_an_ignored_metric_argument_stops_the_run_with_one_line_before_its_folder(tmp_path, capsys):
    code = main.main([*STANDARD, "--metrics", "auroc:max_fpr=0.5", "--log_dir", str(tmp_path), "--accelerator", "cpu",
                      "--max_epochs", "1"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("error: --metrics auroc:max_fpr=0.5: AUROC builds MulticlassAUROC")
    assert not list(tmp_path.glob("*/version_*"))


@pytest.mark.parametrize("entry", ["roc", "precision_recall_curve", "recall_at_fixed_precision:min_precision=0.5"])
def test_a_curve_or_a_value_with_its_threshold_is_refused_in_one_line_before_the_run_folder(entry, tmp_path, capsys):
    code = main.main([*STANDARD, "--metrics", entry, "--log_dir", str(tmp_path), "--accelerator", "cpu",
                      "--max_epochs", "1"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"error: the metric {entry.partition(':')[0]!r} gives a tuple")
    assert not list(tmp_path.glob("*/version_*"))
