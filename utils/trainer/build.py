"""The Trainer of a run, writing its loggers' files, checkpoints and profiles into its run folder."""

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from pathlib import Path

from utils.config.framework_options import names_where
from utils.config.settings import TrainerSettings
from utils.lightning_package import (
    AdvancedProfiler,
    Callback,
    DDPStrategy,
    FSDPStrategy,
    PassThroughProfiler,
    Profiler,
    SimpleProfiler,
    Strategy,
    Trainer,
)
from utils.shared_names import PROFILE_NAME
from utils.trainer.callbacks import build_callbacks
from utils.trainer.checkpoint_io import AtomicCheckpointIO
from utils.trainer.loggers import build_loggers
from utils.trainer.platform import stop_probing_for_absent_gpus
from utils.trainer.quiet import quiet_library_notices
from utils.trainer.run_callbacks import as_one_callback

NOTHING_PROFILED = nullcontext()


class UnprofiledRun(PassThroughProfiler):
    """Lightning's default profiler, which records nothing, without its generator-made context: Lightning enters
    `profile` around every hook call, of the module and of each callback: about 50 times a step."""

    def profile(self, action_name: str) -> AbstractContextManager:
        """A context that does nothing."""
        return NOTHING_PROFILED


def build_profiler(settings: TrainerSettings, run_dir: Path) -> Profiler:
    """The --profiler report writer, or a profiler that records nothing."""
    if not settings.profiler:
        return UnprofiledRun()
    profilers = {"simple": SimpleProfiler, "advanced": AdvancedProfiler}
    return profilers[settings.profiler](dirpath=run_dir, filename=PROFILE_NAME)


def build_strategy(settings: TrainerSettings) -> str | Strategy:
    """The --strategy name; across nodes, the strategy it names, waiting at most --ddp_timeout for the others."""
    if settings.num_nodes == 1:
        return settings.strategy
    timeout = timedelta(seconds=settings.ddp_timeout)
    if settings.strategy == "fsdp":
        return FSDPStrategy(timeout=timeout)
    return DDPStrategy(timeout=timeout, find_unused_parameters=settings.strategy == "ddp_find_unused_parameters_true",
                       start_method="spawn" if settings.strategy == "ddp_spawn" else "popen")


def unless_whole(value: int | float) -> int | float | None:
    """A batch limit or interval, or None for Lightning's own default (the whole epoch), which it then does not
    announce as configured."""
    return None if isinstance(value, float) and value == 1.0 else value


# How a Trainer option's value becomes its Trainer argument, where it is not handed over as it is.
TRAINER_VALUES = {"limit_train_batches": unless_whole, "limit_val_batches": unless_whole,
                  "limit_test_batches": unless_whole, "val_check_interval": unless_whole,
                  "gradient_clip_val": lambda value: value or None}


def trainer_arguments(settings: TrainerSettings) -> dict:
    """The Trainer's keyword arguments that the registry's Trainer options give."""
    arguments = {name: TRAINER_VALUES.get(name, lambda value: value)(getattr(settings, name))
                 for name in names_where(trainer=True)}
    if settings.mode == "predict" and arguments["devices"] in ("auto", -1):
        arguments["devices"] = 1  # predictions.pt holds every item in order: one process, not one per GPU
    return {**arguments, "strategy": build_strategy(settings)}


def build_trainer(settings: TrainerSettings, run_dir: Path, learning_rate_changes: bool = False,
                  resume_step: int | None = None, module_callbacks: Sequence[Callback] = (),
                  extra_callbacks: Sequence[Callback] = ()) -> Trainer:
    """A Trainer configured from the settings, logging into `run_dir`.

    Args:
        learning_rate_changes: whether a scheduler or warm-up runs, so the learning rate is logged.
        module_callbacks: the callbacks that record the run's state and label an own module's keys; they run first.
        resume_step: the global step a resumed run continues from; TensorBoard and CSV drop any values at or
            after it that the interrupted run wrote, so curves continue without duplicated steps.
        extra_callbacks: added after the template's own (a sweep trial's pruning).
    """
    profiler = build_profiler(settings, run_dir)
    stop_probing_for_absent_gpus()
    quiet_library_notices()
    callbacks = as_one_callback([*module_callbacks, *build_callbacks(settings, run_dir, learning_rate_changes),
                                 *extra_callbacks])
    trainer = Trainer(
        logger=build_loggers(settings, run_dir, resume_step), callbacks=callbacks, profiler=profiler,
        plugins=[AtomicCheckpointIO()], default_root_dir=run_dir, use_distributed_sampler=False,
        enable_model_summary=False,  # the callbacks hold the template's own ModelSummary; no default one beside it
        **trainer_arguments(settings),
    )
    if settings.profiler and trainer.num_nodes > 1:
        # Lightning names profiles by local rank only, and every node has a local rank 0.
        profiler.filename = f"{PROFILE_NAME}-node{trainer.node_rank}"
    return trainer
