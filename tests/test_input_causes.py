"""Inputs that used to be taken the wrong way: what the command line says wins, and `~` is a home folder."""

from pathlib import Path

import pytest

from main import checked_command


@pytest.fixture
def in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_dataset_on_the_command_line_replaces_the_stages_of_a_config_file(in_empty_folder):
    (in_empty_folder / "run.yaml").write_text("train_dataset: other=standard_data:noise=3.0\n"
                                              "val_datasets: [a=standard_data, b=standard_data]\n")
    command = checked_command(["--model_name", "standard_net", "--config", "run.yaml", "--dataset", "standard_data"])
    config = command.resolved_config()
    assert (config["dataset"], config["train_dataset"]) == ("standard_data", "standard_data")
    assert config["val_datasets"] == ["standard_data"] and config["test_datasets"] == ["standard_data"]


def test_stages_on_the_command_line_replace_the_dataset_of_a_config_file(in_empty_folder):
    (in_empty_folder / "run.yaml").write_text("dataset: standard_data\nnoise: 2.0\n")
    command = checked_command(["--model_name", "standard_net", "--config", "run.yaml", "--train_dataset",
                               "standard_data", "--val_datasets", "a=standard_data:noise=0.5"])
    config = command.resolved_config()
    assert config["dataset"] is None and config["val_datasets"] == ["a=standard_data:noise=0.5"]
    assert config["noise"] == 2.0  # keys no option replaces still come from the file


def test_a_tilde_in_log_dir_is_the_home_folder(in_empty_folder, monkeypatch):
    monkeypatch.setenv("HOME", str(in_empty_folder / "home"))
    command = checked_command(["--model_name", "standard_net", "--dataset", "standard_data", "--log_dir=~/runs"])
    assert command.settings.run.log_dir == str(in_empty_folder / "home" / "runs")
