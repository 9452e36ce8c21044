"""Train, validate, test or predict: `python main.py --model_name standard_net --dataset standard_data`."""

import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from utils.config.command_line import Command, parse_command_line
from utils.config.experiment_options import drives_several_runs
from utils.errors import DiskFull, RunPruned, RunStopped, TrainingDiverged, UserError


def check_command(command: Command) -> None:
    """Every check that needs no dataset: names, options, hardware, task, monitor and checkpoint."""
    from utils.config.checks import check_options
    from utils.optimization import check_optimization
    from utils.runs.checkpoints import check_checkpoint
    from utils.runs.folder import check_experiment_name
    from utils.tasks.kinds import check_num_classes, task_kind
    from utils.tasks.losses import check_loss_fits_task
    from utils.tasks.metric_catalogue import metric_class, parse_metric_entry
    from utils.trainer.own_modules import is_own_module

    settings = command.settings
    check_experiment_name(command.experiment)
    check_loss_fits_task(settings.task.loss or task_kind(settings.task.task).default_loss, settings.task.task)
    check_num_classes(settings.task.task, settings.task.num_classes)
    for entry in settings.task.metrics or []:
        metric_class(parse_metric_entry(entry)[0])
    check_options(command.options)
    if settings.run.ckpt:
        check_checkpoint(settings.run.ckpt)
    if settings.run.mode == "fit" and not is_own_module(command.model_class):
        check_optimization(settings.optimization, settings.trainer.max_epochs)
    if command.resume_dir and settings.trainer.fast_dev_run:
        raise UserError("--fast_dev_run is a dry run and would overwrite the resumed run's config.yaml and "
                        "results.json: drop --fast_dev_run, or try it in a new run without --resume")
    if command.resume_dir and settings.run.mode != "fit":
        raise UserError(f"--resume continues training: drop --mode {settings.run.mode} (or use --ckpt without "
                        f"--resume)")


def build_model(command: Command) -> Any:
    """A fresh model for fit, or the one stored in --ckpt: an MInterface around the net, or the user's own module."""
    from model.model_interface import MInterface
    from utils.trainer.own_modules import is_own_module, own_module_from_checkpoint

    settings, own_module = command.settings, is_own_module(command.model_class)
    if settings.run.mode != "fit":
        if own_module:
            return own_module_from_checkpoint(settings.run.ckpt)
        return MInterface.from_checkpoint(settings.run.ckpt, command.val_labels, command.test_labels)
    if own_module:
        return command.model_class(**net_arguments(command))
    return MInterface(command.options["model_name"], net_arguments(command), command.val_labels, command.test_labels,
                      settings.task, settings.optimization)


def net_arguments(command: Command) -> dict[str, Any]:
    """The arguments the chosen model/ class is built with: the values its signature asks for and the run has."""
    from utils.config.signature_options import constructor_parameters

    values = command.class_values()
    return {parameter.name: values[parameter.name] for parameter in constructor_parameters(command.model_class)
            if values.get(parameter.name) is not None}


@dataclass
class PreparedRun:
    """Everything a run needs, checked and built: the parsed command, data, model, run folder and Trainer."""

    command: Command
    datamodule: Any
    model: Any
    run_dir: Path
    trainer: Any


def checked_command(argv: list[str]) -> Command:
    """Parse the command line and make every check that needs no dataset."""
    command = parse_command_line(argv)
    check_command(command)
    return command


def build_checked(command: Command) -> tuple[Any, Any]:
    """Seed, build the data and the model and push a batch through the net: the checks that need them."""
    import pytorch_lightning as pl

    from data.data_interface import DInterface
    from utils.config.checks import check_val_check_interval
    from utils.runs.checkpoints import check_resume_fits
    from utils.tasks.metrics import check_monitor
    from utils.tasks.preflight import check_batches, check_trainable, preflight
    from utils.trainer.own_modules import is_own_module

    settings = command.settings
    pl.seed_everything(settings.run.seed, workers=True, verbose=False)
    datamodule = DInterface(command.train_entry, command.val_entries, command.test_entries, command.dataset_classes,
                            command.class_values(), settings.data)
    model = build_model(command)
    checked_sets = {"train": datamodule.train_set, **datamodule.val_sets} if settings.run.mode == "fit" else None
    own_module = is_own_module(command.model_class)
    if own_module:
        check_batches(checked_sets or datamodule.test_sets)
    else:
        model.use_class_count(preflight(model, checked_sets or datamodule.test_sets))
    if settings.run.mode == "fit" and not own_module:
        check_trainable(model.net)
        check_monitor(settings.trainer.monitor, model.metric_names(), command.val_labels,
                      validates=settings.trainer.limit_val_batches != 0)
    check_val_check_interval(command.options, len(datamodule.train_set))
    if command.resume_checkpoint:
        check_resume_fits(str(command.resume_checkpoint), model.state_dict())
    return datamodule, model


def prepare_checked(command: Command) -> PreparedRun:
    """Build the data and the model of a checked command, then claim the run folder and build the Trainer."""
    from utils.experiments.pruning import sweep_trial_callbacks
    from utils.runs.checkpoints import read_checkpoint
    from utils.runs.folder import claim_run_folder, remove_stale_temporaries
    from utils.trainer.build import build_trainer
    from utils.trainer.own_modules import is_own_module, module_callbacks

    settings = command.settings
    datamodule, model = build_checked(command)
    resume_step = read_checkpoint(str(command.resume_checkpoint))["global_step"] if command.resume_dir else None
    run_dir = command.resume_dir or claim_run_folder(settings.run.log_dir, command.experiment)
    remove_stale_temporaries(run_dir)
    callbacks = module_callbacks(command.options["model_name"], net_arguments(command),
                                 is_own_module(command.model_class),
                                 {"val": command.val_labels, "test": command.test_labels},
                                 settings.trainer.monitor if settings.run.mode == "fit" else None)
    trainer = build_trainer(settings.trainer, run_dir, settings.optimization.changes_learning_rate, resume_step,
                            callbacks, sweep_trial_callbacks(settings.trainer.monitor))
    return PreparedRun(command, datamodule, model, run_dir, trainer)


def prepare_run(argv: list[str]) -> PreparedRun:
    """Parse and check everything, build the data and the model, push a batch through, then claim the run folder."""
    return prepare_checked(checked_command(argv))


def run(argv: list[str]) -> int:
    """Prepare the run, record its configuration, run the mode and write the results."""
    command = checked_command(argv)
    if drives_several_runs(command.options):
        from utils.experiments.child_runs import MainEntry
        from utils.experiments.drive import run_several

        return run_several(command, MainEntry(Path(__file__).resolve(), checked_command, build_checked))
    prepared = prepare_checked(command)
    from utils.runs.environment import environment_record
    from utils.runs.folder import write_json, write_yaml
    from utils.runs.results import results_table
    from utils.trainer.modes import close_process_group, run_mode
    from utils.trainer.signals import stopped_by_signal

    command, trainer, run_dir = prepared.command, prepared.trainer, prepared.run_dir
    if trainer.is_global_zero:
        write_yaml(run_dir / "config.yaml", command.resolved_config())
        write_yaml(run_dir / "environment.yaml", environment_record())
    mode = command.settings.run.mode
    results: dict[str, Any] = {"mode": mode, "run_dir": str(run_dir)}
    results.update({"monitor": command.settings.trainer.monitor} if mode == "fit" else
                   {"checkpoint": command.settings.run.ckpt})
    labels = {"val": command.val_labels, "test": command.test_labels}
    try:
        results.update(stopped_by_signal(trainer, run_dir, partial(
            run_mode, mode, trainer, prepared.model, prepared.datamodule, labels, run_dir, command.resume_checkpoint)))
    except RunPruned as pruned:
        results["pruned"] = str(pruned)
    if trainer.is_global_zero:
        write_json(run_dir / "results.json", results)
        summary = f"pruned: {results['pruned']}" if "pruned" in results else results_table(results)
        print(f"\n{summary}\n\nrun folder: {run_dir}")
    close_process_group()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: a user error is one `error: ...` line on stderr and exit code 2."""
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (TrainingDiverged, DiskFull) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except RunStopped as stop:
        if str(stop):
            print(str(stop), file=sys.stderr)
        return stop.exit_code


if __name__ == "__main__":
    sys.exit(main())
