"""--logger: Lightning's CSV and MLflow loggers beside TensorBoard, read back with csv and MLflow's own client."""

import csv
import json

from mlflow import MlflowClient

from tests.conftest import FAST

TINY = ("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "200", *FAST)


def csv_rows(run_dir) -> list[dict]:
    """The rows of the run's csv/metrics.csv."""
    with (run_dir / "csv" / "metrics.csv").open(newline="") as file:
        return list(csv.DictReader(file))


def test_csv_and_mlflow_beside_tensorboard_and_a_resume_continues_both(project):
    process = project.run(*TINY, "--max_epochs", "2", "--logger", "tensorboard", "csv", "mlflow")
    assert process.returncode == 0, process.stderr[-3000:]
    (run_dir,) = project.run_dirs()
    resumed = project.run("--resume", str(run_dir), "--max_epochs", "3")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Previous log files" not in resumed.stderr
    results = json.loads((run_dir / "results.json").read_text())
    assert list(run_dir.glob("events.out.tfevents.*"))
    val_rows = [row for row in csv_rows(run_dir) if row["val/standard_data/loss"]]
    assert [int(row["step"]) for row in val_rows] == [1, 3, 5]
    (test_row,) = [row for row in csv_rows(run_dir) if row["test/standard_data/accuracy"]]
    assert float(test_row["test/standard_data/accuracy"]) == results["test"]["standard_data"]["accuracy"]
    client = MlflowClient(tracking_uri=f"sqlite:///{run_dir.parent / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("standard_net-standard_data")
    (run,) = client.search_runs([experiment.experiment_id])
    assert (run_dir / "mlflow_run_id.txt").read_text().strip() == run.info.run_id
    assert run.info.run_name == "version_0" and run.info.status == "FINISHED"
    assert run.data.params["batch_size"] == "128" and run.data.params["max_epochs"] == "2"
    history = client.get_metric_history(run.info.run_id, "val/standard_data/loss")
    assert [metric.step for metric in history] == [1, 3, 5]
    assert run.data.metrics["test/standard_data/accuracy"] == results["test"]["standard_data"]["accuracy"]


def test_csv_alone_writes_no_tensorboard_events_and_mlflow_goes_to_the_uri_given(project):
    store = project.root / "elsewhere.db"
    process = project.run(*TINY, "--logger", "csv", "mlflow", "--mlflow_uri", f"sqlite:///{store}")
    assert process.returncode == 0, process.stderr[-3000:]
    (run_dir,) = project.run_dirs()
    assert not list(run_dir.glob("events.out.tfevents.*")) and csv_rows(run_dir)
    assert not (run_dir.parent / "mlflow.db").exists()
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    (run,) = client.search_runs([client.get_experiment_by_name("standard_net-standard_data").experiment_id])
    assert run.data.params["logger"] == "csv mlflow"


def test_mlflow_stores_the_checkpoints_as_artifacts_when_asked(project):
    process = project.run(*TINY, "--logger", "mlflow", "--mlflow_checkpoints")
    assert process.returncode == 0, process.stderr[-3000:]
    (run_dir,) = project.run_dirs()
    client = MlflowClient(tracking_uri=f"sqlite:///{run_dir.parent / 'mlflow.db'}")
    run_id = (run_dir / "mlflow_run_id.txt").read_text().strip()
    stored = [artifact.path for folder in client.list_artifacts(run_id) for artifact in
              client.list_artifacts(run_id, folder.path)]
    assert "last/last.ckpt" in stored, stored
