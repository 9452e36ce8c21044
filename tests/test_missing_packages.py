"""A feature whose package is not installed: one `error:` line naming the `pip install` to run, nothing written.

The runs fork from a server in which MLflow, Optuna, optuna-integration and matplotlib look uninstalled
(tests/hidden_packages/sitecustomize.py), to `import` and to the version look-ups Lightning and torchmetrics make.
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FAST_WITH_IMAGES, PROJECT, Project, error_line, main_environment, with_plain_pip
from forked_main import ForkServer

HIDDEN = "mlflow optuna optuna_integration matplotlib"
TINY = ("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "64", *FAST_WITH_IMAGES)
PINS = dict(re.findall(r"^(\S+)==(\S+)$", (PROJECT / "requirements.txt").read_text(), re.MULTILINE))


@pytest.fixture(scope="module")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    """A fork server (torch and Lightning imported) that has not got the packages HIDDEN names."""
    environment = {**main_environment(), "PYTHONPATH": str(Path(__file__).parent / "hidden_packages"),
                   "HIDDEN_PACKAGES": HIDDEN}
    server = ForkServer(tmp_path_factory.mktemp("fork_server"), environment)
    yield server
    server.close()


@pytest.fixture
def user_project(project: Project) -> Project:
    """The copy of the template with its requirements.txt, as a user's clone has it, and a sweep file."""
    project.write("requirements.txt", (PROJECT / "requirements.txt").read_text())
    project.write("sweep.yaml", "lr: {low: 1.0e-4, high: 1.0e-2, log: true}\n")
    return project


MISSING = {
    "mlflow": (("--logger", "tensorboard", "mlflow", "--confusion_images", "off"),
               f"error: --logger mlflow needs mlflow-skinny, which this Python does not have: "
               f"pip install mlflow-skinny=={PINS['mlflow-skinny']}"),
    "sweep": (("--sweep", "sweep.yaml", "--trials", "2", "--confusion_images", "off"),
              f"error: --sweep needs optuna and optuna-integration, which this Python does not have: "
              f"pip install optuna=={PINS['optuna']} optuna-integration=={PINS['optuna-integration']}"),
    "confusion-images": ((), f"error: drawing confusion matrix images needs matplotlib, which this Python does not "
                             f"have: pip install matplotlib=={PINS['matplotlib']} (or --confusion_images off)"),
}


@pytest.mark.parametrize("feature", MISSING)
def test_a_feature_without_its_package_is_one_error_line_before_anything_is_written(
        fork_server: ForkServer, user_project: Project, feature: str):
    arguments, expected = MISSING[feature]
    process = fork_server.run(user_project.root, *TINY, *arguments)
    assert with_plain_pip(error_line(process)) == expected
    assert not user_project.logs.exists() or list(user_project.logs.iterdir()) == []


@pytest.mark.parametrize("arguments", [("--confusion_images", "off"), ("--logger", "csv")],
                         ids=["no-images", "no-tensorboard-to-draw-into"])
def test_a_run_that_asks_for_none_of_them_trains_without_them(fork_server: ForkServer, user_project: Project,
                                                                 arguments: tuple[str, ...]):
    process = fork_server.run(user_project.root, *TINY, *arguments)
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = user_project.run_dirs()
    assert (run_dir / "results.json").is_file()
