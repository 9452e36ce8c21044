"""What a run was made with: package versions and the project's git commit."""

import platform
import subprocess
from importlib import metadata
from typing import Any

from utils.loading.user_classes import PROJECT_ROOT

PACKAGES = ("torch", "torchvision", "pytorch-lightning", "torchmetrics", "tensorboard")


def _git(*arguments: str) -> str | None:
    try:
        result = subprocess.run(["git", *arguments], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def environment_record() -> dict[str, Any]:
    """Python and package versions, the git commit, and whether the tree had uncommitted changes."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_uncommitted_changes": bool(status) if status is not None else None,
    }
