"""What a run was made with: package versions and the project's git commit."""

import platform
import subprocess
from importlib import metadata
from typing import Any

from utils.loading.user_classes import PROJECT_ROOT

PACKAGES = ("torch", "torchvision", "pytorch-lightning", "lightning", "torchmetrics", "tensorboard")


def _git(*arguments: str) -> str | None:
    try:
        result = subprocess.run(["git", *arguments], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def environment_record() -> dict[str, Any]:
    """Python and package versions (None: not installed), the git commit, and whether the tree had changes or
    files the commit lacks."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    # Files git does not track count (a net or dataset of the user's is new until committed); ignored ones do not.
    status = _git("status", "--porcelain")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_uncommitted_changes": bool(status) if status is not None else None,
    }
