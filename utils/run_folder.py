"""Run folders `Logs/<experiment>/version_<N>/`, claimed atomically, and the files a run writes there."""

import json
import os
import re
from pathlib import Path
from typing import Any

from utils.errors import UserError

# Set by the process that claims the folder; DDP processes that Lightning starts inherit it and reuse it.
RUN_DIR_VARIABLE = "TEMPLATE_RUN_DIR"
EXPERIMENT_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.=-]*")


def check_experiment_name(name: str) -> None:
    """Refuse an experiment name that is not a single folder name."""
    if not EXPERIMENT_PATTERN.fullmatch(name) or ".." in name:
        raise UserError(f"experiment name {name!r} must be one folder name: letters, digits, '_', '-', '.', '='")


def _versions(experiment_dir: Path) -> list[int]:
    return [int(path.name[8:]) for path in experiment_dir.glob("version_*") if path.name[8:].isdigit()]


def claim_run_folder(log_dir: str, experiment: str) -> Path:
    """Create and return the next free `version_<N>` folder; mkdir is atomic, so no two runs share one."""
    inherited = os.environ.get(RUN_DIR_VARIABLE)
    if inherited:
        return Path(inherited)
    experiment_dir = Path(log_dir) / experiment
    try:
        experiment_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        message = f"cannot create the run folder under {log_dir!r}: {error.strerror}: pass another --log_dir"
        raise UserError(message) from None
    version = max(_versions(experiment_dir), default=-1) + 1
    while True:
        run_dir = experiment_dir / f"version_{version}"
        try:
            run_dir.mkdir()
        except FileExistsError:
            version += 1
            continue
        os.environ[RUN_DIR_VARIABLE] = str(run_dir)
        return run_dir


def write_yaml(path: Path, content: dict[str, Any]) -> None:
    """Write a mapping as YAML, keys in their given order."""
    import yaml

    path.write_text(yaml.safe_dump(content, sort_keys=False))


def write_json(path: Path, content: dict[str, Any]) -> None:
    """Write a mapping as indented JSON."""
    path.write_text(json.dumps(content, indent=2) + "\n")
