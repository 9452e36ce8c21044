"""Every check of a run that needs no dataset, made before anything is built or written."""

from dataclasses import replace

import torch

from utils.config.checks import check_options
from utils.config.command_line import Command
from utils.config.logger_options import check_logger_options
from utils.config.signature_options import class_parameter_names
from utils.errors import UserError
from utils.loading.constructor_parameters import OPTIMIZER, SCHEDULER, injected_kinds
from utils.optimization import check_optimization
from utils.packages import check_feature_packages
from utils.runs.checkpoints import check_checkpoint
from utils.runs.fold_resume import check_folds_kept
from utils.runs.folder import check_experiment_name
from utils.tasks.kinds import check_num_classes, task_kind
from utils.tasks.layout import check_layout_options
from utils.tasks.losses import check_loss_fits_task
from utils.tasks.metric_catalogue import metric_class, parse_metric_entry
from utils.tasks.metrics import chosen_metrics, metric_monitor_mode
from utils.trainer.confusion_images import draws_images
from utils.trainer.own_modules import check_module_defines_mode, is_own_module


def runs_on_cpu(accelerator: str) -> bool:
    """Whether the run trains on the CPU: asked for, or the only device there is."""
    return accelerator == "cpu" or not (torch.cuda.is_available() or torch.backends.mps.is_available())


def with_monitor_mode(command: Command) -> Command:
    """The command with --monitor_mode, unless given, as the monitored metric's torchmetrics class says (its name
    only guessed it while the command line was parsed)."""
    if "monitor_mode" in command.given or is_own_module(command.model_class):
        return command
    task = command.settings.task
    mode = metric_monitor_mode(command.options["monitor"], task.task, task.metrics)
    return command if mode is None else replace(command, options={**command.options, "monitor_mode": mode})


def check_command(command: Command) -> None:
    """Every check that needs no dataset: names, options, hardware, task, monitor and checkpoint."""
    settings = command.settings
    check_experiment_name(command.experiment)
    check_loss_fits_task(settings.task.loss or task_kind(settings.task.task).default_loss, settings.task.task,
                         settings.task.label_smoothing, "label_smoothing" in command.stated)
    check_num_classes(settings.task.task, settings.task.num_classes)
    check_layout_options(settings.task)
    for entry in chosen_metrics(settings.task.task, settings.task.metrics):
        metric_class(parse_metric_entry(entry)[0])
    check_options(command.options)
    check_logger_options(command.options)
    check_feature_packages(command.options, draws_images(settings, is_own_module(command.model_class)))
    if settings.run.ckpt:
        check_checkpoint(settings.run.ckpt)
    injects_optimization = bool({OPTIMIZER, SCHEDULER} & set(injected_kinds(command.model_class).values()))
    if settings.run.mode == "fit" and (not is_own_module(command.model_class) or injects_optimization):
        on_cpu = runs_on_cpu(settings.trainer.accelerator)
        check_optimization(settings.optimization, settings.trainer.max_epochs, on_cpu)
    if is_own_module(command.model_class):
        check_module_defines_mode(command.model_class, settings.run.mode)
    if command.resume_dir and settings.trainer.fast_dev_run:
        raise UserError("--fast_dev_run is a dry run and would overwrite the resumed run's config.yaml and "
                        "results.json: drop --fast_dev_run, or try it in a new run without --resume")
    if command.resume_dir:
        train_class = command.dataset_classes[command.train_entry.name]
        check_folds_kept(command.resume_dir, command.resolved_config(), class_parameter_names([train_class]))
    if command.resume_dir and settings.run.mode != "fit":
        raise UserError(f"--resume continues training: drop --mode {settings.run.mode} (or use --ckpt without "
                        f"--resume)")
