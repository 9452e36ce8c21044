"""Inside a sweep's trial: Optuna's own Lightning pruning callback, reporting every validation to the study."""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from utils.errors import RunPruned, UserError
from utils.lightning_package import Callback, LightningModule, Trainer
from utils.run_lock import is_rank_zero
from utils.runs.folder import handed_run_dir

# Set by the sweep worker for the trial's `python main.py`: the storage, study, trial number and pruner (JSON).
# An environment variable, not an option, so the trial's config.yaml reruns it alone, and no password is saved.
TRIAL_VARIABLE = "TEMPLATE_SWEEP_TRIAL"


@contextmanager
def pruned_as_run_pruned() -> Iterator[None]:
    """Turn Optuna's TrialPruned into the template's RunPruned, which main.py records in results.json."""
    import optuna

    try:
        yield
    except optuna.TrialPruned as pruned:
        raise RunPruned(str(pruned)) from None


class TrialPruning(Callback):
    """Drives optuna-integration's PyTorchLightningPruningCallback from the template's Trainer."""

    # optuna-integration's callback derives from the `lightning` package's Callback; this one hands it each hook.
    def __init__(self, pruning: Any) -> None:
        self.pruning = pruning

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Let the callback see whether the run is distributed."""
        self.pruning.on_fit_start(trainer, pl_module)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Report the monitor to the trial; stop here if the pruner says so."""
        with pruned_as_run_pruned():
            self.pruning.on_validation_end(trainer, pl_module)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """In a distributed run the pruner's decision stops training on every rank, then is raised here."""
        with pruned_as_run_pruned():
            self.pruning.check_pruned()


def load_trial(description: dict[str, Any]) -> Any:
    """The worker's trial, read back from its study's storage by number."""
    # Imported here: every run builds its callbacks through this module, and only a sweep's trial needs Optuna.
    import optuna

    from utils.experiments.studies import build_pruner

    storage = optuna.storages.RDBStorage(description["storage"], skip_table_creation=True)
    study = optuna.load_study(study_name=description["study"], storage=storage,
                              pruner=build_pruner(description["pruner"]))
    study_id = storage.get_study_id_from_name(description["study"])
    return optuna.trial.Trial(study, storage.get_trial_id_from_study_id_trial_number(study_id, description["trial"]))


def trial_description() -> dict[str, Any] | None:
    """The trial a sweep worker started this process for, or None; the variable left in a shell is refused."""
    description = os.environ.get(TRIAL_VARIABLE)
    if not description:
        return None
    if is_rank_zero() and handed_run_dir() is None:
        raise UserError(f"{TRIAL_VARIABLE} is set in the environment, but no sweep worker started this run: unset "
                        f"it (unset {TRIAL_VARIABLE}); a sweep worker sets it for each trial it starts")
    return json.loads(description)


def sweep_trial_callbacks(monitor: str) -> list[Callback]:
    """The pruning callback when this process trains a sweep's trial, else none."""
    description = trial_description()
    if description is None:
        return []
    from optuna_integration.pytorch_lightning import PyTorchLightningPruningCallback

    return [TrialPruning(PyTorchLightningPruningCallback(load_trial(description), monitor))]
