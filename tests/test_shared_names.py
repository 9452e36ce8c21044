"""The names the layers share: a key or folder name built by utils/shared_names.py splits back into its parts."""

from pathlib import Path

from utils.runs.results import per_dataset
from utils.shared_names import (
    MetricKey,
    checkpoint_temporary,
    experiment_folder,
    fold_folder,
    is_checkpoint_temporary,
    last_checkpoint,
    metric_key,
    metric_stage,
    split_lightning_key,
    split_metric_key,
    trial_folder,
    version_folder,
    version_number,
)


def test_metric_keys_split_back_into_stage_label_and_name():
    assert metric_key("train", "loss") == "train/loss"
    assert metric_key("val", "accuracy", "noisy") == "val/noisy/accuracy"
    assert metric_key("test", "f1", "mean") == "test/f1"
    for stage, label, name in (("train", None, "loss"), ("val", "clean", "f1"), ("test", None, "accuracy")):
        assert split_metric_key(metric_key(stage, name, label)) == MetricKey(stage, label, name)
    assert split_metric_key("val/loss/dataloader_idx_1") is None  # Lightning's own, not a template key
    assert split_metric_key("val/a/b/c") is None and split_metric_key("loss") is None
    assert metric_stage("val/a/b/c") == "val" and metric_stage("epoch") is None


def test_lightning_keys_of_several_dataloaders_give_their_index():
    assert split_lightning_key("val/acc/top1/dataloader_idx_2") == ("val", "acc/top1", 2)
    assert split_lightning_key("test/loss/dataloader_idx_0") == ("test", "loss", 0)
    assert split_lightning_key("train/loss/dataloader_idx_0") is None
    assert split_lightning_key("val/a/loss") is None and split_lightning_key("val/dataloader_idx_0") is None


def test_results_group_the_keys_a_run_logs_by_dataset_with_their_mean():
    metrics = {metric_key("val", "loss", label): value for label, value in (("a", 1.0), ("b", 3.0))}
    metrics.update({"val/loss": 2.0, "val/loss/dataloader_idx_0": 9.0, "train/loss": 5.0})
    assert per_dataset(metrics, "val", ["a", "b"]) == {"a": {"loss": 1.0}, "b": {"loss": 3.0}, "mean": {"loss": 2.0}}


def test_run_fold_and_trial_folders_lead_back_to_their_experiment():
    experiment = Path("Logs/net-data")
    run_dir = experiment / version_folder(12)
    assert run_dir.name == "version_12" and version_number(run_dir.name) == 12
    assert version_number("version_0_backup") is None and version_number("version_") is None
    assert experiment_folder(run_dir) == experiment
    assert experiment_folder(run_dir / fold_folder(3)) == experiment
    assert experiment_folder(experiment / "study" / trial_folder(4)) == experiment
    assert last_checkpoint(run_dir) == run_dir / "checkpoints" / "last.ckpt"


def test_a_partial_checkpoints_name_is_told_from_the_files_a_run_keeps(tmp_path):
    temporary = checkpoint_temporary(tmp_path / "last.ckpt")
    assert temporary.parent == tmp_path and is_checkpoint_temporary(temporary.name)
    for kept in ("last.ckpt", ".last.ckpt.tmp", ".last.ckpt.12-xyzxyzxy.tmp", ".last.ckpt.12-abcdef01",
                 ".12-abcdef01.tmp"):
        assert not is_checkpoint_temporary(kept), kept
