"""The framework's own command-line options, each default with its reason where it is not obvious."""

import argparse

from utils.config import value_types as vt
from utils.config.experiment_options import add_experiment_options
from utils.config.parser import OptionGroup, UserArgumentParser
from utils.config.torch_optimizers import SCHEDULER_ALIASES, optimizer_name, scheduler_name

LOSSES = ("cross_entropy", "mse", "l1", "smooth_l1", "bce_with_logits")
TASKS = ("classification", "binary", "multilabel", "segmentation", "regression")
MODES = ("fit", "validate", "test", "predict")
STRATEGIES = ("auto", "ddp", "ddp_find_unused_parameters_true", "ddp_spawn", "fsdp")
LOGGERS = ("tensorboard", "csv", "mlflow")
CONFUSION_IMAGES = ("every", "last", "off")
PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed", "64-true", "64", "bf16-true", "16-true")


def add_name_options(parser: UserArgumentParser) -> None:
    """Options that choose the classes: known before the classes' own options can be added."""
    group = parser.option_group("what to run")
    text = vt.non_empty_text  # an empty value would silently stand for the default
    group.add_argument("--model_name", type=text, default="example_net",
                       help="file in model/ without .py (default: example_net)")
    group.add_argument("--dataset", type=text, help="one dataset file in data/ for train, val and test")
    group.add_argument("--train_dataset", type=text,
                       help="dataset entry for training: NAME or LABEL=NAME:key=value,...")
    group.add_argument("--val_datasets", type=text, nargs="+",
                       help="dataset entries validated every epoch, each under its label")
    group.add_argument("--test_datasets", type=text, nargs="+",
                       help="dataset entries tested after fit or with --mode test")
    group.add_argument("--config", type=text, help="YAML file of option defaults; the command line wins")
    group.add_argument("--resume", type=text,
                       help="continue a run in its own folder: its folder, a checkpoint in it, or last")
    group.add_argument("--log_dir", type=vt.folder_path, default="Logs",
                       help="folder that holds every run (default: Logs)")
    group.add_argument("--experiment", type=text, help="run folder group (default: <model_name>-<train label>)")
    group.add_argument("--list", action="store_true", help="list the available nets and datasets, then exit")
    group.add_argument("--compare", nargs="+", metavar="RUN",
                       help="print finished runs side by side (run folders, or experiment folders such as "
                            "Logs/<experiment>), then exit")
    group.add_argument("--csv", metavar="FILE", help="with --compare: also write the table to this CSV file")
    add_experiment_options(parser)


def add_optimization_names(group: OptionGroup) -> None:
    """The options that choose the optimizer and the scheduler: known before their own options can be added."""
    group.add_argument("--optimizer", type=optimizer_name, default="adam", metavar="NAME",
                       help="any torch.optim optimizer by its lower-case name: sgd, adam, adamw, rmsprop, radam, ... "
                            "(default: adam); its parameters are the --optimizer.NAME options below")
    group.add_argument("--scheduler", type=scheduler_name, default="none", metavar="NAME",
                       help="none, or any torch.optim.lr_scheduler by its snake_case name: step_lr, one_cycle_lr, "
                            f"cosine_annealing_warm_restarts, ..., or {', '.join(SCHEDULER_ALIASES)} (default: none); "
                            "its parameters are the --scheduler.NAME options below")


def add_mode_names(group: OptionGroup) -> None:
    """The mode and its checkpoint: known before the checkpoint's run can give the other options their defaults."""
    group.add_argument("--mode", choices=MODES, default="fit", help="fit trains then tests the best checkpoint")
    group.add_argument("--ckpt", help="checkpoint for --mode validate, test or predict; its run's net, datasets "
                                      "and experiment are the defaults")


def add_framework_options(parser: UserArgumentParser) -> None:
    """Every option the framework itself reads, grouped as --help shows them."""
    run = parser.option_group("run")
    add_mode_names(run)
    run.add_argument("--val_fraction", type=vt.open_fraction, default=0.1,
                     help="part held out for val when a --dataset class has no split parameter")
    run.add_argument("--seed", type=vt.seed_value, default=42, help="seed for every random generator")

    task = parser.option_group("task: what the batches, outputs, loss and metrics are")
    task.add_argument("--task", choices=TASKS, default="classification",
                      help="picks the default loss and metrics (README: Your own task)")
    task.add_argument("--num_classes", type=vt.positive_int,
                      help="classes or labels (default: read from the net's output; a net's own default stays)")
    task.add_argument("--loss", choices=LOSSES, help="default: the task's (cross_entropy, bce_with_logits or mse)")
    task.add_argument("--label_smoothing", type=vt.unit_fraction, default=0.0, help="for cross_entropy")
    task.add_argument("--ignore_index", type=vt.integer, metavar="N",
                      help="target value the loss and the metrics leave out, such as the padding -100 of sequences")
    task.add_argument("--class_axis", type=int, choices=(1, -1),
                      help="where class scores lie when the shapes allow both: 1 for [B, C, ...], -1 for [B, ..., C] "
                           "(default: read from the shapes)")
    task.add_argument("--metrics", nargs="+", metavar="METRIC",
                      help="torchmetrics names (accuracy, f1, auroc, iou, psnr:data_range=1.0, ...) or dotted paths "
                           "(default: the task's)")
    task.add_argument("--input_key", default="inputs", help="the inputs' key when dataset items are dicts")
    task.add_argument("--target_key", default="target", help="the target's key when dataset items are dicts")
    task.add_argument("--output_key", default="logits", help="the entry loss and metrics read when the net returns "
                                                              "a dict")

    learning = parser.option_group("learning")
    add_optimization_names(learning)
    learning.add_argument("--warmup_steps", type=vt.non_negative_int, default=0,
                          help="optimizer steps of linear warm-up, scaling whatever learning rate the scheduler gives")

    checks = parser.option_group("checkpoints and early stopping")
    checks.add_argument("--monitor", default="val/loss", help="metric for best checkpoint and early stopping")
    checks.add_argument("--monitor_mode", choices=("min", "max"), default="min")
    checks.add_argument("--save_top_k", type=vt.positive_int, default=1, help="best checkpoints kept")
    checks.add_argument("--patience", type=vt.non_negative_int, default=5,
                        help="validations without improvement before early stopping (0: never stop early)")

    loggers = parser.option_group("loggers")
    loggers.add_argument("--logger", nargs="+", choices=LOGGERS, default=["tensorboard"], metavar="NAME",
                         help=f"one or more of {', '.join(LOGGERS)} (default: tensorboard)")
    loggers.add_argument("--mlflow_uri", metavar="URI",
                         help="MLflow tracking store or server (default: sqlite:///<experiment folder>/mlflow.db)")
    loggers.add_argument("--mlflow_checkpoints", action=argparse.BooleanOptionalAction, default=False,
                         help="also store last.ckpt as an MLflow artifact when training ends")
    loggers.add_argument("--confusion_images", choices=CONFUSION_IMAGES, default="last",
                         help="confusion matrix images per val set in TensorBoard: after every validation, after the "
                              "last one (default: drawing is slow on a CPU), or none; test sets get theirs unless off")

    trainer = parser.option_group("trainer")
    trainer.add_argument("--accelerator", default="auto", help="auto, cpu, gpu, mps")
    trainer.add_argument("--devices", type=vt.devices_value, default="auto", help="auto, a count, or indices 0,1")
    trainer.add_argument("--strategy", choices=STRATEGIES, default="auto")
    trainer.add_argument("--num_nodes", type=vt.positive_int, default=1)
    trainer.add_argument("--ddp_timeout", type=vt.positive_int, default=1800, metavar="SECONDS",
                         help="how long the processes of a run across nodes wait for each other, at the start and at "
                              "each synchronisation, before the run stops with an error")
    trainer.add_argument("--sync_batchnorm", action=argparse.BooleanOptionalAction, default=False)
    trainer.add_argument("--precision", choices=PRECISIONS, default="32-true")
    trainer.add_argument("--max_epochs", type=vt.positive_int, default=3, help="3 reach about 99%% on MNIST")
    trainer.add_argument("--min_epochs", type=vt.non_negative_int, default=0)
    trainer.add_argument("--fast_dev_run", action=argparse.BooleanOptionalAction, default=False,
                         help="one batch of each stage, nothing saved but the run folder")
    for stage in ("train", "val", "test"):
        trainer.add_argument(f"--limit_{stage}_batches", type=vt.batches_limit, default=1.0,
                             help="fraction (with a dot) or count of batches")
    trainer.add_argument("--val_check_interval", type=vt.interval_value, default=1.0,
                         help="fraction of an epoch (with a dot) or count of batches between validations")
    trainer.add_argument("--gradient_clip_val", type=vt.non_negative_float, default=0.0, help="0: no clipping")
    trainer.add_argument("--accumulate_grad_batches", type=vt.positive_int, default=1)
    trainer.add_argument("--log_every_n_steps", type=vt.positive_int, default=50)
    trainer.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=False)
    trainer.add_argument("--batch_size", type=vt.positive_int, default=128)
    trainer.add_argument("--num_workers", type=vt.non_negative_int, default=0,
                         help="0 loads in the main process; in-memory datasets need no workers")
    trainer.add_argument("--drop_last", action=argparse.BooleanOptionalAction, default=False,
                         help="skip the last train batch of each epoch when it holds fewer than --batch_size items "
                              "(BatchNorm cannot train on a batch of one item)")
    trainer.add_argument("--profiler", choices=("simple", "advanced"), help="write a profile report to the run folder")
    trainer.add_argument("--device_stats", action=argparse.BooleanOptionalAction, default=False,
                         help="log device statistics (DeviceStatsMonitor)")
    trainer.add_argument("--summary_depth", type=vt.non_negative_int, default=3,
                         help="how deep the model summary lists layers (1: the net alone, 0: no summary)")
    trainer.add_argument("--keep_freed_memory", action=argparse.BooleanOptionalAction, default=True,
                         help="CPU training with glibc: reuse memory a step frees instead of mapping it afresh "
                              "(see README, Performance); off: glibc's adaptive defaults")
