"""Imported by Python at start-up when this folder is on PYTHONPATH: the packages HIDDEN_PACKAGES names (module
names, separated by spaces) look uninstalled, both to `import` and to importlib.metadata's version look-ups."""

import importlib.metadata
import os
import sys

HIDDEN = os.environ.get("HIDDEN_PACKAGES", "").split()
for hidden in HIDDEN:
    # `import hidden` raises ModuleNotFoundError and importlib.util.find_spec(hidden) is None, as when not installed.
    sys.modules[hidden] = None

installed_distribution = importlib.metadata.Distribution.from_name


def hidden_or_installed(name: str) -> importlib.metadata.Distribution:
    """The installed distribution `name`, unless it is a hidden package's (`mlflow-skinny` is mlflow's)."""
    normalized = name.lower().replace("-", "_").replace(".", "_")
    if any(normalized == hidden or normalized.startswith(f"{hidden}_") for hidden in HIDDEN):
        raise importlib.metadata.PackageNotFoundError(name)
    return installed_distribution(name)


# Lightning and torchmetrics ask importlib.metadata whether a package is installed before they import it.
importlib.metadata.Distribution.from_name = staticmethod(hidden_or_installed)
