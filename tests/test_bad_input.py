"""The catalogue of wrong inputs: each is one `error: ...` line naming what was wrong, exit code 2, Logs/ untouched.

Each case runs `python main.py ARGS` in a fork of one process that has imported torch and Lightning already
(tests/forked_main.py); a few also run as a real `python main.py`, which must answer exactly as the fork did.
"""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
import torch
from bad_user_files import (
    DATA_WITH_MISSING_PACKAGE,
    EMPTY_DATA,
    EMPTY_NET,
    FROZEN_NET,
    ITERABLE_DATA,
    LABELS_DATA,
    LIST_INPUTS_DATA,
    NAMED_TARGETS_DATA,
    NET_WITH_CALLABLE,
    NET_WITH_DICT_AND_UNION,
    NET_WITH_MAX_EPOCHS,
    NET_WITH_REQUIRED_WIDTH,
    NET_WITH_SYNTAX_ERROR,
    NET_WITH_THREE_OUTPUTS,
    NET_WITHOUT_ANNOTATION,
    NET_WITHOUT_CLASS,
    OVERCOUNTED_DATA,
    STANDARD_NET_EXTRA_LAYER,
    STANDARD_NET_RENAMED_PARAMETER,
    TEXT_DATA,
    TRAIN_AND_TEST_SPLITS_DATA,
    WIDE_FEATURE_DATA,
    WRAPPED_TARGETS_DATA,
    CallsAFunction,
    exported_bytes,
    torch_bytes,
)
from conftest import FAST, Project, copy_project, error_line, main_environment
from forked_main import ForkServer

STANDARD = ("--model_name", "standard_net", "--dataset", "standard_data")
# Nine to the power of the levels: a billion-laughs file whose few lines expand without bound.
ALIAS_BOMB = "".join(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9) if level else 'x'}]\n"
                     for level in range(9))
EARLIER_RUN = "Logs/standard_net-standard_data/version_0"
EARLIER_CHECKPOINT = f"{EARLIER_RUN}/checkpoints/last.ckpt"
# Cases that are only wrong where the hardware is missing: the reason to skip them elsewhere.
HAS_CUDA = "this machine has a CUDA GPU" if torch.cuda.is_available() else None
HAS_MPS = "this machine has Apple's MPS" if torch.backends.mps.is_available() else None


@dataclass
class Case:
    """One wrong input: the words typed, the user's files it needs, and what the error line must name."""

    id: str
    args: tuple[str, ...]
    words: tuple[str, ...]
    files: dict[str, str | bytes | Callable[[], bytes]] = field(default_factory=dict)  # a callable: made when used
    skip: str | None = None


CASES = [
    # Names.
    Case("unknown_model", ("--model_name", "standrd_net"), ("standrd_net", "did you mean 'standard_net'",
                                                              "example_net, standard_net")),
    Case("model_name_path", ("--model_name", "../x"), ("'../x'", "malformed")),
    Case("model_name_dot", ("--model_name", "a.b"), ("'a.b'", "malformed")),
    Case("model_name_dash", ("--model_name", "my-net"), ("'my-net'", "malformed")),
    Case("model_name_capitals", ("--model_name", "StandardNet"), ("'StandardNet'", "malformed")),
    Case("model_file_without_class", ("--model_name", "my_net", "--dataset", "standard_data"),
         ("model/my_net.py", "MyNet", "Net, Helper"), {"model/my_net.py": NET_WITHOUT_CLASS}),
    Case("model_file_syntax_error", ("--model_name", "broken_net", "--dataset", "standard_data"),
         ("model/broken_net.py", "SyntaxError"), {"model/broken_net.py": NET_WITH_SYNTAX_ERROR}),
    Case("data_file_missing_package", ("--model_name", "standard_net", "--dataset", "needs_package_data"),
         ("data/needs_package_data.py", "no_such_package_xyz"),
         {"data/needs_package_data.py": DATA_WITH_MISSING_PACKAGE}),
    Case("unknown_dataset", ("--model_name", "standard_net", "--dataset", "standard_dta"),
         ("unknown dataset 'standard_dta'", "did you mean 'standard_data'")),
    # Framework option values.
    Case("lr_negative", (*STANDARD, "--lr", "-1"), ("--lr", "'-1'")),
    Case("lr_not_a_number", (*STANDARD, "--lr", "abc"), ("--lr", "'abc'")),
    Case("batch_size_zero", (*STANDARD, "--batch_size", "0"), ("--batch_size", "'0'")),
    Case("max_epochs_zero", (*STANDARD, "--max_epochs", "0"), ("--max_epochs", "'0'")),
    Case("val_fraction_above_one", (*STANDARD, "--val_fraction", "1.5"), ("--val_fraction", "'1.5'")),
    Case("val_fraction_zero", (*STANDARD, "--val_fraction", "0"), ("--val_fraction", "'0'")),
    Case("label_smoothing_one", (*STANDARD, "--label_smoothing", "1"), ("--label_smoothing", "'1'")),
    Case("unknown_optimizer", (*STANDARD, "--optimizer", "foo"), ("--optimizer", "'foo'", "adam")),
    Case("unknown_scheduler", (*STANDARD, "--scheduler", "warp"), ("--scheduler", "'warp'", "cosine")),
    Case("unknown_loss", (*STANDARD, "--loss", "hinge"), ("--loss", "'hinge'", "cross_entropy")),
    Case("limit_train_batches_above_one", (*STANDARD, "--limit_train_batches", "1.5"),
         ("--limit_train_batches", "'1.5'")),
    Case("devices_zero", (*STANDARD, "--devices", "0"), ("--devices", "'0'")),
    Case("min_epochs_above_max_epochs", (*STANDARD, "--min_epochs", "5", "--max_epochs", "2"),
         ("--min_epochs 5", "--max_epochs 2")),
    Case("unknown_option", (*STANDARD, "--no_such_option", "1"), ("--no_such_option",)),
    Case("accelerator_gpu_without_gpu", (*STANDARD, "--accelerator", "gpu"), ("--accelerator gpu", "GPU"),
         skip=HAS_CUDA),
    Case("precision_16_mixed_on_cpu", (*STANDARD, "--precision", "16-mixed"), ("--precision 16-mixed", "CPU"),
         skip=HAS_CUDA),
    Case("accelerator_mps_unavailable", (*STANDARD, "--accelerator", "mps"), ("--accelerator mps", "cpu"),
         skip=HAS_MPS),
    Case("devices_list_on_cpu", (*STANDARD, "--accelerator", "cpu", "--devices", "0,1"), ("--devices 0,1", "CPU")),
    Case("num_classes_one", (*STANDARD, "--num_classes", "1"), ("--num_classes", "1", "--task binary")),
    Case("val_monitor_without_validation", (*STANDARD, "--limit_val_batches", "0"),
         ("val/loss", "--limit_val_batches 0", "train/loss")),
    Case("experiment_with_slash", (*STANDARD, "--experiment", "a/b"), ("experiment", "'a/b'")),
    # Options made from the classes' signatures.
    Case("class_option_not_an_int", (*STANDARD, "--hidden", "abc"), ("--hidden", "StandardNet", "int", "'abc'")),
    Case("required_parameter_missing", ("--model_name", "wide_net", "--dataset", "standard_data"),
         ("WideNet", "'width'", "--width"), {"model/wide_net.py": NET_WITH_REQUIRED_WIDTH}),
    Case("parameter_clashes_with_framework_option", ("--model_name", "epochs_net", "--dataset", "standard_data"),
         ("EpochsNet", "max_epochs", "--max_epochs"), {"model/epochs_net.py": NET_WITH_MAX_EPOCHS}),
    Case("parameter_without_annotation_or_default", ("--model_name", "bare_net", "--dataset", "standard_data"),
         ("BareNet(width)", "neither an annotation nor a default"), {"model/bare_net.py": NET_WITHOUT_ANNOTATION}),
    Case("parameter_of_a_type_the_command_line_cannot_give", ("--model_name", "hook_net", "--dataset",
                                                               "standard_data"),
         ("HookNet(hook)", "cannot give"), {"model/hook_net.py": NET_WITH_CALLABLE}),
    Case("dict_option_not_a_mapping", ("--model_name", "mixed_net", "--dataset", "standard_data", "--class_weights",
                                       "[1, 2]"),
         ("--class_weights", "MixedNet(class_weights)", "YAML mapping of str: float", "'[1, 2]'"),
         {"model/mixed_net.py": NET_WITH_DICT_AND_UNION}),
    Case("dict_option_value_of_another_type", ("--model_name", "mixed_net", "--dataset", "standard_data",
                                               "--class_weights", "{a: high}"),
         ("MixedNet(class_weights)", "str: float", "'{a: high}'"), {"model/mixed_net.py": NET_WITH_DICT_AND_UNION}),
    Case("union_option_fits_no_member", ("--model_name", "mixed_net", "--dataset", "standard_data", "--size", "big"),
         ("MixedNet(size)", "int or float", "'big'"), {"model/mixed_net.py": NET_WITH_DICT_AND_UNION}),
    # Optimizers and schedulers.
    Case("unknown_optimizer_suggests_the_closest", (*STANDARD, "--optimizer", "rmsprob"),
         ("'rmsprob'", "did you mean 'rmsprop'", "radam")),
    Case("unknown_scheduler_suggests_the_closest", (*STANDARD, "--scheduler", "one_cycle"),
         ("'one_cycle'", "did you mean 'one_cycle_lr'")),
    Case("optimizer_parameter_of_another_optimizer", (*STANDARD, "--momentum", "0.5"),
         ("--momentum", "Adam has no parameter momentum")),
    Case("scheduler_parameter_without_scheduler", (*STANDARD, "--gamma", "0.5"), ("--gamma", "--scheduler")),
    Case("former_scheduler_option_name", (*STANDARD, "--scheduler", "cosine_restarts", "--t_0", "3"),
         ("--t_0", "--scheduler.T_0")),
    Case("optimizer_argument_torch_refuses", (*STANDARD, "--optimizer.betas", "1.5", "0.9"),
         ("--optimizer adam", "torch refused", "beta")),
    Case("optimizer_argument_of_the_wrong_type", (*STANDARD, "--optimizer", "sgd", "--optimizer.momentum", "high"),
         ("--optimizer.momentum", "SGD(momentum)", "float", "'high'")),
    Case("scheduler_argument_without_default_missing", (*STANDARD, "--scheduler", "cyclic_lr"),
         ("--scheduler.max_lr",)),
    Case("scheduler_argument_not_an_int", (*STANDARD, "--scheduler", "step", "--scheduler.step_size", "1.5"),
         ("--scheduler.step_size", "StepLR(step_size)", "int", "'1.5'")),
    # Dataset entries.
    Case("val_datasets_empty", (*STANDARD, "--val_datasets"), ("--val_datasets",)),
    Case("entry_label_with_space", (*STANDARD, "--val_datasets", "bad label=standard_data"),
         ("'bad label=standard_data'", "label")),
    Case("entry_argument_without_value", (*STANDARD, "--val_datasets", "x=standard_data:novalue"),
         ("'x=standard_data:novalue'", "'novalue'")),
    Case("entry_argument_not_in_signature", (*STANDARD, "--val_datasets", "x=standard_data:nope=1"),
         ("StandardData", "'nope'", "num_samples")),
    Case("entry_labels_duplicate", (*STANDARD, "--val_datasets", "standard_data", "standard_data"),
         ("--val_datasets", "'standard_data' twice")),
    Case("metric_of_many_numbers", (*STANDARD, "--metrics", "f1:average=none"),
         ("the metric 'f1' gives 10 numbers", "average=macro")),
    Case("metric_of_many_numbers_by_python_none", (*STANDARD, "--metrics", "recall:average=None"),
         ("the metric 'recall' gives 10 numbers", "average=macro")),
    # Whole-run checks.
    Case("unknown_monitor_key", (*STANDARD, "--monitor", "val/nope"), ("val/nope", "val/loss", "val/accuracy")),
    Case("cross_entropy_for_regression", (*STANDARD, "--loss", "cross_entropy", "--task", "regression"),
         ("cross_entropy", "regression")),
    # Checkpoints.
    Case("test_without_ckpt", (*STANDARD, "--mode", "test"), ("--mode test", "--ckpt")),
    Case("ckpt_missing_file", (*STANDARD, "--mode", "test", "--ckpt", "missing.ckpt"), ("missing.ckpt",)),
    Case("ckpt_corrupt", (*STANDARD, "--mode", "test", "--ckpt", "corrupt.ckpt"),
         ("corrupt.ckpt", "not a readable checkpoint"),
         {"corrupt.ckpt": bytes(range(256)) * 8}),
    Case("ckpt_not_from_template", (*STANDARD, "--mode", "test", "--ckpt", "other.ckpt"),
         ("other.ckpt", "not written by this template"), {"other.ckpt": torch_bytes({"a": 1})}),
    Case("ckpt_net_parameter_renamed", (*STANDARD, "--mode", "test", "--ckpt", EARLIER_CHECKPOINT),
         ("last.ckpt", "StandardNet(hidden=32)", "'hidden'"),
         {"model/standard_net.py": STANDARD_NET_RENAMED_PARAMETER}),
    Case("ckpt_net_layer_added", (*STANDARD, "--mode", "test", "--ckpt", EARLIER_CHECKPOINT),
         ("last.ckpt", "StandardNet", "head.weight"), {"model/standard_net.py": STANDARD_NET_EXTRA_LAYER}),
    Case("ckpt_stores_an_object", (*STANDARD, "--mode", "predict", "--ckpt", "object.ckpt"),
         ("object.ckpt", "pickled torch.nn.modules.linear.Linear object", "save_hyperparameters(ignore=[...])"),
         {"object.ckpt": torch_bytes({"hyper_parameters": {"net": torch.nn.Linear(2, 2)}})}),
    Case("ckpt_calls_a_function", (*STANDARD, "--mode", "test", "--ckpt", "payload.ckpt"),
         ("payload.ckpt", "the global posix.system", "do not trust this file"),
         {"payload.ckpt": torch_bytes({"state_dict": CallsAFunction()})}),
    Case("resume_calls_a_function", ("--resume", f"{EARLIER_RUN}/checkpoints/payload.ckpt"),
         ("payload.ckpt", "posix.system", "do not trust"),
         {f"{EARLIER_RUN}/checkpoints/payload.ckpt": torch_bytes({"state_dict": CallsAFunction()})}),
    # Resumes that cannot go ahead.
    Case("resume_with_fast_dev_run", ("--resume", EARLIER_RUN, "--fast_dev_run"), ("--fast_dev_run", "dry run")),
    Case("resume_with_another_width", ("--resume", EARLIER_RUN, "--hidden", "64"),
         ("last.ckpt", "does not fit", "[32, 16]", "[64, 16]")),
    Case("resume_net_layer_added", ("--resume", EARLIER_RUN), ("last.ckpt", "does not fit", "'net.head."),
         {"model/standard_net.py": STANDARD_NET_EXTRA_LAYER}),
    Case("resume_of_another_experiment", ("--resume", EARLIER_RUN, "--experiment", "other"),
         ("experiment 'standard_net-standard_data'", "--experiment 'other'")),
    Case("resume_as_another_net", ("--resume", EARLIER_RUN, "--model_name", "example_net"),
         ("continues a run of standard_net, not --model_name example_net", "drop --model_name")),
    Case("resume_with_an_empty_config", ("--resume", EARLIER_RUN), ("last.ckpt",),
         {f"{EARLIER_RUN}/config.yaml": ""}),
    Case("ckpt_of_another_template_version", (*STANDARD, "--mode", "test", "--ckpt", "old.ckpt"),
         ("old.ckpt", "another version of this template", "format 0"),
         {"old.ckpt": torch_bytes({"template_net": {"model_name": "standard_net", "model_kwargs": {}},
                                    "state_dict": {}, "template_format": 0})}),
    Case("ckpt_is_a_torchscript_export", (*STANDARD, "--mode", "test", "--ckpt", "last.pt"),
         ("last.pt is a TorchScript file", "not a checkpoint"), {"last.pt": partial(exported_bytes, "torchscript")}),
    Case("resume_from_an_exported_program", ("--resume", f"{EARLIER_RUN}/checkpoints/last.pt2"),
         ("last.pt2 is a torch.export program", "not a checkpoint"),
         {f"{EARLIER_RUN}/checkpoints/last.pt2": partial(exported_bytes, "exported_program")}),
    Case("ckpt_is_a_folder", (*STANDARD, "--mode", "test", "--ckpt", EARLIER_RUN),
         ("folder", f"such as {EARLIER_CHECKPOINT}")),
    Case("ckpt_is_the_checkpoints_folder", (*STANDARD, "--mode", "test", "--ckpt", f"{EARLIER_RUN}/checkpoints"),
         ("folder", f"such as {EARLIER_CHECKPOINT}")),
    # Data and nets that do not fit.
    Case("target_above_num_classes", ("--model_name", "standard_net", "--dataset", "labels_data", "--num_classes", "5"),
         ("LabelsData", "target 7", "--num_classes 5"), {"data/labels_data.py": LABELS_DATA}),
    Case("binary_target_not_zero_or_one", ("--model_name", "standard_net", "--dataset", "labels_data", "--task",
                                           "binary", "--loss", "bce_with_logits", "--num_classes", "1"),
         ("LabelsData", "target 7", "--task binary"), {"data/labels_data.py": LABELS_DATA}),
    Case("mnist_folder_missing", ("--data_dir", "/nonexistent"), ("/nonexistent", "--data_dir")),
    Case("dataset_without_items", ("--model_name", "standard_net", "--dataset", "empty_data"),
         ("EmptyData", "no items"), {"data/empty_data.py": EMPTY_DATA}),
    Case("dataset_without_a_val_split", ("--model_name", "standard_net", "--dataset", "two_splits_data"),
         ("Unknown split 'val'", "the template gave it split='val'", "--val_datasets two_splits_data:split=test"),
         {"data/two_splits_data.py": TRAIN_AND_TEST_SPLITS_DATA}),
    Case("targets_wrapped_in_a_dimension_of_one", ("--model_name", "standard_net", "--dataset", "wrapped_data"),
         ("targets of shape (2, 1)", "squeeze it, target.squeeze(1)"), {"data/wrapped_data.py": WRAPPED_TARGETS_DATA}),
    Case("inputs_as_lists_of_numbers", ("--model_name", "standard_net", "--dataset", "list_data"),
         ("inputs of shape list", "give each item's inputs as one tensor"), {"data/list_data.py": LIST_INPUTS_DATA}),
    Case("dataset_items_are_strings", ("--model_name", "standard_net", "--dataset", "text_data"),
         ("TextData", "tensors", "tuple of str"), {"data/text_data.py": TEXT_DATA}),
    Case("net_input_size_does_not_fit_data", ("--model_name", "standard_net", "--dataset", "wide_feature_data"),
         ("StandardNet", "WideFeatureData", "(2, 20)"), {"data/wide_feature_data.py": WIDE_FEATURE_DATA}),
    # A fit's test sets are checked before it trains: a bad one would end the run after training, its results lost.
    Case("test_set_with_class_name_targets", (*STANDARD, *FAST, "--test_datasets", "t=named_targets_data"),
         ("'t' (NamedTargetsData)", "tensor (or number) targets"), {"data/named_targets_data.py": NAMED_TARGETS_DATA}),
    Case("test_set_with_fewer_items_than_its_len", (*STANDARD, *FAST, "--test_datasets", "t=overcounted_data"),
         ("'t' (OvercountedData)", "says it has 64 items", "__len__"), {"data/overcounted_data.py": OVERCOUNTED_DATA}),
    Case("test_set_the_net_does_not_fit", (*STANDARD, *FAST, "--test_datasets", "t=wide_feature_data"),
         ("StandardNet", "'t' (WideFeatureData)", "(2, 20)"), {"data/wide_feature_data.py": WIDE_FEATURE_DATA}),
    Case("net_outputs_three_values", ("--model_name", "three_net", "--dataset", "standard_data"),
         ("ThreeNet", "3 classes", "the target"), {"model/three_net.py": NET_WITH_THREE_OUTPUTS}),
    Case("val_check_interval_above_epoch", (*STANDARD, "--val_check_interval", "100"),
         ("--val_check_interval 100", "15")),
    Case("sync_batchnorm_on_cpu", (*STANDARD, "--accelerator", "cpu", "--sync_batchnorm"), ("--sync_batchnorm",),
         skip=HAS_CUDA),
    Case("predict_in_several_processes", (*STANDARD, "--mode", "predict", "--ckpt", EARLIER_CHECKPOINT,
                                          "--accelerator", "cpu", "--devices", "2"), ("--mode predict", "--devices 1")),
    Case("seed_beyond_numpy", (*STANDARD, "--seed", "4294967296"), ("--seed", "4294967295")),
    Case("unknown_option_suggests_the_closest", (*STANDARD, "--max_epoch", "3"), ("--max_epoch", "--max_epochs")),
    # Numbers that are not finite, or integers beyond 64 bits.
    Case("float_option_inf", (*STANDARD, "--lr", "inf"), ("--lr", "'inf'", "finite")),
    Case("float_option_nan", (*STANDARD, "--gradient_clip_val", "nan"), ("--gradient_clip_val", "'nan'")),
    Case("float_option_overflows", (*STANDARD, "--lr", "1e400"), ("--lr", "'1e400'")),
    Case("dataset_float_inf", (*STANDARD, "--noise=-inf"), ("--noise", "'-inf'")),
    Case("dataset_entry_float_overflows", ("--model_name", "standard_net", "--train_dataset", "standard_data",
                                           "--val_datasets", "a=standard_data:noise=1e400"), ("noise", "1e400")),
    Case("dataset_entry_float_nan", ("--model_name", "standard_net", "--train_dataset", "standard_data",
                                     "--val_datasets", "a=standard_data:noise=nan"), ("noise", "nan")),
    Case("config_float_inf", (*STANDARD, "--config", "run.yaml"), ("--lr", "inf"), {"run.yaml": "lr: .inf\n"}),
    Case("config_float_nan", (*STANDARD, "--config", "run.yaml"), ("--noise", "nan"), {"run.yaml": "noise: .nan\n"}),
    Case("batch_size_beyond_64_bits", (*STANDARD, "--batch_size", "99999999999999999999"),
         ("--batch_size", "99999999999999999999", "2**63")),
    Case("net_int_beyond_64_bits", (*STANDARD, "--hidden", "99999999999999999999"),
         ("--hidden", "99999999999999999999")),
    # Resources the machine cannot give, and values that train nothing.
    Case("devices_beyond_cpu_cores", (*STANDARD, "--accelerator", "cpu", "--devices", "1000"),
         ("--devices 1000", "cores", "at most --devices")),
    Case("devices_beyond_cpu_cores_under_ddp", (*STANDARD, "--accelerator", "cpu", "--devices", "999",
                                                "--strategy", "ddp"), ("--devices 999", "cores")),
    Case("num_workers_beyond_cores", (*STANDARD, "--num_workers", "1000"), ("--num_workers 1000", "at most")),
    Case("num_workers_far_beyond_cores", (*STANDARD, "--num_workers", "99999"), ("--num_workers 99999",)),
    Case("num_nodes_without_other_nodes", (*STANDARD, "--num_nodes", "2"), ("--num_nodes 2", "MASTER_ADDR")),
    Case("num_nodes_many_without_other_nodes", (*STANDARD, "--num_nodes", "64", "--accelerator", "cpu"),
         ("--num_nodes 64", "torchrun or srun")),
    Case("limit_train_batches_zero", (*STANDARD, "--limit_train_batches", "0"), ("--limit_train_batches 0",
                                                                                 "trains nothing")),
    Case("limit_train_batches_zero_from_config", (*STANDARD, "--config", "run.yaml"),
         ("--limit_train_batches 0", "untrained"), {"run.yaml": "limit_train_batches: 0\n"}),
    # Labels the tables use, or too long for a file name.
    Case("label_mean", ("--model_name", "standard_net", "--train_dataset", "standard_data", "--val_datasets",
                        "mean=standard_data"), ("'mean'", "results tables", "mean_set=standard_data")),
    Case("label_mean_in_test_sets", (*STANDARD, "--test_datasets", "mean=standard_data:noise=2.0"), ("'mean'",)),
    Case("label_too_long", ("--model_name", "standard_net", "--train_dataset", "standard_data", "--val_datasets",
                            f"{'a' * 300}=standard_data"), ("300 characters", "at most 64")),
    Case("label_too_long_from_config", ("--model_name", "standard_net", "--config", "run.yaml"), ("200 characters",),
         {"run.yaml": f"train_dataset: standard_data\nval_datasets: [{'b' * 200}=standard_data]\n"}),
    # User files that cannot be served or trained.
    Case("iterable_dataset", ("--model_name", "standard_net", "--dataset", "stream_data"),
         ("StreamData", "IterableDataset", "__len__"), {"data/stream_data.py": ITERABLE_DATA}),
    Case("iterable_val_dataset", ("--model_name", "standard_net", "--train_dataset", "standard_data",
                                  "--val_datasets", "s=stream_data"), ("'s'", "IterableDataset"),
         {"data/stream_data.py": ITERABLE_DATA}),
    Case("net_all_frozen", ("--model_name", "frozen_net", "--dataset", "standard_data"),
         ("FrozenNet", "no trainable parameters"), {"model/frozen_net.py": FROZEN_NET}),
    Case("net_without_parameters", ("--model_name", "empty_net", "--dataset", "standard_data"),
         ("EmptyNet", "no trainable parameters"), {"model/empty_net.py": EMPTY_NET}),
    # Empty values that would silently stand for a default.
    Case("empty_dataset", ("--model_name", "standard_net", "--dataset", ""), ("--dataset", "''")),
    Case("blank_model_name", ("--model_name", " ", "--dataset", "standard_data"), ("--model_name", "' '")),
    Case("empty_log_dir", (*STANDARD, "--log_dir", ""), ("--log_dir", "''")),
    Case("empty_experiment", (*STANDARD, "--experiment="), ("--experiment", "''")),
    # Config files.
    Case("config_missing", (*STANDARD, "--config", "missing.yaml"), ("missing.yaml", "does not exist")),
    Case("config_is_a_folder", (*STANDARD, "--config", "model"), ("config file model", "is a folder")),
    Case("config_not_utf8", (*STANDARD, "--config", "run.yaml"), ("run.yaml", "not UTF-8"),
         {"run.yaml": b"lr: 0.1\n# caf\xe9\n"}),
    Case("config_unknown_key", (*STANDARD, "--config", "run.yaml"), ("run.yaml", "'learning_rate'"),
         {"run.yaml": "learning_rate: 0.1\n"}),
    Case("config_not_yaml", (*STANDARD, "--config", "run.yaml"), ("run.yaml", "not valid YAML at line 2"),
         {"run.yaml": "lr: [0.1\nbatch_size: 4\n"}),
    Case("config_not_a_mapping", (*STANDARD, "--config", "run.yaml"), ("run.yaml", "mapping"),
         {"run.yaml": "- lr\n- 0.1\n"}),
    Case("config_sets_resume", (*STANDARD, "--config", "run.yaml"), ("run.yaml", "'resume'", "--resume last"),
         {"run.yaml": "resume: last\n"}),
    Case("config_sets_config", (*STANDARD, "--config", "run.yaml"), ("run.yaml", "'config'", "--config other.yaml"),
         {"run.yaml": "config: other.yaml\n"}),
    Case("config_alias_bomb", (*STANDARD, "--config", "run.yaml"), ("run.yaml", "alias (*l0)"),
         {"run.yaml": ALIAS_BOMB}),
    Case("config_alias_of_a_value", (*STANDARD, "--config", "run.yaml"), ("run.yaml", "alias (*width)"),
         {"run.yaml": "hidden: &width 32\nnum_features: *width\n"}),
    Case("config_bad_value", (*STANDARD, "--config", "run.yaml"), ("--batch_size", "'0'"),
         {"run.yaml": "batch_size: 0\n"}),
]


CASES_BY_ID = {case.id: case for case in CASES}
# Also run as a real `python main.py`, whose exit code and output the forked run must match to the byte: a name refused
# before torch is imported, a config file, a checkpoint refused while it loads, a net refused once it ran a batch.
CROSS_CHECKED = [CASES_BY_ID[id_] for id_ in ("unknown_model", "config_not_yaml", "ckpt_net_layer_added",
                                              "net_input_size_does_not_fit_data")]


def tree_hash(folder: Path) -> str:
    """A digest of every path and file's bytes under `folder`, or 'absent'."""
    if not folder.exists():
        return "absent"
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def earlier_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Logs/ of one real earlier run (standard_net, --hidden 32), copied into each case's project."""
    earlier = copy_project(tmp_path_factory.mktemp("earlier") / "project")
    process = earlier.run(*STANDARD, "--hidden", "32", *FAST)
    assert process.returncode == 0, process.stderr[-3000:]
    assert (earlier.root / EARLIER_CHECKPOINT).is_file()
    return earlier.logs


def prepare(project: Project, earlier_logs: Path, case: Case) -> str:
    """Give the case's project the earlier run's Logs/ and the case's user files; return the hash of Logs/."""
    shutil.copytree(earlier_logs, project.logs)
    for relative, content in case.files.items():
        content = content() if callable(content) else content
        if isinstance(content, bytes):
            (project.root / relative).write_bytes(content)
        else:
            project.write(relative, content)
    return tree_hash(project.logs)


def assert_refused(process: subprocess.CompletedProcess, project: Project, case: Case, logs_hash: str) -> None:
    """One error line naming the case's words, exit code 2, and Logs/ as it was."""
    line = error_line(process)
    for word in case.words:
        assert word in line, f"{word!r} not in {line!r}"
    assert tree_hash(project.logs) == logs_hash


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_wrong_input_is_one_error_line_and_changes_nothing(fork_server: ForkServer, earlier_logs: Path,
                                                           project: Project, case: Case):
    if case.skip:
        pytest.skip(case.skip)
    logs_hash = prepare(project, earlier_logs, case)
    assert_refused(fork_server.run(project.root, *case.args), project, case, logs_hash)


@pytest.mark.parametrize("case", CROSS_CHECKED, ids=[case.id for case in CROSS_CHECKED])
def test_real_run_is_refused_as_the_forked_run_is(fork_server: ForkServer, earlier_logs: Path, project: Project,
                                                  tmp_path: Path, case: Case):
    """A real `python main.py` is refused with the very exit code and output of the fork the cases above run."""
    real = copy_project(tmp_path / "real")
    logs_hash = prepare(real, earlier_logs, case)
    expected = real.run_process(*case.args)
    assert_refused(expected, real, case, logs_hash)
    prepare(project, earlier_logs, case)
    forked = fork_server.run(project.root, *case.args)
    assert (forked.returncode, forked.stdout, forked.stderr) == (expected.returncode, expected.stdout, expected.stderr)


# A main.py of each kind of ending, and the exit status Python gives it.
ENDINGS = {
    "bug": ("raise ValueError('a bug, not a user error')\n", 1),
    "exit_code": ("import sys\nprint('out')\nsys.exit(3)\n", 3),
    "exit_text": ("import sys\nsys.exit('a sentence')\n", 1),
    "exit_none": ("import sys\nsys.exit()\n", 0),
    "ctrl_c": ("raise KeyboardInterrupt\n", -2),
    "exit_handler": ("import atexit\natexit.register(print, 'handler ran')\n", 0),
}


@pytest.mark.parametrize("ending", ENDINGS, ids=list(ENDINGS))
def test_forked_run_ends_with_the_exit_status_and_output_python_gives(fork_server: ForkServer, project: Project,
                                                                      tmp_path: Path, ending: str):
    """A fork ends as Python ends (status, output, exit handlers, the traceback's error line), though it leaves
    without tearing its modules down."""
    code, status = ENDINGS[ending]
    real = copy_project(tmp_path / "real")
    for copy in (project, real):
        copy.write("main.py", code)
    expected, forked = real.run_process(), fork_server.run(project.root)
    assert expected.returncode == status
    assert (forked.returncode, forked.stdout) == (expected.returncode, expected.stdout)
    # A traceback's frames differ (the fork runs main.py through runpy); its last line does not.
    assert forked.stderr.splitlines()[-1:] == expected.stderr.splitlines()[-1:]


# A main.py that starts itself as a fold would (child_runs.run_main): once to exit 3, once killed by SIGKILL, once
# stopped by the SIGTERM sent to it (the parent) once the child is ready. The child checks the folder it was handed
# as utils/runs/folder.py does, without importing torch as that module would (a second a child).
STARTS_CHILDREN = """import os, signal, sys, time
from pathlib import Path

if len(sys.argv) > 1:
    owner, _, folder = os.environ["TEMPLATE_RUN_DIR"].partition(":")
    print("child", sys.argv[1], "was handed", Path(folder).name, owner == str(os.getppid()), flush=True)
    if sys.argv[1] == "code":
        sys.exit(3)
    if sys.argv[1] == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(print("child saved") or 5))
    Path("ready").touch()
    time.sleep(60)
from utils.errors import RunStopped
from utils.experiments.child_runs import run_main
for ending in ("code", "killed", "stopped"):
    try:
        print("parent saw", ending, run_main(Path(__file__), [ending], Path("runs") / ending, "resume it"), flush=True)
    except RunStopped as stop:
        sys.exit(f"{stop} ({stop.exit_code})")
"""


def test_a_forked_runs_own_child_ends_as_a_real_child_does(fork_server: ForkServer, project: Project,
                                                           tmp_path: Path):
    """A fold or trial a forked run starts (forked too, a stand-in as its process) is handed its folder, exits,
    dies by a signal and passes on its parent's SIGTERM as a real `python main.py` child does."""
    real = copy_project(tmp_path / "real")
    endings = []
    for copy in (real, project):
        copy.write("main.py", STARTS_CHILDREN)
        started = (subprocess.Popen([sys.executable, "main.py"], cwd=real.root, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=main_environment()) if copy is real
                   else fork_server.start(project.root))
        deadline = time.monotonic() + 60
        while not (copy.root / "ready").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(started.pid, signal.SIGTERM)
        if copy is real:
            stdout, stderr = started.communicate(timeout=60)
            endings.append((started.returncode, stdout, stderr))
        else:
            forked = fork_server.wait(started, 60)
            endings.append((forked.returncode, forked.stdout, forked.stderr))
    assert endings[0] == (1, "child code was handed code True\nparent saw code 3\nchild killed was handed killed True\n"
                             "parent saw killed -9\nchild stopped was handed stopped True\nchild saved\n",
                          "stopped by SIGTERM; resume it (143)\n")
    assert endings[1] == endings[0]


def test_forked_run_past_its_timeout_is_stopped(fork_server: ForkServer, project: Project):
    """A fork that hangs is killed at its timeout, which raises as subprocess.run raises."""
    project.write("main.py", "import time\n\ntime.sleep(60)\n")
    with pytest.raises(subprocess.TimeoutExpired):
        fork_server.run(project.root, timeout=1)


def test_earlier_checkpoint_tests_with_the_unedited_net(project: Project, earlier_logs: Path):
    """The checkpoint the cases above refuse is a good one: with the net it was trained with, --mode test runs."""
    shutil.copytree(earlier_logs, project.logs)
    process = project.run(*STANDARD, "--mode", "test", "--ckpt", EARLIER_CHECKPOINT, "--limit_test_batches", "2")
    assert process.returncode == 0, process.stderr[-3000:]
    assert len(project.run_dirs()) == 2


def test_case_ids_are_unique():
    assert len({case.id for case in CASES}) == len(CASES)
