"""Every process of a run writes into the folder rank 0 claimed: received through the strategy's own broadcast."""

from pathlib import Path

from utils.errors import UserError
from utils.lightning_package import Callback, LightningModule, Trainer
from utils.shared_names import PENDING_RUN_FOLDER, experiment_folder


class SharedRunFolder(Callback):
    """Hands rank 0's run folder to the other processes at setup, the first hook that runs once the process group
    exists; a process that resumed another folder than rank 0's stops the run."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Take rank 0's folder; point this process's profiler, the one writer of every process, at it."""
        own = self.run_dir
        experiment_dir = experiment_folder(own)
        # Relative to the experiment folder: nodes may see the shared log folder under different mount points.
        first = trainer.strategy.broadcast(own.relative_to(experiment_dir).as_posix())
        agreed = experiment_dir / first
        if own.name != PENDING_RUN_FOLDER and agreed != own:
            raise UserError(f"the processes of this run resume different folders (rank 0 {first}, rank "
                            f"{trainer.global_rank} {own.relative_to(experiment_dir)}): a run that started meanwhile "
                            f"holds the newest; pass --resume with the run folder itself")
        self.run_dir = agreed
        if trainer.profiler.dirpath is not None and Path(trainer.profiler.dirpath) == own:
            trainer.profiler.dirpath = agreed
