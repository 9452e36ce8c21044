"""One writer per run folder: an exclusive lock on a file in it, held while the run's process lives; and which
process of a run is its rank 0, the one that claims and locks the folder.

The lock is `fcntl.flock` on `<run folder>/.lock`, so the operating system releases it when the process ends,
however it ends (a SIGKILL leaves no stale lock). Only rank 0 takes it: the other processes of a distributed run
write under its lock. Imports nothing beyond the standard library.
"""

import fcntl
import os
from pathlib import Path

from utils.errors import UserError
from utils.shared_names import LOCK_FILE

# SLURM job names under which Lightning takes the job for an interactive session and starts the processes itself.
INTERACTIVE_SLURM_JOBS = ("bash", "interactive")
# Lightning's own launcher starts one `python main.py` per node (NODE_RANK, or torchrun's GROUP_RANK) and then each
# further process of a node (LOCAL_RANK).
LAUNCHER_RANK_VARIABLES = ("NODE_RANK", "GROUP_RANK", "LOCAL_RANK")


def is_rank_zero() -> bool:
    """Whether this process is global rank 0 of its run, read where Lightning's cluster environments read it, in
    their order: the one place that reads a rank before the Trainer and its process group exist."""
    if "SLURM_NTASKS" in os.environ and os.environ.get("SLURM_JOB_NAME") not in INTERACTIVE_SLURM_JOBS:
        return os.environ.get("SLURM_PROCID", "0") == "0"  # srun started every process
    if "RANK" in os.environ:  # torchrun, and Kubeflow's PyTorchJob
        return os.environ["RANK"] == "0"
    return all(os.environ.get(name, "0") == "0" for name in LAUNCHER_RANK_VARIABLES)


def _open_lock_file(run_dir: Path) -> int:
    """The lock file's descriptor, created if missing; read-only where the folder cannot be written."""
    path = run_dir / LOCK_FILE
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        if not path.is_file():
            raise UserError(f"cannot write into the run folder {run_dir}: {error.strerror}: make it writable, "
                            f"or start a new run with another --log_dir") from None
    # flock needs no write access: a read-only lock file still keeps a second writer out.
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def lock_holder(run_dir: Path) -> str:
    """'process <pid>' holding the folder's lock, read from /proc/locks where the system has it, else 'a process'."""
    try:
        inode = (run_dir / LOCK_FILE).stat().st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return "a process"
    for fields in (line.split() for line in lines):
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
            return f"process {fields[4]}"
    return "a process"


def lock_run_folder(run_dir: Path) -> bool:
    """Take the folder's lock for this process's lifetime; False when another live process holds it.

    The descriptor stays open, unreferenced, until the process ends: closing it would release the lock.
    """
    descriptor = _open_lock_file(run_dir)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return False
    return True


def is_locked(run_dir: Path) -> bool:
    """Whether a live process holds the folder's lock; reads the folder, changes nothing in it."""
    try:
        descriptor = os.open(run_dir / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False

