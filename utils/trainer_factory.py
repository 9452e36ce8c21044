"""The Trainer of a run, writing TensorBoard events, checkpoints and profiles into its run folder."""

import contextlib
from pathlib import Path
from typing import Any

from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.profilers import AdvancedProfiler, PassThroughProfiler, Profiler, SimpleProfiler
from pytorch_lightning.utilities import rank_zero_only

from utils.callbacks import build_callbacks, leave_trainer
from utils.checkpoint_files import CheckpointFiles
from utils.cuda_probe import stop_probing_for_absent_gpus
from utils.errors import UserError
from utils.run_folder import release_run_folder_marker

# How often TensorBoard's writer thread flushes the event file (SummaryWriter's default: 120 s).
FLUSH_SECONDS = 5


class TensorBoardFlushedByItsThread(TensorBoardLogger):
    """Lightning's TensorBoard logger, less the flush Lightning asks for after every logging call.

    That flush waits for the writer thread to drain its queue (0.8 ms here, longer when the cores are busy, twice
    an epoch or more); the writer thread flushes the file itself every FLUSH_SECONDS, and on close.
    """

    @rank_zero_only
    def save(self) -> None:
        """Write hparams.yaml as Lightning does (its save() flushes too) until it exists; flush nothing after."""
        if not Path(self.log_dir, self.NAME_HPARAMS_FILE).is_file():
            super().save()


class SharedRunFolder(Callback):
    """Checks that every process of a run writes into the folder rank 0 claimed, drops rank 0's marker, and
    leaves the trainer."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Compare with rank 0 once all processes have joined (so every one of them has read the marker)."""
        # Experiment and version only: nodes may see the shared log folder under different mount points.
        own = "/".join(self.run_dir.parts[-2:])
        first = trainer.strategy.broadcast(own)
        agreed = trainer.strategy.reduce_boolean_decision(first == own, all=True)
        if trainer.is_global_zero:
            release_run_folder_marker()
        leave_trainer(trainer, self)
        if not agreed:
            raise UserError(f"the processes of this run disagree on its folder (rank 0 claimed {first}, rank "
                            f"{trainer.global_rank} has {own}): a marker left by an earlier launch with the same "
                            f"address, port and job id misled a process; start the run again")


class NoProfiler(PassThroughProfiler):
    """Records nothing, at no cost: one shared empty context for every action Lightning wraps."""

    _nothing = contextlib.nullcontext()

    def profile(self, action_name: str) -> contextlib.nullcontext:
        """The shared empty context (Lightning's default builds a generator context manager for each call)."""
        # Lightning wraps every hook of every callback in profile(): about 1.5 us each, some 50 calls a step.
        return self._nothing


def build_profiler(options: dict[str, Any], run_dir: Path) -> Profiler:
    """The --profiler report writer, or a profiler that records nothing."""
    profilers = {"simple": SimpleProfiler, "advanced": AdvancedProfiler}
    return profilers[options["profiler"]](dirpath=run_dir, filename="profile") if options["profiler"] else NoProfiler()


def build_trainer(options: dict[str, Any], run_dir: Path, resume_step: int | None = None) -> Trainer:
    """A Trainer configured from the options, logging into `run_dir`.

    Args:
        resume_step: the global step a resumed run continues from; TensorBoard drops any events at or after
            it that the interrupted run wrote, so curves continue without duplicated steps.
    """
    # max_queue: with the writer's default of 10 pending events, logging an epoch's metrics waits on the writer
    # thread (60 to 85 us a scalar instead of 10 to 20 here); events are still written as they come.
    logger = TensorBoardFlushedByItsThread(save_dir=str(run_dir.parent.parent), name=run_dir.parent.name,
                                           version=int(run_dir.name.removeprefix("version_")),
                                           default_hp_metric=False, purge_step=resume_step, max_queue=100,
                                           flush_secs=FLUSH_SECONDS)
    profiler = build_profiler(options, run_dir)
    stop_probing_for_absent_gpus()
    trainer = Trainer(
        logger=logger, callbacks=[*build_callbacks(options, run_dir), SharedRunFolder(run_dir)], profiler=profiler,
        plugins=[CheckpointFiles()],
        default_root_dir=run_dir, enable_model_summary=False, use_distributed_sampler=False,
        accelerator=options["accelerator"], devices=options["devices"], strategy=options["strategy"],
        num_nodes=options["num_nodes"], sync_batchnorm=options["sync_batchnorm"], precision=options["precision"],
        max_epochs=options["max_epochs"], min_epochs=options["min_epochs"], fast_dev_run=options["fast_dev_run"],
        limit_train_batches=options["limit_train_batches"], limit_val_batches=options["limit_val_batches"],
        limit_test_batches=options["limit_test_batches"], val_check_interval=options["val_check_interval"],
        gradient_clip_val=options["gradient_clip_val"] or None,
        accumulate_grad_batches=options["accumulate_grad_batches"],
        log_every_n_steps=options["log_every_n_steps"], deterministic=options["deterministic"],
    )
    if options["profiler"] and trainer.num_nodes > 1:
        # Lightning names profiles by local rank only, and every node has a local rank 0.
        profiler.filename = f"profile-node{trainer.node_rank}"
    return trainer
