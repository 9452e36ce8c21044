"""One writer per run folder: an exclusive lock on a file in it, held while the run's process lives.

The lock is `fcntl.flock` on `<run folder>/.lock`, so the operating system releases it when the process ends,
however it ends (a SIGKILL leaves no stale lock). Only the process that claims or resumes the folder takes it:
the other processes of a distributed run write under its lock. Imports nothing beyond the standard library.
"""

import fcntl
import os
from pathlib import Path

from utils.errors import UserError

LOCK_NAME = ".lock"
# Set by the process that holds a run folder for the processes Lightning's DDP launcher starts from it.
RUN_DIR_VARIABLE = "TEMPLATE_RUN_DIR"
# Where launchers put a process's rank; a process whose rank is not 0 follows the folder rank 0 holds.
RANK_VARIABLES = ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK")
# Set to its own pid by a process that drives several runs (a cross-validation, a sweep) for each run it starts:
# that run owns the folder it is handed, and holds its lock as any run does.
DRIVER_VARIABLE = "TEMPLATE_DRIVER"

_held: dict[Path, int] = {}


def is_driven_run() -> bool:
    """Whether a cross-validation or a sweep started this process as one of its runs."""
    return os.environ.get(DRIVER_VARIABLE) == str(os.getppid())


def follows_another_process() -> bool:
    """Whether this process is a rank other than 0 of a run, or a child Lightning's launcher started from one."""
    owner = os.environ.get(RUN_DIR_VARIABLE, "").partition(":")[0]
    launched = owner == str(os.getppid()) and not is_driven_run()
    return launched or any(os.environ.get(name, "0") != "0" for name in RANK_VARIABLES)


def _open_lock_file(run_dir: Path) -> int:
    """The lock file's descriptor, created if missing; read-only where the folder cannot be written."""
    path = run_dir / LOCK_NAME
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
        inode = (run_dir / LOCK_NAME).stat().st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return "a process"
    for fields in (line.split() for line in lines):
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
            return f"process {fields[4]}"
    return "a process"


def lock_run_folder(run_dir: Path) -> bool:
    """Take the folder's lock for this process's lifetime; False when another live process holds it."""
    key = run_dir.resolve()
    if key in _held:
        return True
    descriptor = _open_lock_file(run_dir)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return False
    _held[key] = descriptor
    return True


def hold_handed_run_folder(run_dir: Path) -> None:
    """Take the lock of the folder a cross-validation or sweep hands this run, or refuse naming who holds it."""
    if not lock_run_folder(run_dir):
        raise UserError(f"the run folder {run_dir} is still written by {lock_holder(run_dir)}, a run left from an "
                        f"earlier start: wait for it to end or stop it, then run the same command again")


def is_locked(run_dir: Path) -> bool:
    """Whether another live process holds the folder's lock; reads the folder, changes nothing in it."""
    if run_dir.resolve() in _held:
        return False
    try:
        descriptor = os.open(run_dir / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False

