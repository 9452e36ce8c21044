"""TensorBoard's hparams tab: each run's options and its metrics, read back with TensorBoard's own reader."""

from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata

from tests.conftest import FAST

TINY = ("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "200", *FAST)


def session_starts(run_dir: Path) -> list[dict]:
    """The options of each session start written into the run folder, event file by event file, oldest first."""
    starts = []
    for events in sorted(run_dir.glob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        if metadata.SESSION_START_INFO_TAG in accumulator.Tags()["tensors"]:
            content = accumulator.PluginTagToContent(metadata.PLUGIN_NAME)[metadata.SESSION_START_INFO_TAG]
            start = metadata.parse_session_start_info_plugin_data(content)
            starts.append({name: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
                           for name, value in start.hparams.items()} | {"group": start.group_name})
    return starts


def scalar_tags(run_dir: Path) -> set[str]:
    """Every scalar tag TensorBoard reads from the run folder."""
    accumulator = EventAccumulator(str(run_dir))
    accumulator.Reload()
    return set(accumulator.Tags()["scalars"])


def test_a_run_lists_its_options_and_metrics_and_a_resumed_run_its_new_options(project):
    process = project.run(*TINY, "--batch_size", "32", "--seed", "7")
    assert process.returncode == 0, process.stderr[-3000:]
    (run_dir,) = project.run_dirs()
    (start,) = session_starts(run_dir)
    assert start["batch_size"] == 32 and start["seed"] == 7 and start["max_epochs"] == 1
    assert start["val_datasets"] == "standard_data" and start["experiment"] == "none"
    assert start["optimizer.lr"] == 0.001 and start["group"] == "standard_net-standard_data/version_0"
    assert {"val/standard_data/loss", "val/standard_data/accuracy", "test/standard_data/accuracy"} <= \
        scalar_tags(run_dir)
    resumed = project.run("--resume", str(run_dir), "--max_epochs", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert [start["max_epochs"] for start in session_starts(run_dir)] == [1, 2]


def test_a_cross_validation_parent_lists_its_options_and_the_means_over_its_folds(project):
    process = project.run(*TINY, "--folds", "2")
    assert process.returncode == 0, process.stderr[-3000:]
    (parent,) = project.run_dirs()
    (start,) = session_starts(parent)
    assert start["folds"] == 2
    accumulator = EventAccumulator(str(parent))
    accumulator.Reload()
    assert {"val/fold/loss", "test/standard_data/accuracy"} <= set(accumulator.Tags()["scalars"])
    for fold in range(2):
        (fold_start,) = session_starts(parent / f"fold_{fold}")
        assert fold_start["fold"] == fold and fold_start["group"].endswith(f"/fold_{fold}")
