"""Round 3 of wrong inputs (issue 27): what a resume may not change, checks before the run folder, files read safely.

Each case runs `python main.py ARGS` in a fork of one process that has imported torch and Lightning already
(tests/forked_main.py): one `error: ...` line naming what was wrong, exit code 2, and Logs/ byte for byte as it was.
"""

import json
import shutil
import struct
import zipfile
from pathlib import Path

import pytest
from bad_user_files import STANDARD_NET_RENAMED_PARAMETER
from conftest import FAST, PROJECT, Project, copy_project, error_line, linear_net_with_metrics
from forked_main import ForkServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_bad_input import Case, prepare, tree_hash
from test_one_writer import hold

STANDARD = ("--model_name", "standard_net", "--dataset", "standard_data")
SINGLE_RUN = "Logs/standard_net-standard_data/version_0"
CROSS_VALIDATION = "Logs/cv/version_0"
# The standard dataset under another name: the same parameters, so only the dataset's name differs.
OTHER_DATA = (PROJECT / "data" / "standard_data.py").read_text().replace("class StandardData", "class OtherData")
NET_WITH_LIST_METRICS = linear_net_with_metrics("ListMetricsNet", "import torchmetrics",
                                                "[torchmetrics.Accuracy(task='multiclass', num_classes=10)]")
NET_WITH_PER_ITEM_LOSS = """
from torch import nn


class PerItemLossNet(nn.Module):
    def __init__(self, num_features: int = 16, num_classes: int = 10):
        super().__init__()
        self.layer = nn.Linear(num_features, num_classes)

    def forward(self, x):
        return self.layer(x)

    def loss(self, outputs, target):
        return nn.functional.cross_entropy(outputs, target, reduction="none")
"""
MODULE_WITHOUT_OPTIMIZERS = """
import lightning
import torch


class NoOptimizerModule(lightning.LightningModule):
    def __init__(self, num_features: int = 16):
        super().__init__()
        self.layer = torch.nn.Linear(num_features, 10)

    def training_step(self, batch, batch_idx):
        inputs, target = batch
        return torch.nn.functional.cross_entropy(self.layer(inputs), target)
"""
# Longer than any file of options: refused by its size, before YAML reads a byte.
HUGE_CONFIG = "# " + "x" * (20 * 2**20) + "\nlr: 0.1\n"
SWEEP = ("--sweep", "sweep.yaml", "--trials", "2")
# Few examples: each is a forked main.py of a second or so.
FEW = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


CASES = [
    # A resume keeps what defines a cross-validation.
    Case("cv_resumed_with_another_seed", ("--resume", CROSS_VALIDATION, "--seed", "7"),
         ("seed=42", "seed=7", f"--resume {CROSS_VALIDATION}")),
    Case("cv_resumed_with_another_val_fraction", ("--resume", CROSS_VALIDATION, "--val_fraction", "0.3"),
         ("val_fraction=0.1", "val_fraction=0.3")),
    Case("cv_resumed_with_other_train_items", ("--resume", CROSS_VALIDATION, "--noise", "0.5"), ("noise",)),
    Case("cv_resumed_on_another_dataset", ("--resume", CROSS_VALIDATION, "--dataset", "other_data"),
         ("train_dataset='standard_data'", "'other_data'"), {"data/other_data.py": OTHER_DATA}),
    Case("fold_resumed_with_more_folds", ("--resume", f"{CROSS_VALIDATION}/fold_0", "--folds", "4"),
         ("folds=2", "folds=4", f"main.py --resume {CROSS_VALIDATION} continues the whole")),
    Case("fold_resumed_as_another_fold", ("--resume", f"{CROSS_VALIDATION}/fold_1", "--fold", "0"),
         ("fold=1", "fold=0")),
    # Checks made before the run folder is claimed.
    Case("metric_of_another_task", (*STANDARD, "--metrics", "mean_absolute_error"),
         ("the metric mean_absolute_error refused the sample batch", "StandardData")),
    Case("metric_argument_misspelt", (*STANDARD, "--metrics", "f1_score:averag=macro"),
         ("f1_score:averag=macro", "averag")),
    Case("net_metrics_a_list", ("--model_name", "list_metrics_net", "--dataset", "standard_data"),
         ("ListMetricsNet.metrics()", "list"), {"model/list_metrics_net.py": NET_WITH_LIST_METRICS}),
    Case("net_loss_per_item", ("--model_name", "per_item_loss_net", "--dataset", "standard_data"),
         ("PerItemLossNet.loss()", "shape [2]", ".mean()"), {"model/per_item_loss_net.py": NET_WITH_PER_ITEM_LOSS}),
    Case("own_module_without_optimizers", ("--model_name", "no_optimizer_module", "--dataset", "standard_data"),
         ("NoOptimizerModule", "configure_optimizers"), {"model/no_optimizer_module.py": MODULE_WITHOUT_OPTIMIZERS}),
    Case("gpu_only_optimizer_flag_on_cpu", (*STANDARD, "--accelerator", "cpu", "--optimizer.capturable", "true"),
         ("--optimizer adam", "CPU", "capturable")),
    Case("mlflow_server_not_listening", (*STANDARD, "--logger", "mlflow", "--mlflow_uri", "http://127.0.0.1:9"),
         ("127.0.0.1:9", "cannot be reached")),
    Case("mlflow_uri_of_an_artifact_store", (*STANDARD, "--logger", "csv", "mlflow", "--mlflow_uri", "s3://bucket"),
         ("s3://bucket", "no tracking store")),
    Case("mlflow_checkpoints_without_mlflow", (*STANDARD, "--logger", "csv", "--mlflow_checkpoints"),
         ("--mlflow_checkpoints", "--logger csv mlflow")),
    Case("log_dir_not_utf8", (*STANDARD, "--log_dir", "runs\udcff"), ("runs\\xff", "not UTF-8")),
    Case("compare_path_not_utf8", ("--compare", "Logs/\udce9t\udce9"), ("not UTF-8",)),
    # Files read without a net.
    Case("compare_results_not_json", ("--compare", "Logs/standard_net-standard_data"),
         (f"{SINGLE_RUN}/results.json", "not valid JSON"), {f"{SINGLE_RUN}/results.json": '{"best_score": 0.5,'}),
    Case("compare_results_a_list", ("--compare", SINGLE_RUN), ("results.json", "JSON list"),
         {f"{SINGLE_RUN}/results.json": "[0.5, 0.25]\n"}),
    Case("compare_config_not_utf8", ("--compare", "Logs/standard_net-standard_data"),
         (f"{SINGLE_RUN}/config.yaml", "not UTF-8"), {f"{SINGLE_RUN}/config.yaml": b"seed: 42\nnote: \xff\xfe\n"}),
    Case("compare_config_a_sentence", ("--compare", SINGLE_RUN), ("config.yaml", "mapping"),
         {f"{SINGLE_RUN}/config.yaml": "a run of mine\n"}),
    Case("storage_not_a_database", (*STANDARD, *SWEEP, "--storage", "sqlite:///notes.txt"),
         ("notes.txt", "not a database"), {"sweep.yaml": "lr: [0.1, 0.01]\n", "notes.txt": "my notes\n" * 50}),
    Case("config_of_twenty_megabytes", (*STANDARD, "--config", "huge.yaml"), ("huge.yaml", "20.0 MiB"),
         {"huge.yaml": HUGE_CONFIG}),
    Case("sweep_file_of_twenty_megabytes", (*STANDARD, "--sweep", "huge.yaml", "--trials", "2"),
         ("sweep file huge.yaml", "MiB"), {"huge.yaml": HUGE_CONFIG}),
    # Smaller things.
    Case("logger_named_twice", (*STANDARD, "--logger", "tensorboard", "csv", "tensorboard"),
         ("tensorboard twice", "every row twice")),
    Case("metric_argument_nan", (*STANDARD, "--metrics", "accuracy:threshold=nan"), ("threshold=nan", "finite")),
    Case("metric_argument_overflows", (*STANDARD, "--metrics", "f1_score:threshold=1e999"),
         ("threshold=1e999", "finite")),
    Case("resumed_config_key_the_net_lost", ("--resume", SINGLE_RUN), ("--resume", "'hidden'", "the run's own net"),
         {"model/standard_net.py": STANDARD_NET_RENAMED_PARAMETER}),
    Case("storage_driver_missing", (*STANDARD, *SWEEP, "--storage", "mysql+pymysql://user@localhost/db"),
         ("'pymysql'", "pip install PyMySQL"), {"sweep.yaml": "lr: [0.1, 0.01]\n"}),
    # Sweep files' values built and checked before the first trial.
    Case("sweep_fractional_step_on_an_integer", (*STANDARD, *SWEEP), ("hidden", "12.5", "int"),
         {"sweep.yaml": "hidden: {low: 8, high: 64, step: 4.5}\n"}),
    Case("sweep_of_the_monitor", (*STANDARD, *SWEEP), ("--monitor cannot vary", "one monitor"),
         {"sweep.yaml": "monitor: [val/loss, val/accuracy]\n"}),
    Case("sweep_of_the_monitor_mode", (*STANDARD, *SWEEP), ("--monitor_mode cannot vary",),
         {"sweep.yaml": "monitor_mode: [min, max]\n"}),
    Case("sweep_of_dataset_beside_train_dataset", ("--model_name", "standard_net", "--train_dataset", "standard_data",
                                                   "--val_datasets", "standard_data", *SWEEP),
         ("dataset is swept", "--train_dataset overrides it"),
         {"sweep.yaml": "dataset: [standard_data, other_data]\n", "data/other_data.py": OTHER_DATA}),
    Case("sweep_of_a_net_that_cannot_take_the_data", (*STANDARD, *SWEEP), ("model_name: 'example_net'", "cannot train"),
         {"sweep.yaml": "model_name: [standard_net, example_net]\nlr: [0.1]\n"}),
    Case("single_run_resumed_as_one_fold", ("--resume", SINGLE_RUN, "--folds", "3", "--fold", "1"),
         ("--folds 3", "single run", "in place")),
]


@pytest.fixture(scope="module")
def earlier_logs(fork_server: ForkServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Logs/ of an earlier single run and of an earlier finished 2-fold cross-validation."""
    earlier = copy_project(tmp_path_factory.mktemp("earlier") / "project")
    for arguments in (STANDARD, (*STANDARD, "--folds", "2", "--experiment", "cv")):
        process = fork_server.run(earlier.root, *arguments, *FAST)
        assert process.returncode == 0, process.stderr[-3000:]
    assert (earlier.root / SINGLE_RUN / "results.json").is_file()
    assert (earlier.root / CROSS_VALIDATION / "fold_1" / "results.json").is_file()
    return earlier.logs


@pytest.fixture(scope="module")
def shared_project(earlier_logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """One copy with the earlier Logs/, for generated cases that each must leave it as it was."""
    project = copy_project(tmp_path_factory.mktemp("shared") / "project")
    shutil.copytree(earlier_logs, project.logs)
    return project


def assert_refused(process, project: Project, words: tuple[str, ...], logs_hash: str) -> str:
    """One error line naming `words`, exit code 2, and Logs/ as it was; the line."""
    line = error_line(process)
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"
    assert tree_hash(project.logs) == logs_hash
    return line


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_wrong_input_is_one_error_line_and_changes_nothing(fork_server: ForkServer, earlier_logs: Path,
                                                           project: Project, case: Case):
    logs_hash = prepare(project, earlier_logs, case)
    assert_refused(fork_server.run(project.root, *case.args), project, case.words, logs_hash)


@FEW
@given(seed=st.integers(0, 2**32 - 1).filter(lambda seed: seed != 42), folds=st.one_of(st.none(), st.integers(2, 9)))
def test_cross_validation_resumed_with_another_split_is_refused(fork_server: ForkServer, shared_project: Project,
                                                                seed: int, folds: int | None):
    """Any other seed, with or without a --folds of its own, is refused before anything is written."""
    logs_hash = tree_hash(shared_project.logs)
    more = ("--folds", str(folds)) if folds else ()
    process = fork_server.run(shared_project.root, "--resume", CROSS_VALIDATION, "--seed", str(seed), *more)
    line = assert_refused(process, shared_project, ("--resume",), logs_hash)
    assert f"folds={folds}" in line if folds not in (None, 2) else f"seed={seed}" in line


@FEW
@given(text=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8), byte=st.integers(0x80, 0xFF),
       option=st.sampled_from(["--log_dir", "--experiment", "--data_dir", "--val_datasets"]))
def test_a_word_that_is_not_utf8_is_refused_before_anything_is_written(fork_server: ForkServer,
                                                                      shared_project: Project, text: str, byte: int,
                                                                      option: str):
    """A byte that no UTF-8 text has, anywhere in any value, is one line: Python hands it over as a lone surrogate."""
    logs_hash = tree_hash(shared_project.logs)
    word = f"{text}{chr(0xDC00 + byte)}{text}"
    process = fork_server.run(shared_project.root, *STANDARD, option, word)
    assert_refused(process, shared_project, ("not UTF-8", f"\\x{byte:02x}"), logs_hash)


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=4),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                        max_size=3), max_leaves=8)


@FEW
@given(content=st.binary(max_size=40) | JSON_VALUES.map(lambda value: json.dumps(value).encode())
       | st.dictionaries(st.sampled_from(["test", "best_score", "monitor", "pruned"]), JSON_VALUES, min_size=1)
       .map(lambda value: json.dumps(value).encode()))
@example(content=b'{"test": {"\\n": {"": null}, "a\\tb": {"loss\\r": 0.5}}}')  # labels a terminal would not print
def test_compare_reads_any_results_file_as_a_table_or_one_line_naming_it(fork_server: ForkServer,
                                                                        shared_project: Project, content: bytes):
    """Whatever bytes a results.json holds, --compare prints its table or one error line naming that file."""
    results = shared_project.root / SINGLE_RUN / "results.json"
    kept = results.read_bytes()
    results.write_bytes(content)
    try:
        process = fork_server.run(shared_project.root, "--compare", SINGLE_RUN)
    finally:
        results.write_bytes(kept)
    if process.returncode == 0:
        lines = process.stdout.splitlines()  # the header and the run's row, one line each
        assert len(lines) == 2 and lines[1].startswith("standard_net-standard_data/version_0"), process.stdout
    else:
        assert "results.json" in error_line(process)


@FEW
@given(metric=st.sampled_from(["accuracy", "f1_score", "precision"]),
       spelling=st.sampled_from(["nan", "NaN", ".nan", "inf", "-inf", ".inf", "-.Inf", "Infinity", "1e400", "-2e308"]))
def test_a_metric_argument_that_is_not_finite_is_refused(fork_server: ForkServer, shared_project: Project,
                                                         metric: str, spelling: str):
    logs_hash = tree_hash(shared_project.logs)
    process = fork_server.run(shared_project.root, *STANDARD, "--metrics", f"{metric}:threshold={spelling}")
    assert_refused(process, shared_project, (f"threshold={spelling}", "not a finite number"), logs_hash)


@FEW
@given(loggers=st.lists(st.sampled_from(["tensorboard", "csv", "mlflow"]), min_size=2, max_size=5)
       .filter(lambda names: len(set(names)) < len(names)))
def test_a_logger_named_twice_is_refused(fork_server: ForkServer, shared_project: Project, loggers: list[str]):
    logs_hash = tree_hash(shared_project.logs)
    process = fork_server.run(shared_project.root, *STANDARD, "--logger", *loggers)
    assert_refused(process, shared_project, (f"--logger {' '.join(loggers)}", "twice"), logs_hash)


@pytest.mark.parametrize("value", ['{"storage": "sqlite:///gone.db", "study": "s", "pruner": "none", "trial": 0}',
                                   "not json"])
def test_a_sweep_trial_variable_left_in_the_shell_is_one_line(project: Project, value: str):
    """The variable a sweep worker hands each trial, left set in a shell, is refused, not a traceback."""
    process = project.run(*STANDARD, *FAST, variables={"TEMPLATE_SWEEP_TRIAL": value})
    assert "TEMPLATE_SWEEP_TRIAL" in error_line(process) and "unset" in error_line(process)
    assert not project.logs.exists() or not any(project.logs.iterdir())


@pytest.mark.parametrize(("recorded", "words"), [
    (None, ("holds trials that vary lr", "another --study")),
    ({"lr": [0.1, 0.2]}, ("another search space", "lr differ")),
])
def test_a_study_of_another_search_space_is_refused(fork_server: ForkServer, project: Project, recorded: dict | None,
                                                    words: tuple[str, ...]):
    """A study that holds trials of another sweep file is not continued with this one: its trials would mix."""
    import optuna

    url = f"sqlite:///{project.root / 'studies.db'}"
    study = optuna.create_study(storage=url, study_name="shared", direction="minimize")
    study.add_trial(optuna.trial.create_trial(params={"lr": 0.1}, value=1.0,
                                              distributions={"lr": optuna.distributions.CategoricalDistribution(
                                                  [0.1, 0.2])}))
    if recorded is not None:
        study.set_user_attr("sweep_file", recorded)
    project.write("sweep.yaml", "lr: [0.1, 0.3]\n" if recorded else "batch_size: [16, 32]\n")
    process = fork_server.run(project.root, *STANDARD, *SWEEP, "--study", "shared", "--storage", url)
    assert_refused(process, project, words, "absent")


@FEW
@given(step=st.floats(0.05, 20).filter(lambda step: not step.is_integer()))
def test_a_fractional_step_on_an_integer_option_is_refused(fork_server: ForkServer, shared_project: Project,
                                                           step: float):
    logs_hash = tree_hash(shared_project.logs)
    (shared_project.root / "sweep.yaml").write_text(f"hidden: {{low: 8, high: 64, step: {step!r}}}\n")
    process = fork_server.run(shared_project.root, *STANDARD, *SWEEP)
    assert_refused(process, shared_project, ("sweep file sweep.yaml: hidden", f"{8 + step!r}"), logs_hash)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fold=st.sampled_from([None, 0, 1]), extra=st.sampled_from([(), ("--max_epochs", "2")]))
def test_a_folder_a_live_process_holds_is_not_resumed(fork_server: ForkServer, shared_project: Project,
                                                      fold: int | None, extra: tuple[str, ...]):
    """A cross-validation's folder, or one fold's, held by a live writer (an orphan of a killed parent) is refused."""
    folder = Path(CROSS_VALIDATION) / f"fold_{fold}" if fold is not None else Path(CROSS_VALIDATION)
    logs_hash = tree_hash(shared_project.logs)
    holder = hold(shared_project.root / folder)
    try:
        process = fork_server.run(shared_project.root, "--resume", str(folder), *extra)
    finally:
        holder.kill()
        holder.wait()
    assert_refused(process, shared_project, (f"the run in {folder} is still running", f"process {holder.pid}"),
                   logs_hash)


def tensor_data_span(checkpoint: Path) -> tuple[int, int]:
    """(offset, size) in the file of the largest tensor's bytes, which torch stores uncompressed."""
    with zipfile.ZipFile(checkpoint) as archive:
        tensors = [info for info in archive.infolist() if "/data/" in info.filename]
    largest = max(tensors, key=lambda info: info.file_size)
    with checkpoint.open("rb") as file:
        file.seek(largest.header_offset + 26)
        name_length, extra_length = struct.unpack("<HH", file.read(4))
    return largest.header_offset + 30 + name_length + extra_length, largest.file_size


def alter(checkpoint: Path, position: float, mask: int) -> None:
    """XOR one byte of the checkpoint's weights with `mask`, at a fraction `position` into its largest tensor."""
    offset, size = tensor_data_span(checkpoint)
    content = bytearray(checkpoint.read_bytes())
    content[offset + min(int(position * size), size - 1)] ^= mask
    checkpoint.write_bytes(bytes(content))


@pytest.mark.parametrize("mode", [("--mode", "test", "--ckpt"), ("--resume",)], ids=["test", "resume"])
def test_a_checkpoint_whose_weights_were_altered_is_refused(fork_server: ForkServer, earlier_logs: Path,
                                                            project: Project, mode: tuple[str, ...]):
    prepare(project, earlier_logs, Case("altered", (), ()))
    checkpoint = project.root / SINGLE_RUN / "checkpoints" / "last.ckpt"
    alter(checkpoint, 0.5, 0x10)
    logs_hash = tree_hash(project.logs)
    arguments = (*STANDARD, *mode, str(checkpoint)) if len(mode) > 1 else (*mode, SINGLE_RUN)
    process = fork_server.run(project.root, *arguments)
    assert_refused(process, project, ("last.ckpt", "do not match the digest", "altered"), logs_hash)


@FEW
@given(position=st.floats(0, 1), mask=st.integers(1, 255))
def test_any_altered_byte_of_the_weights_is_found(fork_server: ForkServer, shared_project: Project, position: float,
                                                   mask: int):
    checkpoint = shared_project.root / SINGLE_RUN / "checkpoints" / "last.ckpt"
    kept = checkpoint.read_bytes()
    alter(checkpoint, position, mask)
    try:
        logs_hash = tree_hash(shared_project.logs)
        process = fork_server.run(shared_project.root, *STANDARD, "--mode", "predict", "--ckpt", str(checkpoint))
        assert_refused(process, shared_project, ("do not match the digest",), logs_hash)
    finally:
        checkpoint.write_bytes(kept)
