"""Checks of --logger and its options made before the run folder: names once each, options only beside their
logger, and an MLflow tracking URI that MLflow can use and (for a server) reach."""

import socket
from typing import Any
from urllib.parse import urlsplit

from utils.errors import UserError

# The tracking stores MLflow knows; a database URL may name its driver (postgresql+psycopg2).
MLFLOW_SCHEMES = ("", "file", "http", "https", "sqlite", "postgresql", "mysql", "mssql", "databricks")
# Options that do nothing without the mlflow logger, with the value each has when not given.
MLFLOW_OPTIONS = {"mlflow_uri": None, "mlflow_checkpoints": False}
# Seconds to wait for a tracking server to answer: MLflow itself retries for minutes.
REACH_TIMEOUT_S = 5.0


def check_reachable(uri: str) -> None:
    """Refuse an http(s) tracking server that does not accept a connection within seconds."""
    parts = urlsplit(uri)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UserError(f"--mlflow_uri {uri} has a port that is not a number: write http://HOST:PORT") from None
    if not parts.hostname:
        raise UserError(f"--mlflow_uri {uri} names no host: write http://HOST:PORT")
    try:
        socket.create_connection((parts.hostname, port), timeout=REACH_TIMEOUT_S).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UserError(f"--mlflow_uri {uri}: the tracking server at {parts.hostname}:{port} cannot be reached "
                        f"({reason}): start it (mlflow server --port {port}), or drop --mlflow_uri to log to "
                        f"mlflow.db in the experiment's folder") from None


def check_logger_options(options: dict[str, Any]) -> None:
    """Each logger named once; MLflow's options only with the mlflow logger; a URI of a store MLflow has, reachable."""
    loggers = list(options["logger"])
    twice = next((name for index, name in enumerate(loggers) if name in loggers[:index]), None)
    if twice:
        raise UserError(f"--logger {' '.join(loggers)} names {twice} twice, which would write every row twice: "
                        f"name each logger once")
    if "mlflow" not in loggers:
        for name, unset in MLFLOW_OPTIONS.items():
            if options.get(name) not in (unset, None):
                raise UserError(f"--{name} configures the mlflow logger, which this run does not use: add "
                                f"--logger {' '.join([*loggers, 'mlflow'])}, or drop --{name}")
        return
    uri = options.get("mlflow_uri")
    scheme = urlsplit(uri or "").scheme.partition("+")[0]
    if uri and len(scheme) != 1 and scheme not in MLFLOW_SCHEMES:  # one letter: a Windows drive, so a path
        raise UserError(f"--mlflow_uri {uri}: MLflow has no tracking store for {scheme}://: use a folder, "
                        f"sqlite:///path/mlflow.db, http://HOST:PORT of a tracking server, or a database URL")
    if uri and scheme in ("http", "https"):
        check_reachable(uri)
