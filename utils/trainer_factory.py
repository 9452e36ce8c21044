"""The Trainer of a run, writing TensorBoard events, checkpoints and profiles into its run folder."""

from pathlib import Path
from typing import Any

from pytorch_lightning import Trainer
from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.profilers import AdvancedProfiler, SimpleProfiler

from utils.callbacks import build_callbacks


def build_trainer(options: dict[str, Any], run_dir: Path, resume_step: int | None = None) -> Trainer:
    """A Trainer configured from the options, logging into `run_dir`.

    Args:
        resume_step: the global step a resumed run continues from; TensorBoard drops any events at or after
            it that the interrupted run wrote, so curves continue without duplicated steps.
    """
    logger = TensorBoardLogger(save_dir=str(run_dir.parent.parent), name=run_dir.parent.name,
                               version=int(run_dir.name.removeprefix("version_")), default_hp_metric=False,
                               purge_step=resume_step)
    profilers = {"simple": SimpleProfiler, "advanced": AdvancedProfiler}
    profiler = profilers[options["profiler"]](dirpath=run_dir, filename="profile") if options["profiler"] else None
    return Trainer(
        logger=logger, callbacks=build_callbacks(options, run_dir), profiler=profiler,
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
