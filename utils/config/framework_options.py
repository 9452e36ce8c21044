"""The registry of the framework's own options: each declared once, with its reason where a default needs one.

The parser's options, the typed settings (settings.py), the Trainer's keyword arguments (utils/trainer/build.py),
what config.yaml keeps, what a checkpoint's run supplies and what a sweep may vary all follow from these entries.
"""

import argparse
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from utils.config import value_types as vt
from utils.config.optimizer_choices import optimizer_name, scheduler_name
from utils.config.parser import OptionGroup, UserArgumentParser
from utils.loading.torch_optimizers import SCHEDULER_ALIASES

SWITCH = argparse.BooleanOptionalAction
TEXT = vt.non_empty_text  # an empty value would silently stand for the default
WHAT, EXPERIMENTS, RUN = "what to run", "cross-validation and sweeps", "run"
TASK, LEARNING = "task: what the batches, outputs, loss and metrics are", "learning"
CHECKS, LOGGERS, TRAINER = "checkpoints and early stopping", "loggers", "trainer"
LOGGER_NAMES = ("tensorboard", "csv", "mlflow")


@dataclass(frozen=True)
class Option:
    """One framework option: how the command line reads it and everything else that reads it."""

    name: str
    group: str
    help: str | None = None
    default: Any = None
    read: Callable[[str], Any] | None = None  # argparse's type
    choices: tuple | None = None
    many: bool = False  # one or more words
    action: Any = None  # SWITCH for a --x / --no-x switch, or argparse's store_true
    metavar: str | None = None
    settings: tuple[str, ...] = ()  # the settings groups (settings.py) it fills
    trainer: bool = False  # fed to Trainer(<name>=...) and so read by TrainerSettings
    first: bool = False  # read in the first pass, before the chosen classes add their options
    saved: bool = True  # written to config.yaml
    swept: bool = True  # a sweep file may vary it
    sweep_only: bool = False  # read by a sweep's worker alone, left out of each trial's options
    from_checkpoint: bool = False  # --mode validate, test and predict take the checkpoint's run's value as default
    config_file: bool = True  # a config file may set it (not those that choose which files are read)
    configures: str | None = None  # what it configures; an own LightningModule does that itself and refuses it
    fit_only: bool = False  # read by --mode fit alone: the record of another mode leaves it out

    @property
    def annotation(self) -> Any:
        """The type of the option's value, read from how it is parsed."""
        if self.action is not None:
            return bool
        if self.choices:
            value = type(self.choices[0])
        elif self.read is None or isinstance(self.read, type):
            value = self.read or str
        else:
            value = typing.get_type_hints(self.read).get("return", str)
        value = list[value] if self.many else value
        return value | None if self.default is None else value

    def add_to(self, group: OptionGroup) -> None:
        """Add the option to an argparse group."""
        settings = {"action": self.action, "type": self.read, "choices": self.choices, "nargs": "+" if self.many
                    else None, "metavar": self.metavar, "default": self.default, "help": self.help}
        group.add_argument(f"--{self.name}", **{key: value for key, value in settings.items() if value is not None})


def _entry(name: str, help_text: str, **fields: Any) -> Option:
    return Option(name, WHAT, help_text, read=TEXT, first=True, from_checkpoint=True, **fields)


OPTIONS = (
    Option("model_name", WHAT, "file in model/ without .py (default: example_net)", "example_net", TEXT, first=True,
           from_checkpoint=True),
    _entry("dataset", "one dataset file in data/ for train, val and test"),
    _entry("train_dataset", "dataset entry for training: NAME or LABEL=NAME:key=value,..."),
    _entry("val_datasets", "dataset entries validated every epoch, each under its label", many=True),
    _entry("test_datasets", "dataset entries tested after fit or with --mode test (default: --dataset's, else the "
           "val entries)", many=True),
    Option("config", WHAT, "YAML file of option defaults; the command line wins", read=TEXT, first=True, saved=False,
           swept=False, config_file=False),
    Option("resume", WHAT, "continue a run in its own folder: its folder, a checkpoint in it, or last", read=TEXT,
           first=True, saved=False, swept=False, config_file=False),
    Option("log_dir", WHAT, "folder that holds every run (default: Logs)", "Logs", vt.folder_path, first=True,
           settings=("run",), swept=False, from_checkpoint=True),
    _entry("experiment", "run folder group (default: <model_name>-<train label>)", swept=False),
    Option("list", WHAT, "list the available nets and datasets, then exit", False, action="store_true", first=True,
           saved=False, swept=False),
    Option("compare", WHAT, "print finished runs side by side (run folders, or experiment folders such as "
           "Logs/<experiment>), then exit", many=True, metavar="RUN", first=True, saved=False),
    Option("csv", WHAT, "with --compare: also write the table to this CSV file", metavar="FILE", first=True,
           saved=False),
    Option("folds", EXPERIMENTS, "k-fold cross-validation: K runs in fold_<k>/ of one run folder (K >= 2)",
           read=vt.positive_int, first=True, settings=("data",), swept=False),
    Option("fold", EXPERIMENTS, "run only fold k of --folds K (what each fold of a cross-validation runs)",
           read=vt.non_negative_int, first=True, settings=("data",), swept=False),
    Option("sweep", EXPERIMENTS, "YAML search space: option: [choices] | {low, high, log, step} | value", first=True,
           swept=False, sweep_only=True),
    Option("trials", EXPERIMENTS, "finished trials the study holds in the end", read=vt.positive_int, first=True,
           swept=False, sweep_only=True),
    Option("study", EXPERIMENTS, "Optuna study name (default: the sweep file's name without .yaml)", first=True,
           swept=False, sweep_only=True),
    Option("storage", EXPERIMENTS, "Optuna storage URL shared by every worker (default: a SQLite file optuna.db in "
           "the experiment's folder)", first=True, swept=False, sweep_only=True),
    Option("parallel", EXPERIMENTS, "trials or folds at once on this machine, each on its own GPUs (groups of "
           "--devices) or else its own CPU cores; auto fills the machine", 1, vt.parallel_value, metavar="N|auto",
           first=True, saved=False, swept=False, sweep_only=True),
    Option("pruner", EXPERIMENTS, "stop trials worse than the median of earlier ones at the same epoch", "median",
           choices=("median", "none"), first=True, swept=False, sweep_only=True),
    Option("mode", RUN, "fit trains then tests the best checkpoint", "fit", choices=("fit", "validate", "test",
           "predict", "export"), first=True, settings=("run", "trainer"), swept=False),
    Option("ckpt", RUN, "checkpoint for --mode validate, test, predict or export; its run's net, datasets and "
           "experiment are the defaults", first=True, settings=("run",), swept=False),
    Option("format", RUN, "with --mode export: the file written beside --ckpt, <ckpt name>.onnx, .pt2 "
           "(torch.export) or .pt (TorchScript)", choices=("onnx", "exported_program", "torchscript"),
           settings=("run",), swept=False),
    Option("weights", RUN, "the net's starting weights in --mode fit: a state dict or checkpoint file, or for a "
           "torchvision: net the name of its weights (IMAGENET1K_V1, DEFAULT)", read=TEXT, metavar="PATH|NAME",
           settings=("run",), fit_only=True),
    Option("weights_strict", RUN, "--weights must fill every tensor of the net with one of its shape; "
           "--no-weights_strict loads those that fit and reports the rest", True, action=SWITCH, settings=("run",),
           fit_only=True),
    Option("val_fraction", RUN, "part held out for val when a --dataset class has no split parameter", 0.1,
           vt.open_fraction, settings=("data",), from_checkpoint=True),
    Option("seed", RUN, "seed for every random generator", 42, vt.seed_value, settings=("data", "run"),
           from_checkpoint=True),
    Option("task", TASK, "picks the default loss and metrics (README: Your own task)", "classification",
           choices=("classification", "binary", "multilabel", "segmentation", "regression"),
           settings=("data", "task"), from_checkpoint=True, configures="task"),
    Option("num_classes", TASK, "classes or labels (default: read from the net's output; a net's own default stays)",
           read=vt.positive_int, settings=("task",), from_checkpoint=True, configures="task"),
    Option("loss", TASK, "default: the task's (cross_entropy, bce_with_logits or mse)",
           choices=("cross_entropy", "mse", "l1", "smooth_l1", "bce_with_logits"), settings=("task",),
           from_checkpoint=True, configures="loss"),
    Option("label_smoothing", TASK, "for cross_entropy", 0.0, vt.unit_fraction, settings=("task",),
           from_checkpoint=True, configures="loss"),
    Option("ignore_index", TASK, "target value the loss and the metrics leave out, such as the padding -100 of "
           "sequences", read=vt.integer, metavar="N", settings=("task",), from_checkpoint=True, configures="loss"),
    Option("class_axis", TASK, "where class scores lie when the shapes allow both: 1 for [B, C, ...], -1 for "
           "[B, ..., C] (default: read from the shapes)", read=int, choices=(1, -1), settings=("task",),
           from_checkpoint=True, configures="task"),
    Option("metrics", TASK, "torchmetrics names (accuracy, f1, auroc, iou, psnr:data_range=1.0, ...) or dotted paths "
           "(default: the task's; none: the loss alone)", many=True, metavar="METRIC", settings=("task",),
           from_checkpoint=True, configures="metrics"),
    Option("input_key", TASK, "the inputs' key when dataset items are dicts", "inputs", settings=("task",),
           from_checkpoint=True, configures="task"),
    Option("target_key", TASK, "the target's key when dataset items are dicts", "target", settings=("task", "data"),
           from_checkpoint=True, configures="task"),
    Option("output_key", TASK, "the entry loss and metrics read when the net returns a dict (a number N: element N "
           "of a plain tuple, 0 by default)", "logits",
           settings=("task",), from_checkpoint=True, configures="task"),
    Option("optimizer", LEARNING, "any torch.optim optimizer by its lower-case name: sgd, adam, adamw, rmsprop, radam, "
           "... (default: adam); its parameters are the --optimizer.NAME options below", "adam", optimizer_name,
           metavar="NAME", first=True, settings=("optimization",), configures="optimizer", fit_only=True),
    Option("scheduler", LEARNING, "none, or any torch.optim.lr_scheduler by its snake_case name: step_lr, "
           f"one_cycle_lr, cosine_annealing_warm_restarts, ..., or {', '.join(SCHEDULER_ALIASES)} (default: none; "
           "the default job, ExampleNet on the MNIST example, trains with one_cycle_lr peaking at a learning rate "
           "of 0.004 and label smoothing 0.1); "
           "its parameters are the --scheduler.NAME options below", "none", scheduler_name, metavar="NAME",
           first=True, settings=("optimization",), configures="scheduler", fit_only=True),
    Option("warmup_steps", LEARNING, "optimizer steps of linear warm-up, scaling whatever learning rate the scheduler "
           "gives", 0, vt.non_negative_int, settings=("optimization",), configures="optimizer", fit_only=True),
    Option("lr_groups", LEARNING, "learning rate per parameter: glob patterns over the net's parameter names, the "
           "first match wins, the rest train at --optimizer.lr (for nets without param_groups())",
           read=vt.lr_group_entry, many=True, metavar="PATTERN=LR", settings=("optimization",),
           configures="parameter_groups", fit_only=True),
    Option("freeze", LEARNING, "glob patterns over the net's parameter names: those parameters do not train",
           read=TEXT, many=True, metavar="PATTERN", settings=("optimization",), configures="parameter_groups",
           fit_only=True),
    Option("unfreeze_at_epoch", LEARNING, "the epoch from which the --freeze parameters train too",
           read=vt.positive_int, metavar="K", settings=("optimization",), configures="parameter_groups", fit_only=True),
    Option("monitor", CHECKS, "metric for best checkpoint and early stopping", "val/loss",
           settings=("optimization", "trainer"), fit_only=True),
    Option("monitor_mode", CHECKS, "whether a lower or a higher --monitor is better (default: as the monitored "
           "metric's torchmetrics class says; for other keys max where the name says higher is better: accuracy, "
           "f1, auroc, psnr...; else min)", "min",
           choices=("min", "max"), settings=("optimization", "trainer"), fit_only=True),
    Option("save_top_k", CHECKS, "best checkpoints kept (-1: every validation's)", 1, vt.kept_count,
           settings=("trainer",), fit_only=True),
    Option("patience", CHECKS, "validations without improvement before early stopping (0: never stop early)", 5,
           vt.non_negative_int, settings=("trainer",), fit_only=True),
    Option("logger", LOGGERS, f"one or more of {', '.join(LOGGER_NAMES)} (default: tensorboard)", ["tensorboard"],
           choices=LOGGER_NAMES, many=True, metavar="NAME", settings=("trainer",)),
    Option("mlflow_uri", LOGGERS, "MLflow tracking store or server (default: sqlite:///<experiment folder>/mlflow.db)",
           metavar="URI", settings=("trainer",)),
    Option("mlflow_checkpoints", LOGGERS, "also store last.ckpt as an MLflow artifact when training ends", False,
           action=SWITCH, settings=("trainer",), fit_only=True),
    Option("confusion_images", LOGGERS, "confusion matrix images per val set in TensorBoard: after every validation, "
           "after the last one (default: drawing is slow on a CPU), or none; test sets get theirs unless off", "last",
           choices=("every", "last", "off"), settings=("trainer",)),
    Option("accelerator", TRAINER, "auto, cpu, gpu, mps", "auto", trainer=True),
    Option("devices", TRAINER, "auto, a count, or indices 0,1", "auto", vt.devices_value, trainer=True),
    Option("strategy", TRAINER, None, "auto", choices=("auto", "ddp", "ddp_find_unused_parameters_true", "ddp_spawn",
           "fsdp"), trainer=True),
    Option("num_nodes", TRAINER, None, 1, vt.positive_int, trainer=True),
    Option("ddp_timeout", TRAINER, "how long the processes of a run across nodes wait for each other, at the start "
           "and at each synchronisation, before the run stops with an error", 1800, vt.positive_int,
           metavar="SECONDS", settings=("trainer",)),
    Option("sync_batchnorm", TRAINER, None, False, action=SWITCH, trainer=True),
    Option("precision", TRAINER, "16-mixed needs a GPU; bf16-mixed runs on a CPU too", "32-true",
           choices=("32-true", "32", "16-mixed", "bf16-mixed", "64-true", "64", "bf16-true", "16-true"), trainer=True),
    Option("torch_compile", TRAINER, "compile the net with torch.compile (its checkpoints load without it): slower "
           "start, faster steps on a GPU", False, action=SWITCH, settings=("trainer",), configures="net compilation"),
    Option("channels_last", TRAINER, "store the net's weights and 4-D inputs channels-last: faster convolutions on "
           "GPU tensor cores with --precision 16-mixed or bf16-mixed", False, action=SWITCH, settings=("trainer",),
           configures="memory format"),
    Option("max_epochs", TRAINER, "3 reach about 99%% on MNIST", 3, vt.positive_int, trainer=True, fit_only=True),
    Option("min_epochs", TRAINER, None, 0, vt.non_negative_int, trainer=True, fit_only=True),
    Option("fast_dev_run", TRAINER, "one batch of each stage, nothing saved but the run folder", False, action=SWITCH,
           trainer=True),
    *(Option(f"limit_{stage}_batches", TRAINER, "fraction (with a dot) or count of batches", 1.0, vt.batches_limit,
             trainer=True, fit_only=stage == "train") for stage in ("train", "val", "test")),
    Option("val_check_interval", TRAINER, "fraction of an epoch (with a dot) or count of batches between validations",
           1.0, vt.interval_value, trainer=True, fit_only=True),
    Option("gradient_clip_val", TRAINER, "0: no clipping", 0.0, vt.non_negative_float, trainer=True, fit_only=True),
    Option("accumulate_grad_batches", TRAINER, None, 1, vt.positive_int, trainer=True, fit_only=True),
    Option("log_every_n_steps", TRAINER, None, 50, vt.positive_int, trainer=True),
    Option("deterministic", TRAINER, None, False, action=SWITCH, trainer=True),
    Option("batch_size", TRAINER, None, 128, vt.positive_int, settings=("data",)),
    Option("num_workers", TRAINER, "0 loads in the main process; in-memory datasets need no workers", 0,
           vt.non_negative_int, settings=("data",)),
    Option("threads", TRAINER, "torch's intra-op threads in each process (default: OMP_NUM_THREADS, else the CPUs "
           "this process may use, after affinity and cgroup quota, divided by the run's processes on this machine)",
           read=vt.positive_int, metavar="N", settings=("trainer",)),
    Option("drop_last", TRAINER, "skip the last train batch of each epoch when it holds fewer than --batch_size items "
           "(BatchNorm cannot train on a batch of one item)", False, action=SWITCH, settings=("data",), fit_only=True),
    Option("profiler", TRAINER, "write a profile report to the run folder", choices=("simple", "advanced"),
           settings=("trainer",)),
    Option("device_stats", TRAINER, "log device statistics (DeviceStatsMonitor)", False, action=SWITCH,
           settings=("trainer",)),
    Option("summary_depth", TRAINER, "how deep the model summary lists layers (1: the net alone, 0: no summary)", 3,
           vt.non_negative_int, settings=("trainer",)),
    Option("keep_freed_memory", TRAINER, "CPU training with glibc: reuse memory a step frees instead of mapping it "
           "afresh (see README, Performance); off: glibc's adaptive defaults", True, action=SWITCH,
           settings=("trainer",)),
)
BY_NAME = {option.name: option for option in OPTIONS}


def names_where(**wanted: Any) -> tuple[str, ...]:
    """The names of the options whose fields have the values given, such as names_where(saved=False)."""
    return tuple(option.name for option in OPTIONS
                 if all(getattr(option, key) == value for key, value in wanted.items()))


def add_framework_options(parser: UserArgumentParser, first_only: bool = False) -> None:
    """Every option the framework reads (or only those of the first pass), grouped as --help shows them."""
    groups: dict[str, OptionGroup] = {}
    for option in OPTIONS:
        if option.first or not first_only:
            if option.group not in groups:
                groups[option.group] = parser.option_group(option.group)
            option.add_to(groups[option.group])
