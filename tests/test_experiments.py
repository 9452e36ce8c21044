"""Cross-validation and sweeps end to end: `python main.py` on tiny data (each fold and trial a process of its own),
results read back."""

import json
import os
from collections import Counter

import optuna
import pytest
import torch
import yaml
from conftest import FAST, Project, error_line
from torch.utils.data import TensorDataset

from utils.datasets.folds import fold_split

TINY = ("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "200", *FAST)
SWEEP = "lr: {low: 1.0e-4, high: 1.0e-1, log: true}\nhidden: [8, 16]\nbatch_size: 64\n"
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def results(run_dir) -> dict:
    """A run folder's results.json."""
    return json.loads((run_dir / "results.json").read_text())


def storage_url(project: Project) -> str:
    """A SQLite study file of the project's own, outside Logs/."""
    return f"sqlite:///{project.root / 'study.db'}"


def test_folds_partition_the_train_set_and_spread_each_class_evenly():
    targets = torch.tensor([0] * 12 + [1] * 6 + [2] * 3)
    whole = TensorDataset(torch.randn(len(targets), 2), targets)
    held_out = []
    for fold in range(3):
        rest, own = fold_split(whole, 3, fold, seed=7, stratify=True)
        assert sorted(rest.indices + own.indices) == list(range(len(targets)))
        assert Counter(targets[own.indices].tolist()) == {0: 4, 1: 2, 2: 1}
        held_out += own.indices
    assert sorted(held_out) == list(range(len(targets)))
    assert fold_split(whole, 3, 1, seed=7, stratify=True)[1].indices == fold_split(whole, 3, 1, 7, True)[1].indices


def test_three_folds_each_a_run_with_mean_and_std_and_a_resume_continues_the_unfinished_fold(project):
    process = project.run(*TINY, "--folds", "3")
    assert process.returncode == 0, process.stderr[-3000:]
    [parent] = project.run_dirs()
    folds = [parent / f"fold_{fold}" for fold in range(3)]
    for fold, fold_dir in enumerate(folds):
        for name in ("config.yaml", "results.json", "checkpoints/last.ckpt", "hparams.yaml"):
            assert (fold_dir / name).is_file(), fold_dir / name
        assert list(fold_dir.glob("events.out.tfevents.*"))
        assert yaml.safe_load((fold_dir / "config.yaml").read_text())["fold"] == fold
        assert set(results(fold_dir)["val"]) == {"fold"} and set(results(fold_dir)["test"]) == {"standard_data"}
    summary = results(parent)
    assert list(summary["fold_runs"]) == ["fold_0", "fold_1", "fold_2"]
    losses = [results(fold_dir)["val"]["fold"]["loss"] for fold_dir in folds]
    assert summary["val"]["fold"]["loss"]["values"] == losses
    assert summary["val"]["fold"]["loss"]["mean"] == pytest.approx(sum(losses) / 3)
    assert summary["val"]["fold"]["loss"]["std"] == pytest.approx(torch.tensor(losses).std().item())
    assert "mean ± std over 3 folds" in process.stdout
    assert f"{summary['val']['fold']['accuracy']['mean']:.4f} ± " in process.stdout

    # As if killed during fold 1: its last checkpoint written, its results not; fold 2 never started.
    (folds[1] / "results.json").unlink()
    for path in sorted(folds[2].rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    folds[2].rmdir()
    (parent / "results.json").unlink()
    fold_0_results = (folds[0] / "results.json").read_text()
    resumed = project.run("--resume", str(parent))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "fold 0 of 3: finished earlier" in resumed.stdout
    assert "fold 1 of 3: resumed" in resumed.stdout
    assert (folds[0] / "results.json").read_text() == fold_0_results
    assert (folds[1] / "results.json").is_file() and (folds[2] / "results.json").is_file()
    assert len(results(parent)["val"]["fold"]["loss"]["values"]) == 3
    assert project.run_dirs() == [parent]


def test_two_workers_share_one_study_and_a_sweep_run_again_continues_it(project):
    project.write("sweep.yaml", SWEEP)
    sweep = ("--sweep", "sweep.yaml", "--study", "shared", "--storage", storage_url(project), "--pruner", "none")
    workers = [project.start(*TINY, *sweep, "--trials", "4") for _ in range(2)]  # side by side
    for worker in [project.wait(worker) for worker in workers]:
        assert worker.returncode == 0, worker.stderr[-3000:]
        assert "trial  state" in worker.stdout and "best_config.yaml" in worker.stdout
    study = optuna.load_study(study_name="shared", storage=storage_url(project))
    finished = study.get_trials(states=FINISHED)
    assert len(finished) == 4 and len(study.trials) == 4
    assert sorted(trial.number for trial in finished) == [0, 1, 2, 3]
    study_dir = project.logs / "standard_net-standard_data" / "shared"
    for trial in finished:
        assert 1e-4 <= trial.params["lr"] <= 1e-1 and trial.params["hidden"] in (8, 16)
        config = yaml.safe_load((study_dir / f"trial_{trial.number}" / "config.yaml").read_text())
        # --lr is the optimizer's learning rate, which config.yaml records under its full name.
        assert (config["optimizer.lr"], config["hidden"], config["batch_size"]) == (*trial.params.values(), 64)
        assert config["sweep"] is None and config["storage"] is None
    best = yaml.safe_load((study_dir / "best_config.yaml").read_text())
    assert (best["optimizer.lr"], best["hidden"]) == (study.best_params["lr"], study.best_params["hidden"])
    rerun = project.run("--config", str(study_dir / "best_config.yaml"))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    rerun_config = project.logs / "standard_net-standard_data" / "version_0" / "config.yaml"
    assert yaml.safe_load(rerun_config.read_text())["optimizer.lr"] == best["optimizer.lr"]

    trial_0 = (study_dir / "trial_0" / "results.json").read_text()
    again = project.run(*TINY, *sweep, "--trials", "5")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "4 of 5 trials finished or running" in again.stdout
    study = optuna.load_study(study_name="shared", storage=storage_url(project))
    assert [trial.number for trial in study.get_trials(states=FINISHED)] == [0, 1, 2, 3, 4]
    assert (study_dir / "trial_0" / "results.json").read_text() == trial_0
    assert (study_dir / "trial_4" / "results.json").is_file()


def test_a_trial_worse_than_the_median_is_pruned_and_keeps_its_run_folder(project):
    project.write("sweep.yaml", "lr: {low: 1.0e-4, high: 1.0e-3, log: true}\n")
    experiment_dir = project.logs / "standard_net-standard_data"
    experiment_dir.mkdir(parents=True)
    default_storage = f"sqlite:///{experiment_dir / 'optuna.db'}"  # where a sweep without --storage keeps it
    study = optuna.create_study(study_name="pruned", storage=default_storage)
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-3, log=True)
    for _ in range(5):  # the median pruner starts after 5 finished trials: theirs is a loss no trial reaches
        study.add_trial(optuna.trial.create_trial(params={"lr": 5e-4}, distributions={"lr": lr}, value=0.0,
                                                  intermediate_values={0: 0.0}))
    process = project.run(*TINY, "--sweep", "sweep.yaml", "--trials", "6", "--study", "pruned")
    assert process.returncode == 0, process.stderr[-3000:]
    trial = optuna.load_study(study_name="pruned", storage=default_storage).trials[5]
    assert trial.state == optuna.trial.TrialState.PRUNED and 0 in trial.intermediate_values
    run_dir = experiment_dir / "pruned" / "trial_5"
    assert "pruned at epoch 0" in results(run_dir)["pruned"]
    assert (run_dir / "config.yaml").is_file() and list(run_dir.glob("events.out.tfevents.*"))
    assert any(line.startswith("5 ") and "pruned" in line for line in process.stdout.splitlines())


REFUSED = {
    "more-folds-than-items": (("--folds", "181"), "", "more than the 180 items"),
    "more-folds-than-a-class": (("--folds", "30"), "", "train items of class"),
    "folds-with-test-mode": (("--folds", "3", "--mode", "test", "--ckpt", "x.ckpt"), "", "drop it for --mode test"),
    "one-fold": (("--folds", "1"), "", "at least 2 folds"),
    "sweep-without-trials": (("--sweep", "sweep.yaml"), "lr: [0.1]\n", "--sweep needs --trials"),
    "unknown-sweep-option": (("--sweep", "sweep.yaml", "--trials", "2"), "hiden: [8, 16]\n", "did you mean hidden"),
    "sweep-range-upside-down": (("--sweep", "sweep.yaml", "--trials", "2"), "lr: {low: 0.1, high: 0.01}\n",
                                "low 0.1 must be below high 0.01"),
    "sweep-log-range-from-zero": (("--sweep", "sweep.yaml", "--trials", "2"), "lr: {low: 0, high: 0.1, log: true}\n",
                                  "needs low above 0"),
    "sweep-bad-range-key": (("--sweep", "sweep.yaml", "--trials", "2"), "lr: {low: 0.1, hi: 1}\n", "not 'hi'"),
    "sweep-choice-the-option-refuses": (("--sweep", "sweep.yaml", "--trials", "2"), "optimizer: [adam, adamm]\n",
                                        "'adamm' is refused"),
    "sweep-of-a-run-option": (("--sweep", "sweep.yaml", "--trials", "2"), "log_dir: [a, b]\n", "--log_dir is not"),
    "sweep-storage-not-a-url": (("--sweep", "sweep.yaml", "--trials", "2", "--storage", "study.db"), "lr: [0.1]\n",
                                "is not a database URL"),
}


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_wrong_folds_or_sweep_is_one_error_line_before_anything_runs(fork_server, project, case):
    arguments, sweep_file, words = case
    if sweep_file:
        project.write("sweep.yaml", sweep_file)
    process = fork_server.run(project.root, *TINY, *arguments)
    assert words in error_line(process)
    assert not project.logs.exists() and not os.path.exists(project.root / "study.db")


def test_numpy_and_dict_targets_are_classes_the_folds_spread_evenly_too():
    import numpy as np

    from utils.datasets.folds import item_class

    targets = [0] * 12 + [1] * 6 + [2] * 3
    as_numpy = [(np.zeros(2, dtype=np.float32), np.int64(label)) for label in targets]
    as_dicts = [{"input_ids": torch.zeros(2), "labels": np.array([label])} for label in targets]
    for items, key in ((as_numpy, "target"), (as_dicts, "labels")):
        for fold in range(3):
            own = fold_split(items, 3, fold, seed=7, stratify=True, target_key=key)[1]
            assert Counter(targets[index] for index in own.indices) == {0: 4, 1: 2, 2: 1}
    assert item_class((0, np.float32(1.0))) is None and item_class((0, True)) is None
    assert item_class({"labels": 3}, "label") is None
