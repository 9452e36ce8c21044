"""What a stored run gives this run's options: the defaults of --mode validate, test and predict (what the run
that wrote the checkpoint chose), and the checks of a resumed run's net and experiment."""

import os
from pathlib import Path
from typing import Any

from utils.config.config_files import REPLACED_KEYS, without_replaced_keys
from utils.config.dataset_entries import parse_entry
from utils.config.framework_options import TASK, names_where
from utils.errors import UserError
from utils.loading.torch_optimizers import FILLED_IN, scheduler_class
from utils.shared_names import CHECKPOINTS_FOLDER, CONFIG_FILE, experiment_folder
from utils.stored_runs.checkpoint_files import STORED_CONFIG, readable_checkpoint, run_folder_config

# What the checkpoint's run was: its net, its datasets, how they were split, what its task means, and the folder of
# runs it lies in. How this command runs (hardware, loop lengths, loggers) stays its own. The net's and the
# datasets' constructor arguments follow too (parse_command_line).
RUN_OPTIONS = names_where(from_checkpoint=True)
TASK_OPTIONS = names_where(group=TASK)
FIT_ONLY = names_where(fit_only=True)
# Settings of the optimizer and the scheduler a resumed checkpoint restores, beside their --optimizer.NAME and
# --scheduler.NAME; and what a scheduler may take its length from (the run's epochs and its optimizer steps).
TRAINING_OPTIONS = ("optimizer", "scheduler", "warmup_steps", "lr_groups")
SCHEDULE_LENGTH = ("max_epochs", "limit_train_batches", "accumulate_grad_batches")
# Options that would change the weights a fit starts from or trains: another mode evaluating --ckpt refuses them.
WEIGHT_OPTIONS = ("weights", "weights_strict", "freeze", "unfreeze_at_epoch", "lr_groups")


def checkpoint_run(path: str) -> dict[str, Any]:
    """The options of the run that wrote a checkpoint: those it stores, else its run folder's config.yaml (older
    checkpoints), else its net's name alone. Empty for a file that is no readable template checkpoint."""
    checkpoint = readable_checkpoint(path)
    if checkpoint is None:
        return {}
    stored = checkpoint.get(STORED_CONFIG)
    if not isinstance(stored, dict):
        stored = run_folder_config(Path(path))
    # The net is the one whose weights the file holds, whatever a config beside it says.
    stored = {**stored, "model_name": checkpoint["template_net"]["model_name"]}
    folder = Path(path).resolve().parent
    if folder.name == CHECKPOINTS_FOLDER and (folder.parent / CONFIG_FILE).is_file():
        # Its run's folder of runs where it lies now, as seen from here: the stored one was seen from that run's.
        stored["log_dir"] = os.path.relpath(experiment_folder(folder.parent).parent)
    if stored.get("train_dataset") and not stored.get("val_datasets"):
        # A cross-validation validated on its held-out fold, which no other mode builds: its test sets stand in.
        stored["val_datasets"] = stored.get("test_datasets")
    return stored


def name_defaults(stored: dict[str, Any], given: list[str]) -> dict[str, Any]:
    """The run options of the checkpoint's run (its net, datasets, experiment and task), less those that options
    given (`--name` words of the command line and config file) replace."""
    defaults = {key: value for key, value in stored.items() if key in RUN_OPTIONS}
    return without_replaced_keys(defaults, given)


def stored_dataset_names(defaults: dict[str, Any]) -> set[str]:
    """The dataset files the checkpoint's run used that this run still uses by default."""
    texts = [defaults.get(key) for key in REPLACED_KEYS]  # the options of dataset entries
    flat = [text for value in texts if value for text in ([value] if isinstance(value, str) else value)]
    return {parse_entry(text).name for text in flat}


def check_same_net(path: str, stored: dict[str, Any], model_name: str) -> None:
    """Refuse a --model_name other than the net whose weights the checkpoint holds."""
    if stored and stored["model_name"] != model_name:
        raise UserError(f"--ckpt {path} holds the weights of {stored['model_name']}, not of --model_name "
                        f"{model_name}: drop --model_name (the checkpoint's net is the default), or pass a "
                        f"checkpoint of {model_name}")


def check_same_experiment(run_dir: Path, stored: dict, asked: str | None) -> None:
    """Refuse an --experiment that names another experiment than the resumed run's own."""
    if asked is None or asked in (run_dir.parent.name, stored.get("experiment")):
        return
    raise UserError(f"--resume {run_dir} continues a run of experiment {run_dir.parent.name!r}, not --experiment "
                    f"{asked!r}: drop --experiment to continue that run, or pass --resume last --experiment {asked} "
                    f"to continue a run of {asked}")


def check_same_resumed_net(run_dir: Path, stored: dict, asked: str) -> None:
    """Refuse a --model_name other than the resumed run's own net."""
    if stored.get("model_name", asked) != asked:
        raise UserError(f"--resume {run_dir} continues a run of {stored['model_name']}, not --model_name {asked}: "
                        f"drop --model_name to continue that run, or start a new run of {asked} (with --weights "
                        f"to start from this run's checkpoint)")


def check_same_task(run_dir: Path, stored: dict[str, Any], options: dict[str, Any], stated: frozenset[str]) -> None:
    """Refuse an option stated unlike the resumed run's where the checkpoint keeps what it meant: a task option (loss,
    metrics, ...), whose best and history would compare numbers that mean different things; an optimizer's or a
    scheduler's setting, which the optimizer's and scheduler's state restored from the checkpoint would override;
    what a schedule took its length from (cosine_annealing_lr's T_max is --max_epochs)."""
    training = [name for name in stated if name in TRAINING_OPTIONS or name.startswith(("optimizer.", "scheduler."))]
    length = [name for name in SCHEDULE_LENGTH if name in stated and schedule_sets_length(stored.get("scheduler"))]
    reasons = {**dict.fromkeys(TASK_OPTIONS, "a resumed run's loss and metrics keep what they meant"),
               **dict.fromkeys(training, "a resumed run continues with the optimizer and scheduler its checkpoint "
                                         "holds, which would override it"),
               **dict.fromkeys(length, f"the run's {stored.get('scheduler')} schedule took its length from it, and "
                                       f"the checkpoint restores that schedule")}
    for name, reason in reasons.items():
        if name in stated and name in stored and options[name] != stored[name]:
            shown, own = (" ".join(map(str, value)) if isinstance(value, list) else value
                          for value in (options[name], stored[name]))
            own = "the default" if own is None else own
            raise UserError(f"--resume {run_dir}: --{name} {shown} is not the run's own ({own}), and {reason}: drop "
                            f"--{name}, or start a new run from this one's weights with --weights "
                            f"{run_dir}/checkpoints/last.ckpt")


def check_same_choices(run_dir: Path, stored: dict[str, Any], names: Any, stated: set[str]) -> None:
    """Refuse another --optimizer or --scheduler than the resumed run's, before its config.yaml's settings of its own
    optimizer and scheduler are read."""
    for kind in ("optimizer", "scheduler"):
        if kind in stated and kind in stored and getattr(names, kind) != stored[kind]:
            raise UserError(f"--resume {run_dir}: --{kind} {getattr(names, kind)} is not the run's own "
                            f"({stored[kind]}), and a resumed run continues with the optimizer and scheduler its "
                            f"checkpoint holds: drop --{kind}, or start a new run from this one's weights with "
                            f"--weights {run_dir}/checkpoints/last.ckpt")


def schedule_sets_length(scheduler: str | None) -> bool:
    """Whether the scheduler takes its length from the run (--max_epochs, or the optimizer steps it makes)."""
    cls = scheduler_class(scheduler) if scheduler else None
    return cls is not None and any(source in ("max_epochs", "total_steps")
                                   for source in FILLED_IN.get(cls.__name__, {}).values())


def outside_fit(options: dict[str, Any], stated: frozenset[str]) -> frozenset[str]:
    """For --mode validate, test, predict and export: refuse a stated option that would change the weights, which
    are --ckpt's; the fit-only options, which the record of such a run leaves out."""
    given = [name for name in WEIGHT_OPTIONS if name in stated]
    if given:
        raise UserError(f"--{given[0]} is for --mode fit, which trains the net; --mode {options['mode']} uses the "
                        f"weights of --ckpt as they are: drop --{given[0]}")
    return frozenset(name for name in options if name.split(".")[0] in FIT_ONLY)
