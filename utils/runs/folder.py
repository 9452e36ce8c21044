"""Run folders `Logs/<experiment>/version_<N>/`, claimed atomically once per run, and the files a run writes there.

In a distributed run only the first process (global rank 0) claims the folder; the others learn its path:
- processes that Lightning starts itself inherit it from their parent through `TEMPLATE_RUN_DIR`;
- processes started on their own (torchrun, SLURM's srun, one `python main.py` per node) read it from a marker file
  that rank 0 writes into the experiment folder, named after the launch they share, and removes once every process
  has joined (utils/trainer_factory.py checks that they all agree).
"""

import atexit
import hashlib
import json
import os
import re
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from utils.errors import UserError
from utils.run_lock import follows_another_process, hold_handed_run_folder, is_driven_run, lock_run_folder
from utils.runs.results import plain_json

# "<pid>:<path>", set by the process that holds the folder; only its own children (the processes Lightning's DDP
# launcher starts) reuse it, so a leftover value in a shell or a second run in the same process is ignored.
RUN_DIR_VARIABLE = "TEMPLATE_RUN_DIR"
# Seconds a process other than rank 0 waits for the marker. Long by default: nodes started by hand may be minutes
# apart, and rank 0 builds its datasets before it claims the folder.
TIMEOUT_VARIABLE = "TEMPLATE_RUN_DIR_TIMEOUT"
DEFAULT_TIMEOUT_S = 600.0
# What every process of one launch shares, and two launches running at the same time do not.
LAUNCH_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT",
                    "SLURM_JOB_ID", "SLURM_STEP_ID", "SLURM_RESTART_COUNT")
LOCAL_ADDRESSES = ("127.0.0.1", "localhost", "::1")
EXPERIMENT_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.=-]*")
# `.<name>.<pid>-<hex>.tmp`: where a checkpoint is written before it is renamed into place.
CHECKPOINT_TEMPORARY = re.compile(r"\..+\.[0-9]+-[0-9a-f]{8}\.tmp")

_published_markers: list[Path] = []


def check_experiment_name(name: str) -> None:
    """Refuse an experiment name that is not a single folder name."""
    if not EXPERIMENT_PATTERN.fullmatch(name) or ".." in name:
        raise UserError(f"experiment name {name!r} must be one folder name: letters, digits, '_', '-', '.', '='")


def _versions(experiment_dir: Path) -> list[int]:
    return [int(path.name[8:]) for path in experiment_dir.glob("version_*") if path.name[8:].isdigit()]


def _experiment_dir(log_dir: str, experiment: str) -> Path:
    experiment_dir = Path(log_dir) / experiment
    try:
        experiment_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        message = f"cannot create the run folder under {log_dir!r}: {error.strerror}: pass another --log_dir"
        raise UserError(message) from None
    return experiment_dir


def _new_version_folder(experiment_dir: Path) -> Path:
    """Create the next free `version_<N>`; mkdir is atomic, so no two runs share one."""
    version = max(_versions(experiment_dir), default=-1) + 1
    while True:
        run_dir = experiment_dir / f"version_{version}"
        try:
            run_dir.mkdir()
        except FileExistsError:
            version += 1
            continue
        except OSError as error:  # a read-only or immutable experiment folder
            raise UserError(f"cannot create the run folder {run_dir}: {error.strerror}: make {experiment_dir} "
                            f"writable or pass another --log_dir") from None
        return run_dir


def _inherited_run_dir() -> Path | None:
    """The folder of the parent process, when Lightning's launcher started this process from it."""
    owner, _, path = os.environ.get(RUN_DIR_VARIABLE, "").partition(":")
    return Path(path) if path and owner == str(os.getppid()) else None


def _is_first_process() -> bool:
    """Whether this process is global rank 0, read where Lightning's cluster environments read it."""
    from utils.lightning_package import SLURMEnvironment

    if SLURMEnvironment.detect():
        return os.environ.get("SLURM_PROCID", "0") == "0"
    if "RANK" in os.environ:  # torchrun, and Kubeflow's PyTorchJob
        return os.environ["RANK"] == "0"
    # Lightning's own launcher: one `python main.py` per node, NODE_RANK set by the user on each.
    return all(os.environ.get(name, "0") == "0" for name in ("NODE_RANK", "GROUP_RANK", "LOCAL_RANK"))


def _others_start_on_their_own() -> bool:
    """Whether other processes of this run may start without inheriting this one's environment."""
    return "MASTER_ADDR" in os.environ or int(os.environ.get("SLURM_NTASKS", "1")) > 1


def _marker(experiment_dir: Path) -> Path:
    """The file through which rank 0 of this launch tells the other processes its folder."""
    launch = {name: os.environ.get(name, "") for name in LAUNCH_VARIABLES}
    if launch["MASTER_ADDR"] in LOCAL_ADDRESSES:
        launch["host"] = socket.gethostname()  # the same local port on two machines is two launches
    key = hashlib.sha256(json.dumps(launch, sort_keys=True).encode()).hexdigest()[:16]
    return experiment_dir / f".rendezvous-{key}"


def _publish(marker: Path, run_dir: Path) -> None:
    """Write the folder's name into the marker atomically; it is removed at exit at the latest."""
    partial = marker.with_name(f"{marker.name}.{os.getpid()}.partial")
    partial.write_text(run_dir.name)
    os.replace(partial, marker)
    if not _published_markers:
        atexit.register(release_run_folder_marker)
    _published_markers.append(marker)


def _timeout_s() -> float:
    value = os.environ.get(TIMEOUT_VARIABLE, str(DEFAULT_TIMEOUT_S))
    try:
        return float(value)
    except ValueError:
        raise UserError(f"{TIMEOUT_VARIABLE}={value!r} must be a number of seconds") from None


def _wait_for_first_process(experiment_dir: Path) -> Path:
    """The folder rank 0 of this launch claimed, read from its marker once it appears."""
    marker, timeout = _marker(experiment_dir), _timeout_s()
    deadline = time.monotonic() + timeout
    while not marker.is_file():
        if time.monotonic() > deadline:
            raise UserError(f"this process is not rank 0 and waited {timeout:g} s for rank 0 to claim a run folder "
                            f"under {experiment_dir} (marker {marker.name}): start every process with the same "
                            f"command line, with --log_dir on a filesystem all nodes share, or raise "
                            f"{TIMEOUT_VARIABLE}")
        time.sleep(0.1)
    return experiment_dir / marker.read_text().strip()


def claim_run_folder(log_dir: str, experiment: str) -> Path:
    """The run's folder: created by its first process, learnt by the others; exactly one per run."""
    run_dir = _inherited_run_dir()
    if run_dir is not None and is_driven_run():
        hold_handed_run_folder(run_dir)
    if run_dir is None and _is_first_process():
        experiment_dir = _experiment_dir(log_dir, experiment)
        run_dir = _new_version_folder(experiment_dir)
        lock_run_folder(run_dir)
        if _others_start_on_their_own():
            _publish(_marker(experiment_dir), run_dir)
    elif run_dir is None:
        run_dir = _wait_for_first_process(Path(log_dir) / experiment)
    os.environ[RUN_DIR_VARIABLE] = f"{os.getpid()}:{run_dir}"
    return run_dir


def checkpoint_temporary(target: Path) -> Path:
    """A fresh temporary path beside `target` for this process, of the form remove_stale_temporaries removes."""
    return target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")


def remove_stale_temporaries(run_dir: Path) -> None:
    """Delete the partial checkpoints a killed writer left; the folder's lock means no live writer owns them."""
    if follows_another_process():
        return
    for path in (run_dir / "checkpoints").glob(".*.tmp"):
        if CHECKPOINT_TEMPORARY.fullmatch(path.name):
            path.unlink(missing_ok=True)


def release_run_folder_marker() -> None:
    """Remove the markers this process published: every process has read them once all have joined."""
    while _published_markers:
        _published_markers.pop().unlink(missing_ok=True)


def write_yaml(path: Path, content: dict[str, Any]) -> None:
    """Write a mapping as YAML, keys in their given order."""
    import yaml

    path.write_text(yaml.safe_dump(content, sort_keys=False))


def write_json(path: Path, content: dict[str, Any]) -> None:
    """Write a mapping as indented, strict JSON (tensors as numbers, a value that is not a finite number as null)."""
    path.write_text(json.dumps(plain_json(content), indent=2, allow_nan=False) + "\n")
