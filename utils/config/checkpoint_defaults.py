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
from utils.shared_names import CHECKPOINTS_FOLDER, CONFIG_FILE, experiment_folder, fold_folder, last_checkpoint
from utils.stored_runs.checkpoint_files import STORED_CONFIG, readable_checkpoint, run_folder_config

# What the checkpoint's run was: its net, its datasets, how they were split, what its task means, and the folder of
# runs it lies in. How this command runs (hardware, loop lengths, loggers) stays its own. The net's and the
# datasets' constructor arguments follow too (parse_command_line).
RUN_OPTIONS = names_where(from_checkpoint=True)
TASK_OPTIONS = names_where(group=TASK)
FIT_ONLY = names_where(fit_only=True)
# Settings of the optimizer and the scheduler a resumed checkpoint restores, beside their --optimizer.NAME and
# --scheduler.NAME; and the options a scheduler's length comes from, by where FILLED_IN takes it from.
TRAINING_OPTIONS = ("optimizer", "scheduler", "warmup_steps", "lr_groups")
LENGTH_SOURCES = {"max_epochs": ("max_epochs",),
                  "total_steps": ("max_epochs", "limit_train_batches", "accumulate_grad_batches", "batch_size",
                                  "drop_last", "devices", "num_nodes")}
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


def check_kept_by_checkpoint(run_dir: Path, stored: dict[str, Any], options: dict[str, Any], stated: frozenset[str],
                    spelled: dict[str, str]) -> None:
    """Refuse an option stated unlike the resumed run's where the checkpoint keeps what it meant: a task option (loss,
    metrics, ...), whose best and history would compare numbers that mean different things; an optimizer's or a
    scheduler's setting, which the optimizer's and scheduler's state restored from the checkpoint would override;
    what a schedule took its length from (cosine_annealing_lr's T_max is --max_epochs)."""
    training = [name for name in stated if name in TRAINING_OPTIONS or name.startswith(("optimizer.", "scheduler."))]
    reasons = {**dict.fromkeys(TASK_OPTIONS, "a resumed run's loss and metrics keep what they meant"),
               **dict.fromkeys(training, "a resumed run continues with the optimizer and scheduler its checkpoint "
                                         "holds, which would override it"),
               **dict.fromkeys(schedule_length_options(stored.get("scheduler")),
                               f"the run's {stored.get('scheduler')} schedule took its length from it, and the "
                               f"checkpoint restores that schedule")}
    for name, reason in reasons.items():
        if name in stated and name in stored and not same_value(options[name], stored[name]):
            shown, own = (" ".join(map(str, value)) if isinstance(value, list) else value
                          for value in (options[name], stored[name]))
            own = "the default" if own is None else own
            typed = spelled.get(name, f"--{name}")
            raise UserError(f"--resume {run_dir}: {typed} {shown} is not the run's own ({own}), and {reason}: drop "
                            f"{typed}, or start a new run from this one's weights with {weights_hint(run_dir)}")


def same_value(stated: Any, own: Any) -> bool:
    """Whether a stated value is the run's own: equal, and not a count for a fraction (--limit_train_batches 1 is one
    batch, 1.0 every batch)."""
    return stated == own and isinstance(stated, int) == isinstance(own, int)


def weights_hint(run_dir: Path) -> str:
    """`--weights` with the run's last checkpoint, or a fold's for a cross-validation's folder."""
    folder = run_dir if (run_dir / CHECKPOINTS_FOLDER).is_dir() else run_dir / fold_folder(0)
    return f"--weights {last_checkpoint(folder)}"


def check_same_choices(run_dir: Path, stored: dict[str, Any], names: Any, stated: set[str]) -> None:
    """Refuse another --optimizer or --scheduler than the resumed run's, before its config.yaml's settings of its own
    optimizer and scheduler are read."""
    for kind in ("optimizer", "scheduler"):
        if kind in stated and kind in stored and getattr(names, kind) != stored[kind]:
            raise UserError(f"--resume {run_dir}: --{kind} {getattr(names, kind)} is not the run's own "
                            f"({stored[kind]}), and a resumed run continues with the optimizer and scheduler its "
                            f"checkpoint holds: drop --{kind}, or start a new run from this one's weights with "
                            f"{weights_hint(run_dir)}")


def schedule_length_options(scheduler: str | None) -> tuple[str, ...]:
    """The options the scheduler's length comes from: --max_epochs for one stepped each epoch (cosine_annealing_lr's
    T_max), and what sets the optimizer steps too for one stepped each step (one_cycle_lr's total_steps)."""
    cls = scheduler_class(scheduler) if scheduler else None
    sources = FILLED_IN.get(cls.__name__, {}).values() if cls is not None else ()
    return tuple(dict.fromkeys(name for source in sources for name in LENGTH_SOURCES.get(source, ())))


def outside_fit(options: dict[str, Any], stated: frozenset[str]) -> frozenset[str]:
    """For --mode validate, test, predict and export: refuse a stated option that would change the weights, which
    are --ckpt's; the fit-only options, which the record of such a run leaves out."""
    given = [name for name in WEIGHT_OPTIONS if name in stated]
    if given:
        raise UserError(f"--{given[0]} is for --mode fit, which trains the net; --mode {options['mode']} uses the "
                        f"weights of --ckpt as they are: drop --{given[0]}")
    return frozenset(name for name in options if name.split(".")[0] in FIT_ONLY)
