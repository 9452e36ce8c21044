"""--mode validate, test and predict on a checkpoint: its run's net, datasets and experiment are the defaults.

Every `python main.py` runs in a fork of one process that has imported torch and Lightning (tests/forked_main.py),
in one project copy shared by the tests of this file.
"""

import csv
import json
import shutil

import pytest
import torch
import yaml
from conftest import FAST, copy_project, error_line

# Two val sets of one class under their own labels, a dataset argument and a net argument: all must follow.
TRAINED = ("--model_name", "standard_net", "--train_dataset", "standard_data", "--val_datasets",
           "clean=standard_data", "noisy=standard_data:noise=3.0", "--num_samples", "300", "--hidden", "8",
           "--experiment", "trained", *FAST)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """One project copy for the tests of this file (its `run` forks main.py from this worker's fork server)."""
    return copy_project(tmp_path_factory.mktemp("checkpoint_modes") / "project")


@pytest.fixture(scope="module")
def trained(project):
    """The project, with one finished run of TRAINED, and that run's folder."""
    return project, run_on(project, *TRAINED)


def config_of(run_dir):
    """The run's config.yaml."""
    return yaml.safe_load((run_dir / "config.yaml").read_text())


def results_of(run_dir):
    """The run's results.json."""
    return json.loads((run_dir / "results.json").read_text())


def run_on(project, *arguments):
    """Run main.py, check that it succeeded, and return the one run folder it made."""
    before = set(project.run_dirs())
    process = project.run(*arguments)
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = set(project.run_dirs()) - before
    return run_dir


@pytest.mark.parametrize("mode", ["test", "validate"])
def test_a_checkpoint_alone_brings_its_net_datasets_arguments_and_experiment(trained, mode):
    project, fitted_dir = trained
    checkpoint = results_of(fitted_dir)["best_checkpoint"]
    run_dir = run_on(project, "--mode", mode, "--ckpt", checkpoint, "--limit_val_batches", "2",
                     "--limit_test_batches", "2")
    assert run_dir.parent.name == "trained"
    config = config_of(run_dir)
    assert config["model_name"] == "standard_net" and config["hidden"] == 8 and config["num_samples"] == 300
    assert config["val_datasets"] == ["clean=standard_data", "noisy=standard_data:noise=3.0"]
    stage = {"test": "test", "validate": "val"}[mode]
    # The same sets, built with the same arguments and split: the numbers of the trained run come back.
    fitted, evaluated = results_of(fitted_dir)[stage], results_of(run_dir)[stage]
    assert set(evaluated) == {"clean", "noisy", "mean"}
    for label in ("clean", "noisy"):
        assert evaluated[label]["loss"] == pytest.approx(fitted[label]["loss"], abs=1e-6)


def test_a_checkpoint_of_a_run_in_another_log_dir_is_tested_into_that_log_dir(project, fork_server):
    fitted = project.run(*TRAINED, "--experiment", "elsewhere", "--log_dir", "other_logs")
    assert fitted.returncode == 0, fitted.stderr[-3000:]
    fitted_dir = project.root / "other_logs" / "elsewhere" / "version_0"
    checkpoint = str(fitted_dir / "checkpoints" / "last.ckpt")
    tested = project.run("--mode", "test", "--ckpt", checkpoint, "--limit_test_batches", "2")
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert (project.root / "other_logs" / "elsewhere" / "version_1" / "results.json").is_file()
    assert not (project.logs / "elsewhere").exists()
    tested = project.run("--mode", "test", "--ckpt", checkpoint, "--limit_test_batches", "2", "--log_dir", "Logs")
    assert tested.returncode == 0 and (project.logs / "elsewhere" / "version_0" / "results.json").is_file()
    # Started from another folder, the run's folder of runs is found where the checkpoint lies.
    (project.root / "scripts").mkdir(exist_ok=True)
    tested = fork_server.run(project.root / "scripts", "--mode", "test", "--ckpt",
                             "../other_logs/elsewhere/version_0/checkpoints/last.ckpt", "--limit_test_batches", "2",
                             script="../main.py")
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert (project.root / "other_logs" / "elsewhere" / "version_2" / "results.json").is_file()


def test_a_moved_checkpoint_still_knows_its_run(trained, tmp_path):
    project, fitted_dir = trained
    moved = tmp_path / "moved.ckpt"
    shutil.copy(fitted_dir / "checkpoints" / "last.ckpt", moved)
    run_dir = run_on(project, "--mode", "predict", "--ckpt", str(moved))
    assert run_dir.parent.name == "trained"
    predictions = torch.load(run_dir / "predictions.pt", weights_only=True)
    assert set(predictions) == {"clean", "noisy"}
    assert len(predictions["clean"]["outputs"]) == 30  # the 10% held out of the 300 items of --num_samples 300
    assert predictions["noisy"]["outputs"].shape == (300, 10)


def test_an_older_checkpoint_reads_its_run_folders_config(trained):
    project, fitted_dir = trained
    checkpoint = torch.load(fitted_dir / "checkpoints" / "last.ckpt", weights_only=True)
    del checkpoint["template_config"]  # as checkpoints written before they stored their run's configuration
    older = fitted_dir / "checkpoints" / "older.ckpt"
    torch.save(checkpoint, older)
    run_dir = run_on(project, "--mode", "test", "--ckpt", str(older), "--limit_test_batches", "2")
    assert config_of(run_dir)["num_samples"] == 300 and run_dir.parent.name == "trained"
    assert set(results_of(run_dir)["test"]) == {"clean", "noisy", "mean"}


def test_datasets_given_on_the_command_line_win(trained):
    project, fitted_dir = trained
    checkpoint = str(fitted_dir / "checkpoints" / "last.ckpt")
    run_dir = run_on(project, "--mode", "test", "--ckpt", checkpoint, "--test_datasets",
                     "small=standard_data:num_samples=50")
    config = config_of(run_dir)
    assert config["test_datasets"] == ["small=standard_data:num_samples=50"]
    assert config["train_dataset"] == "standard_data" and config["num_samples"] == 300
    assert set(results_of(run_dir)["test"]) == {"small"}

    project.write("data/other_points.py", OTHER_POINTS)  # a new file in data/, as a user adds one
    run_dir = run_on(project, "--mode", "predict", "--ckpt", checkpoint, "--dataset", "other_points")
    config = config_of(run_dir)
    assert config["test_datasets"] == ["other_points"] and "num_samples" not in config  # standard_data's argument
    assert config["hidden"] == 8 and run_dir.parent.name == "trained"
    assert len(torch.load(run_dir / "predictions.pt", weights_only=True)["other_points"]["outputs"]) == 2


def test_another_net_than_the_checkpoints_is_refused(trained):
    project, fitted_dir = trained
    before = project.run_dirs()
    line = error_line(project.run("--mode", "test", "--ckpt", str(fitted_dir / "checkpoints" / "last.ckpt"),
                                  "--model_name", "example_net"))
    assert "holds the weights of standard_net" in line and "--model_name example_net" in line
    assert project.run_dirs() == before


def test_a_folds_checkpoint_tests_on_its_test_sets(project):
    fold_dir = run_on(project, "--model_name", "standard_net", "--train_dataset", "standard_data", "--test_datasets",
                      "standard_data", "--num_samples", "200", "--folds", "2", "--fold", "0", "--experiment", "folds",
                      *FAST)
    run_dir = run_on(project, "--mode", "test", "--ckpt", str(fold_dir / "checkpoints" / "last.ckpt"))
    assert set(results_of(run_dir)["test"]) == {"standard_data"} and config_of(run_dir)["num_samples"] == 200


OTHER_POINTS = '''
import torch
from torch.utils.data import Dataset


class OtherPoints(Dataset):
    """Twenty points of 16 features (a split of two held out for val and test)."""

    def __init__(self, seed_of_points: int = 1):
        self.points = torch.randn(20, 16, generator=torch.Generator().manual_seed(seed_of_points))

    def __len__(self):
        return len(self.points)

    def __getitem__(self, index):
        return self.points[index], index % 10
'''

ID_ITEMS = '''
import torch
from torch.utils.data import Dataset


class IdItems(Dataset):
    """Twelve items (features, label, id)."""

    def __init__(self):
        self.points = torch.randn(12, 4, generator=torch.Generator().manual_seed(0))

    def __len__(self):
        return len(self.points)

    def __getitem__(self, index):
        return self.points[index], index % 3, 100 + index
'''

NAMED_ITEMS = '''
import torch
from torch.utils.data import Dataset, default_collate


class NamedItems(Dataset):
    """Five dict items with a file name, a meta dict and a box list of its own length, which collate_fn keeps."""

    def __init__(self):
        self.points = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))

    def __len__(self):
        return len(self.points)

    def __getitem__(self, index):
        return {"inputs": self.points[index], "target": index % 3, "file": f"image_{index}.png",
                "meta": {"size": 10 * index, "source": "camera"}, "boxes": torch.ones(index % 3, 4)}

    def collate_fn(self, items):
        boxes = [item.pop("boxes") for item in items]
        return {**default_collate(items), "boxes": boxes}
'''


def test_predictions_keep_what_items_carry_beside_the_outputs(project):
    project.write("data/id_items.py", ID_ITEMS)
    project.write("data/named_items.py", NAMED_ITEMS)
    fitted_dir = run_on(project, "--model_name", "standard_net", "--num_features", "4", "--num_classes", "3",
                        "--train_dataset", "id_items", "--val_datasets", "ids=id_items", "named=named_items",
                        "--val_fraction", "0.5", "--batch_size", "4", *FAST)
    run_dir = run_on(project, "--mode", "predict", "--ckpt", str(fitted_dir / "checkpoints" / "last.ckpt"))

    predictions = torch.load(run_dir / "predictions.pt", weights_only=True)
    ids, named = predictions["ids"], predictions["named"]
    assert ids["outputs"].shape == (6, 3)  # half of the twelve items held out, in batches of 4 and 2
    assert ids["extras"]["extra_0"].tolist() == [100 + index for index in ids["index"].tolist()]
    assert ids["extras"]["target"].tolist() == [index % 3 for index in ids["index"].tolist()]
    assert "index" not in named  # its own collate_fn makes the batches: rows are not known to be items in order
    assert named["extras"]["file"] == [f"image_{index}.png" for index in range(5)]
    assert named["extras"]["meta"]["size"].tolist() == [0, 10, 20, 30, 40]
    assert named["extras"]["meta"]["source"] == ["camera"] * 5
    assert [tuple(boxes.shape) for boxes in named["extras"]["boxes"]] == [(0, 4), (1, 4), (2, 4), (0, 4), (1, 4)]

    with (run_dir / "predictions.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["dataset"] for row in rows] == ["ids"] * 6 + ["named"] * 5
    for row in rows[:6]:
        assert int(row["extra_0"]) == 100 + int(row["index"]) and row["file"] == ""
    assert "boxes" not in rows[0]  # more than one value per item: in predictions.pt alone
    named_rows = rows[6:]
    assert [row["file"] for row in named_rows] == named["extras"]["file"]
    assert [int(row["meta.size"]) for row in named_rows] == [0, 10, 20, 30, 40]
    scores = [[float(row[f"output_{c}"]) for c in range(3)] for row in rows]
    assert torch.allclose(torch.tensor(scores), torch.cat([ids["outputs"], named["outputs"]]), atol=1e-5)
    assert [int(row["predicted"]) for row in rows] == torch.tensor(scores).argmax(1).tolist()


SKIPPING_ITEMS = '''
import torch
from torch.utils.data import Dataset, default_collate


class SkippingItems(Dataset):
    """Ten items (features, label, id); item 3 is corrupt (None), which collate_fn drops, as such datasets do."""

    def __init__(self, split: str = "test"):
        self.points = torch.randn(10, 16, generator=torch.Generator().manual_seed(2))

    def __len__(self):
        return len(self.points)

    def __getitem__(self, index):
        return None if index == 3 else (self.points[index], index % 10, 100 + index)

    @staticmethod
    def collate_fn(items):
        return default_collate([item for item in items if item is not None])
'''


def test_predictions_of_a_set_whose_collate_fn_drops_items_have_no_index_but_keep_each_items_id(trained):
    project, fitted_dir = trained
    project.write("data/skipping_items.py", SKIPPING_ITEMS)
    before = set(project.run_dirs())
    process = project.run("--mode", "predict", "--ckpt", str(fitted_dir / "checkpoints" / "last.ckpt"), "--dataset",
                          "skipping_items", "--batch_size", "4")
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = set(project.run_dirs()) - before
    predicted = torch.load(run_dir / "predictions.pt", weights_only=True)["skipping_items"]
    assert predicted["outputs"].shape == (9, 10)
    assert "index" not in predicted  # 0, 1, 2, 3, ... would name items 0, 1, 2, 4, ...: none rather than a wrong one
    assert predicted["extras"]["extra_0"].tolist() == [100 + index for index in range(10) if index != 3]
    with (run_dir / "predictions.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert "index" not in rows[0] and [int(row["extra_0"]) for row in rows] == predicted["extras"]["extra_0"].tolist()
    assert ("note: the predictions of 'skipping_items' have no index: their rows follow the batches that "
            "SkippingItems's own collate_fn makes") in process.stdout


UNLABELED = '''
import torch
from torch.utils.data import Dataset


class Unlabeled(Dataset):
    """Six points to predict on, without targets: bare tensors, or dicts of the inputs and a file name."""

    def __init__(self, form: str = "bare"):
        self.points = torch.randn(6, 16, generator=torch.Generator().manual_seed(3))
        self.form = form

    def __len__(self):
        return len(self.points)

    def __getitem__(self, index):
        if self.form == "bare":
            return self.points[index]
        return {"inputs": self.points[index], "file": f"image_{index}.png"}
'''


def test_predict_takes_items_without_targets_and_the_other_modes_still_ask_for_them(trained):
    project, fitted_dir = trained
    project.write("data/unlabeled.py", UNLABELED)
    checkpoint = str(fitted_dir / "checkpoints" / "last.ckpt")
    run_dir = run_on(project, "--mode", "predict", "--ckpt", checkpoint, "--test_datasets", "bare=unlabeled",
                     "named=unlabeled:form=dict", "--batch_size", "4")
    predictions = torch.load(run_dir / "predictions.pt", weights_only=True)
    bare, named = predictions["bare"], predictions["named"]
    assert bare["outputs"].shape == (6, 10) and bare["index"].tolist() == list(range(6)) and bare["extras"] == {}
    assert torch.allclose(named["outputs"], bare["outputs"])
    assert named["extras"] == {"file": [f"image_{index}.png" for index in range(6)]}
    with (run_dir / "predictions.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["file"] for row in rows] == [""] * 6 + named["extras"]["file"]
    line = error_line(project.run("--mode", "test", "--ckpt", checkpoint, "--test_datasets",
                                  "named=unlabeled:form=dict"))
    assert line.startswith("error: a dict batch has no key 'target'")


def test_task_options_stated_for_a_test_apply_to_it_and_its_record_leaves_out_what_only_fit_reads(trained):
    project, fitted_dir = trained
    checkpoint = results_of(fitted_dir)["best_checkpoint"]
    plain = run_on(project, "--mode", "test", "--ckpt", checkpoint, "--max_epochs", "2")
    smoothed = run_on(project, "--mode", "test", "--ckpt", checkpoint, "--label_smoothing", "0.3", "--metrics",
                      "accuracy", "auroc")
    assert set(results_of(plain)["test"]["clean"]) == {"loss", "accuracy", "f1"}
    values, before = results_of(smoothed)["test"]["clean"], results_of(plain)["test"]["clean"]
    assert set(values) == {"loss", "accuracy", "auroc"} and values["accuracy"] == before["accuracy"]
    assert values["loss"] > before["loss"]  # the same outputs, scored against smoothed targets
    assert config_of(smoothed)["label_smoothing"] == 0.3
    assert not {"max_epochs", "optimizer", "weights", "monitor", "optimizer.lr"} & set(config_of(plain))
    line = error_line(project.run("--mode", "test", "--ckpt", checkpoint, "--weights", checkpoint))
    assert line == ("error: --weights is for --mode fit, which trains the net; --mode test uses the weights of "
                    "--ckpt as they are: drop --weights")
