"""Train, validate, test or predict: `python main.py --model_name standard_net --dataset standard_data`."""

import os
import sys
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from utils.config.command_line import Command, compare_request, parse_command_line
from utils.config.experiment_options import drives_several_runs
from utils.config.text_values import check_utf8_words
from utils.errors import DiskFull, RunStopped, SameInEveryProcess, TrainingDiverged, UserError
from utils.run_lock import is_rank_zero
from utils.trainer.threads import ThreadCount, use_threads


def build_model(command: Command) -> Any:
    """A fresh model for fit (its net from --weights when given), or the one stored in --ckpt: an MInterface around
    the net, or the user's own module."""
    from model.model_interface import MInterface
    from utils.trainer.own_modules import (
        build_own_module,
        check_manual_optimization,
        is_own_module,
        own_module_from_checkpoint,
    )

    settings, own_module = command.settings, is_own_module(command.model_class)
    if settings.run.mode != "fit" and own_module:
        return own_module_from_checkpoint(settings.run.ckpt)
    if settings.run.mode != "fit":
        # The checkpoint's own task settings, less those this command states (the command line wins).
        stated = {name: value for name, value in asdict(settings.task).items() if name in command.stated}
        model = MInterface.from_checkpoint(settings.run.ckpt, command.val_labels, command.test_labels, stated)
    elif own_module:
        model = build_own_module(command.model_class, command.net_arguments(), command.injected())
        check_manual_optimization(model, command.options)
    else:
        model = MInterface(command.options["model_name"], command.net_arguments(), command.val_labels,
                           command.test_labels, settings.task, settings.optimization)
    if settings.run.mode == "fit" and settings.run.weights is not None:
        from utils.runs.start_weights import start_from_weights

        start_from_weights(command, model if own_module else model.net, model)
    if not own_module:
        model.use_speedups(settings.trainer.torch_compile, settings.trainer.channels_last)
    return model


@dataclass
class PreparedRun:
    """Everything a run needs, checked and built: the parsed command, data, model, run folder and Trainer."""

    command: Command
    datamodule: Any
    model: Any
    run_dir: Path
    trainer: Any
    threads: ThreadCount  # torch's intra-op threads in each of its processes


def checked_command(argv: list[str]) -> Command:
    """Parse the command line (which answers --help and --list), then make every check that needs no dataset."""
    command = parse_command_line(argv)
    from utils.trainer.own_module_options import own_module_command
    from utils.trainer.run_checks import check_command, with_monitor_mode

    command = with_monitor_mode(own_module_command(command))
    check_command(command)
    return command


def checked_sets(mode: str, datamodule: Any, model: Any) -> dict[str, Any]:
    """The sets a mode reads, each once, by label: a fit's train and val sets and the test sets it ends on (one whose
    label a val set has too as `test/<label>`); the test sets of the other modes."""
    from utils.trainer.module_hooks import defines_hook

    if mode != "fit":
        return datamodule.test_sets
    checked = {"train": datamodule.train_set, **datamodule.val_sets}
    if not defines_hook(type(model), "test_step"):
        return checked
    for label, dataset in datamodule.test_sets.items():
        if all(dataset is not seen for seen in checked.values()):
            checked[f"test/{label}" if label in checked else label] = dataset
    return checked


def build_checked(command: Command) -> tuple[Any, Any]:
    """Seed, build the data and the model and push a batch through the net: the checks that need them."""
    from data.data_interface import DInterface
    from utils.config.checks import check_val_check_interval
    from utils.config.framework_options import BY_NAME
    from utils.datasets.splits import check_fraction_used
    from utils.lightning_package import pl
    from utils.runs.random_state import host_random_state_kept
    from utils.tasks.dry_step import dry_step
    from utils.tasks.metrics import check_monitor
    from utils.tasks.preflight import check_batches, check_trainable, preflight
    from utils.tasks.train_batches import check_train_batches
    from utils.tasks.unlabeled import labeled_sets
    from utils.trainer.own_modules import is_own_module

    settings = command.settings
    pl.seed_everything(settings.run.seed, workers=True, verbose=False)
    datamodule = DInterface(command.train_entry, command.val_entries, command.test_entries, command.dataset_classes,
                            command.class_values(), settings.data)
    # Seeded again: the net's first weights must not depend on how many datasets drew from the global generator.
    pl.seed_everything(settings.run.seed, workers=True, verbose=False)
    model = build_model(command)
    sets = checked_sets(settings.run.mode, datamodule, model)
    own_module = is_own_module(command.model_class)
    entries: dict[str, list[str]] = {}
    # A dataset may draw random numbers as it gives items (an augmentation): checking a set must not change training.
    with host_random_state_kept():
        if own_module:
            check_batches(sets)
        else:
            if settings.run.mode == "predict":  # items to predict on need no target
                sets = labeled_sets(model, sets)
            model.use_class_count(preflight(model, sets))
            entries = dry_step(model, sets)
        if settings.run.mode == "fit":
            check_train_batches(command.options, datamodule.train_set, None if own_module else model.net,
                                settings.task.input_key, settings.task.target_key)
    if settings.run.mode == "fit" and not own_module:
        check_trainable(model.net)
        # A metric of a dict of numbers (ClasswiseWrapper's) logs each entry under its own name.
        logged = [key for name in model.metric_names() for key in entries.get(name, [name])]
        check_monitor(settings.trainer.monitor, logged, command.val_labels,
                      validates=settings.trainer.limit_val_batches != 0)
    check_val_check_interval(command.options, len(datamodule.train_set))
    check_fraction_used(settings.data.val_fraction, BY_NAME["val_fraction"].default, "val_fraction" in command.stated,
                        datamodule.holds_out)
    return datamodule, model


def resumed_step(command: Command, datamodule: Any, model: Any) -> int | None:
    """The global step of the checkpoint a --resume continues, once it is checked to fit the net and the data order
    built now (its file read once); None for a new run."""
    from utils.runs.checkpoints import check_resume_fits, read_checkpoint

    if not command.resume_checkpoint:
        return None
    resumed = str(command.resume_checkpoint)
    checkpoint = read_checkpoint(resumed)
    check_resume_fits(resumed, checkpoint, model.state_dict())
    datamodule.check_resume_position(checkpoint, resumed)
    return checkpoint["global_step"]


def confusion_images(command: Command, model: Any, datamodule: Any) -> list[Any]:
    """The confusion matrix images of MInterface's val and test sets, unless --confusion_images off."""
    from utils.trainer.confusion_images import ConfusionImages
    from utils.trainer.own_modules import is_own_module

    when = command.settings.trainer.confusion_images
    if when == "off" or is_own_module(command.model_class):  # an own module keeps its metrics its own way
        return []
    return [ConfusionImages(when, {"val": model.val_metrics, "test": model.test_metrics}, model.labels,
                            {"val": datamodule.val_sets, "test": datamodule.test_sets})]


def prepare_checked(command: Command) -> PreparedRun:
    """Build the data and the model of a checked command, then claim the run folder and build the Trainer."""
    from utils.experiments.pruning import sweep_trial_callbacks
    from utils.runs.folder import claim_run_folder, remove_stale_temporaries
    from utils.trainer.build import build_trainer
    from utils.trainer.own_modules import module_callbacks
    from utils.trainer.stored_config import StoredConfig

    settings = command.settings
    datamodule, model = build_checked(command)
    resume_step = resumed_step(command, datamodule, model)
    trial_callbacks = sweep_trial_callbacks(settings.trainer.monitor)
    run_dir = claim_run_folder(command)
    remove_stale_temporaries(run_dir)
    trainer = build_trainer(settings.trainer, run_dir, settings.optimization.changes_learning_rate, resume_step,
                            [*module_callbacks(command, run_dir), StoredConfig(command.resolved_config())],
                            [*confusion_images(command, model, datamodule), *trial_callbacks])
    threads = use_threads(settings.trainer.threads, trainer.num_devices)
    return PreparedRun(command, datamodule, model, run_dir, trainer, threads)


def prepare_run(argv: list[str]) -> PreparedRun:
    """Parse and check everything, build the data and the model, push a batch through, then claim the run folder."""
    return prepare_checked(checked_command(argv))


def run(argv: list[str]) -> int:
    """Prepare the run, record its configuration, run the mode and write the results (or compare runs)."""
    check_utf8_words(argv)
    request = compare_request(argv)
    if request:
        from utils.runs.comparison import compare_runs

        print(compare_runs(*request))
        return 0
    command = checked_command(argv)
    if drives_several_runs(command.options):
        from utils.experiments.child_runs import MainEntry
        from utils.experiments.drive import run_several

        return run_several(command, MainEntry(Path(__file__).resolve(), checked_command, build_checked))
    prepared = prepare_checked(command)
    from utils.runs.start_weights import record_starting_weights
    from utils.trainer.modes import close_process_group, run_mode
    from utils.trainer.run_records import record_configuration, record_results
    from utils.trainer.signals import stopped_by_signal

    trainer, run_dir = prepared.trainer, prepared.run_dir
    if trainer.is_global_zero:
        record_configuration(command, trainer, run_dir, prepared.threads)
        record_starting_weights(run_dir, prepared.model)
    try:
        results = stopped_by_signal(trainer, run_dir, partial(run_mode, command, trainer, prepared.model,
                                                              prepared.datamodule, run_dir))
    except TrainingDiverged:
        close_process_group()  # every process stopped at the same step, so they can leave the run together
        raise
    if trainer.is_global_zero:
        record_results(run_dir, results)
    close_process_group()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: a user error is one `error: ...` line on stderr and exit code 2."""
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except (UserError, TrainingDiverged, DiskFull) as error:
        # An error every process finds alike, at the same step, is said by one line.
        if is_rank_zero() or not isinstance(error, (SameInEveryProcess, TrainingDiverged)):
            print(f"error: {error}", file=sys.stderr)
        return 2 if isinstance(error, UserError) else 1
    except RunStopped as stop:
        if str(stop):
            print(str(stop), file=sys.stderr)
        return stop.exit_code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # the reader of the output stopped (`--list | head`): Python's documented remedy
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
