"""The run's loggers, Lightning's own: TensorBoard, CSV and MLflow, each writing into the run folder where it can."""

import csv
import warnings
from pathlib import Path
from typing import Any

from utils.config.settings import TrainerSettings
from utils.lightning_package import CSVLogger, Logger, MLFlowLogger
from utils.runs.hparams_tab import plain_options
from utils.shared_names import CSV_FOLDER, MLFLOW_RUN_FILE, experiment_folder, version_number
from utils.trainer.dataset_labels import ByLabel, TensorBoardByLabel


class CSVByLabel(ByLabel, CSVLogger):
    """Lightning's CSV logger (`csv/metrics.csv` in the run folder), leaving out the `/dataloader_idx_N` keys."""


class MLFlowByLabel(ByLabel, MLFlowLogger):
    """Lightning's MLflow logger, leaving out the `/dataloader_idx_N` keys."""


def csv_logger(run_dir: Path, resume_step: int | None) -> CSVByLabel:
    """A CSV logger into `run_dir/csv/`; a resumed run keeps the rows logged before the step it continues from."""
    logger = CSVByLabel(save_dir=str(run_dir), name="", version=CSV_FOLDER)
    metrics_file = Path(logger.log_dir) / "metrics.csv"
    if resume_step is None or not metrics_file.is_file():
        return logger
    with metrics_file.open(newline="") as file:
        earlier = [row for row in csv.DictReader(file) if int(row["step"]) < resume_step]
    # Lightning's CSV writer starts metrics.csv afresh when it is created (and warns so): earlier rows go back in.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Experiment logs directory")
        writer = logger.experiment
    for row in earlier:
        writer.log_metrics({key: float(value) for key, value in row.items() if value and key != "step"},
                           int(row["step"]))
    return logger


def mlflow_logger(run_dir: Path, uri: str | None, checkpoints: bool = False) -> MLFlowByLabel:
    """An MLflow logger: the run's own MLflow run when resumed, else a new one named after the run folder; with
    `checkpoints`, Lightning's logger stores last.ckpt as an artifact when training ends."""
    experiment_dir = experiment_folder(run_dir)
    run_file = run_dir / MLFLOW_RUN_FILE
    run_id = run_file.read_text().strip() if run_file.is_file() else None
    return MLFlowByLabel(experiment_name=experiment_dir.name, run_name=str(run_dir.relative_to(experiment_dir)),
                         tracking_uri=uri or f"sqlite:///{experiment_dir.resolve() / 'mlflow.db'}",
                         artifact_location=str(experiment_dir.resolve() / "mlartifacts"), run_id=run_id,
                         log_model=checkpoints)


def build_loggers(settings: TrainerSettings, run_dir: Path, resume_step: int | None) -> list[Logger]:
    """The loggers --logger names, in that order (the first one's version is the progress bar's `v_num`)."""
    loggers: list[Logger] = []
    for name in settings.logger:
        if name == "tensorboard":
            # A number for `version_<N>`, the folder's name for a fold's or trial's run.
            number = version_number(run_dir.name)
            loggers.append(TensorBoardByLabel(save_dir=str(run_dir.parent.parent), name=run_dir.parent.name,
                                              version=run_dir.name if number is None else number,
                                              default_hp_metric=False, purge_step=resume_step))
        elif name == "csv":
            loggers.append(csv_logger(run_dir, resume_step))
        else:
            loggers.append(mlflow_logger(run_dir, settings.mlflow_uri, settings.mlflow_checkpoints))
    return loggers


def record_options_in_loggers(loggers: list[Logger], run_dir: Path, config: dict[str, Any]) -> None:
    """Give MLflow the run's options as parameters (those a resumed run already has keep their first value)."""
    for logger in loggers:
        if isinstance(logger, MLFlowLogger):
            known = logger.experiment.get_run(logger.run_id).data.params
            logger.log_hyperparams({name: value for name, value in plain_options(config).items() if name not in known})
            (run_dir / MLFLOW_RUN_FILE).write_text(f"{logger.run_id}\n")
