"""Optuna studies in relational storage: opened alike by every worker, and the trials they share out."""

import time
import warnings
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from utils.errors import UserError, pip_command

# A worker's running trial beats every HEARTBEAT_S; one silent for GRACE_S (its worker was killed) is failed, so a
# sweep run again does not count it as running.
HEARTBEAT_S = 20
GRACE_S = 120
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
TAKEN = (*FINISHED, TrialState.RUNNING)
# Workers started together race to create the tables of a new storage; the loser tries again.
OPEN_ATTEMPTS = 5
# The pip package of each database driver SQLAlchemy imports by module name.
DRIVER_PACKAGES = {"psycopg2": "psycopg2-binary", "psycopg": "psycopg[binary]", "pg8000": "pg8000",
                   "asyncpg": "asyncpg", "MySQLdb": "mysqlclient", "pymysql": "PyMySQL",
                   "mysql": "mysql-connector-python", "pyodbc": "pyodbc", "oracledb": "oracledb"}


def build_pruner(name: str) -> optuna.pruners.BasePruner:
    """Optuna's median pruner with its defaults, or none."""
    return optuna.pruners.MedianPruner() if name == "median" else optuna.pruners.NopPruner()


def default_storage(log_dir: str, experiment: str) -> str:
    """The SQLite file in the experiment's folder."""
    return f"sqlite:///{(Path(log_dir) / experiment / 'optuna.db').resolve()}"


def shown_url(url: str) -> str:
    """The storage URL without its password, for messages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def check_storage_url(url: str) -> None:
    """Refuse a storage URL that is not a database URL, or whose database driver is not installed."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect().import_dbapi()
    except ArgumentError:
        raise UserError(f"--storage {url} is not a database URL: use sqlite:///path/to/file.db, or "
                        f"postgresql://user:password@host/database for workers on several machines") from None
    except NoSuchModuleError:
        raise UserError(f"--storage {shown_url(url)} names a database SQLAlchemy does not know: use sqlite:///, "
                        f"postgresql:// or mysql://") from None
    except ImportError as error:
        package = DRIVER_PACKAGES.get((error.name or "").partition(".")[0], error.name)
        raise UserError(f"--storage {shown_url(url)} needs its database driver {error.name!r}: install it "
                        f"({pip_command()} {package})") from None


def _heartbeat_storage(url: str) -> optuna.storages.RDBStorage:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S)


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """The relational storage with heartbeats, so trials of killed workers end as failed."""
    from sqlalchemy.exc import DatabaseError, SQLAlchemyError

    for attempt in range(OPEN_ATTEMPTS - 1):
        try:
            return _heartbeat_storage(url)
        except SQLAlchemyError:
            time.sleep(0.2 * (attempt + 1))
    try:
        return _heartbeat_storage(url)
    except DatabaseError as error:  # an OperationalError, or a file that is not a database
        reason = str(error.orig).splitlines()[0] if error.orig else type(error).__name__
        raise UserError(f"cannot open --storage {shown_url(url)}: {reason}: pass the URL of a database (a new "
                        f"file name for SQLite), or leave --storage out") from None


def open_study(url: str, name: str, direction: str, pruner: str) -> optuna.Study:
    """Create the study, or load it when another worker or an earlier run did; refuse another direction."""
    storage = open_storage(url)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # its "Using an existing study" line: the worker says so
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction=direction,
                                    pruner=build_pruner(pruner), load_if_exists=True)
    finally:
        optuna.logging.set_verbosity(verbosity)
    wanted = optuna.study.StudyDirection.MINIMIZE if direction == "minimize" else optuna.study.StudyDirection.MAXIMIZE
    if study.direction != wanted:
        stored = "min" if study.direction == optuna.study.StudyDirection.MINIMIZE else "max"
        raise UserError(f"study {name!r} in {shown_url(url)} was created to {study.direction.name.lower()} the "
                        f"monitor: pass --monitor_mode {stored}, or another --study")
    return study


def taken_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The trials that count towards --trials: finished (complete or pruned) or running, stale ones failed first."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    return study.get_trials(deepcopy=False, states=TAKEN)


def is_surplus(study: optuna.Study, number: int, trials: int) -> bool:
    """Whether --trials trials numbered below `number` were taken already (another worker asked at the same time)."""
    return sum(trial.number < number for trial in study.get_trials(deepcopy=False, states=TAKEN)) >= trials
