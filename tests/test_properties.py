"""Generated option values, dataset entries and config files: a run or one `error:` line, never a traceback.

The command line is parsed and checked in this process (every check made before a dataset is built), and a
smaller sample runs `python main.py` whole in a fork server, where a refused run must leave Logs/ as it was.
"""

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import FAST, copy_project
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_bad_input import tree_hash

from main import checked_command
from utils.errors import UserError

STANDARD = ("--model_name", "standard_net", "--dataset", "standard_data")
FLOAT_OPTIONS = ("--lr", "--weight_decay", "--gradient_clip_val", "--noise", "--val_fraction", "--limit_val_batches")
INT_OPTIONS = ("--batch_size", "--max_epochs", "--hidden", "--num_samples", "--seed", "--num_workers", "--devices",
               "--save_top_k", "--patience", "--num_nodes", "--limit_train_batches")
ENTRY_KEYS = ("noise", "num_samples", "num_features", "data_seed", "num_classes", "unknown")
EDGE_WORDS = ("inf", "-inf", "nan", "1e400", "-1e400", "0", "-1", "1_000", "0x10", "", " ", "1.5", "true", "~")
CONFIG_KEYS = (*(option[2:] for option in (*FLOAT_OPTIONS, *INT_OPTIONS)), "dataset", "resume", "config", "x")

numbers_as_text = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(EDGE_WORDS),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)
option_values = st.tuples(st.sampled_from(FLOAT_OPTIONS + INT_OPTIONS), numbers_as_text)
labels = st.one_of(st.sampled_from(("mean", "a", "loss", "x" * 300)),
                   st.text(alphabet="abcxyz_019-=:,./", min_size=0, max_size=40))
entries = st.builds(lambda label, key, value: f"{label}=standard_data:{key}={value}", labels,
                    st.sampled_from(ENTRY_KEYS), numbers_as_text)
yaml_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70),
                        st.text(max_size=12), st.booleans(), st.none(), st.lists(st.integers(), max_size=3))
config_files = st.dictionaries(st.sampled_from(CONFIG_KEYS), yaml_values, max_size=4)


def refused_or_checked(argv: list[str], folder: Path) -> None:
    """Parse and check `argv`: a Command or a one-line UserError, and nothing created under Logs/."""
    try:
        checked_command(argv)
    except UserError as error:
        assert "\n" not in str(error) and str(error)
    assert not (folder / "Logs").exists()


@pytest.fixture
def in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder, so a run folder created by mistake would show."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@QUICK
@given(values=st.lists(option_values, min_size=1, max_size=3))
def test_generated_option_values_are_checked_or_refused_in_one_line(in_empty_folder, values):
    refused_or_checked([*STANDARD, *(f"{option}={value}" for option, value in values)], in_empty_folder)


@QUICK
@given(entry_list=st.lists(entries, min_size=1, max_size=3))
def test_generated_dataset_entries_are_checked_or_refused_in_one_line(in_empty_folder, entry_list):
    refused_or_checked(["--model_name", "standard_net", "--train_dataset", "standard_data", "--val_datasets",
                        *(f"{entry}" for entry in entry_list)], in_empty_folder)


@QUICK
@given(config=config_files)
@example(config={"resume": "\n"})  # a value the error line quotes: a newline in it must not split the line
def test_generated_config_files_are_checked_or_refused_in_one_line(in_empty_folder, config):
    (in_empty_folder / "run.yaml").write_text(yaml.safe_dump(config))
    refused_or_checked([*STANDARD, "--config", "run.yaml"], in_empty_folder)


# Sizes that only make a run longer or larger stay with the parsing tests above: 10**15 epochs is a valid request.
RUN_OPTIONS = tuple(option for option in FLOAT_OPTIONS + INT_OPTIONS
                    if option not in ("--max_epochs", "--num_samples", "--hidden", "--patience"))


# The same examples on every machine, so a CI run cannot draw one that this machine never tried.
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.tuples(st.sampled_from(RUN_OPTIONS), numbers_as_text), min_size=1, max_size=2))
def test_generated_runs_train_or_leave_logs_as_they_were(fork_server, tmp_path_factory, values):
    project = copy_project(tmp_path_factory.mktemp("generated") / "project")
    before = tree_hash(project.logs)
    process = fork_server.run(project.root, *STANDARD, *FAST, "--num_samples", "64",
                              *(f"{option}={value}" for option, value in values))
    assert "Traceback" not in process.stderr, process.stderr[-3000:]
    if process.returncode == 0:
        assert len(project.run_dirs()) == 1
    else:
        lines = [line for line in process.stderr.splitlines() if line.strip()]
        assert process.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), process.stderr
        assert tree_hash(project.logs) == before
    shutil.rmtree(project.root)
