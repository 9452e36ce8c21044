"""torchmetrics' metrics by snake_case name, short alias or dotted path, built with the task's arguments."""

import difflib
import importlib
import inspect
import math
import re
from functools import cache
from typing import Any

from torchmetrics import Metric

from utils.errors import UserError

ALIASES = {"f1": "f1_score", "iou": "jaccard_index", "mae": "mean_absolute_error", "mse": "mean_squared_error",
           "r2": "r2_score", "psnr": "peak_signal_noise_ratio", "ssim": "structural_similarity_index_measure",
           "dice": "dice_score", "mean_iou": "mean_io_u"}
# Settings that make a metric read the task's outputs as the template hands them (logits, class indices), and
# scores averaged over the classes (torchmetrics' task wrappers default to micro, which for F1 equals accuracy).
BUILD_DEFAULTS = {"dice_score": {"input_format": "mixed"}, "mean_io_u": {"input_format": "mixed"},
                  "f1_score": {"average": "macro"}, "f_beta_score": {"average": "macro"},
                  "precision": {"average": "macro"}, "recall": {"average": "macro"}}
MODULES = ("torchmetrics.image", "torchmetrics.segmentation", "torchmetrics")
CLASS_SCORING = ("torchmetrics.classification", "torchmetrics.segmentation")  # modules of the metrics of classes


def snake_case(name: str) -> str:
    """`F1Score` -> `f1_score`, `AUROC` -> `auroc`, `PeakSignalNoiseRatio` -> `peak_signal_noise_ratio`."""
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", spaced).lower()


@cache
def catalogue() -> dict[str, type[Metric]]:
    """Every metric class torchmetrics exports at its top level and for segmentation, by snake_case name."""
    found: dict[str, type[Metric]] = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name, member in vars(module).items():
            if inspect.isclass(member) and issubclass(member, Metric) and member is not Metric:
                found.setdefault(snake_case(name), member)
    return found


def metric_class(name: str) -> type[Metric]:
    """The class a metric name, alias or dotted path stands for, or one error line with the closest name."""
    if "." in name:
        module_name, _, class_name = name.rpartition(".")
        try:
            found = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError, ValueError):
            raise UserError(f"--metrics {name}: no class {class_name} in module {module_name}") from None
        if not (inspect.isclass(found) and issubclass(found, Metric)):
            raise UserError(f"--metrics {name} is not a torchmetrics.Metric subclass")
        return found
    known = catalogue()
    resolved = ALIASES.get(name, name)
    if resolved not in known:
        close = difflib.get_close_matches(name, [*known, *ALIASES], n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UserError(f"--metrics {name} is not a torchmetrics metric: {hint}use snake_case names such as "
                        f"accuracy, f1_score, auroc, jaccard_index, mean_absolute_error, or a dotted path")
    return known[resolved]


def task_class(cls: type[Metric], metrics_task: Any) -> type[Metric]:
    """The class a torchmetrics task wrapper builds for a task (`Accuracy` under multiclass: `MulticlassAccuracy`),
    found by torchmetrics' own naming beside it; `cls` itself for a class that is no such wrapper."""
    prefix = metrics_task.capitalize() if isinstance(metrics_task, str) else ""
    found = getattr(inspect.getmodule(cls), f"{prefix}{cls.__name__}", None) if prefix else None
    return found if inspect.isclass(found) and issubclass(found, Metric) else cls


def higher_is_better(text: str, metrics_task: str | None) -> bool | None:
    """Whether a higher value of an entry's metric is better, as its torchmetrics class says; None if it does not."""
    name, given = parse_metric_entry(text)
    better = task_class(metric_class(name), given.get("task", metrics_task)).higher_is_better
    return better if isinstance(better, bool) else None  # a wrapper may make it a property of its wrapped metric


def parse_metric_entry(text: str) -> tuple[str, dict[str, Any]]:
    """`NAME` or `NAME:key=value,key=value` -> (NAME, its arguments, each value read as YAML, Python's `None` too)."""
    import yaml

    name, _, settings = text.partition(":")
    arguments = {}
    for pair in filter(None, settings.split(",")):
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise UserError(f"--metrics {text}: bad argument {pair!r}, use NAME:key=value,key=value")
        try:
            arguments[key.strip()] = None if value.strip() == "None" else yaml.safe_load(value)
        except yaml.YAMLError:
            raise UserError(f"--metrics {text}: the value of {key.strip()!r} is not valid YAML") from None
        if not_finite(arguments[key.strip()]):
            raise UserError(f"--metrics {text}: {key.strip()}={value} is not a finite number: give a finite value")
    return name, arguments


def not_finite(value: Any) -> bool:
    """Whether a metric argument reads as a number that is not finite (nan, inf, 1e400, .inf)."""
    if isinstance(value, bool):
        return False
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False


def check_ignores(name: str, ignore_index: int | None) -> None:
    """Refuse a metric that cannot leave out the --ignore_index targets, which it would score as a class."""
    if ignore_index is not None and "ignore_index" not in inspect.signature(metric_class(name)).parameters:
        raise UserError(f"--metrics {name} cannot leave out the targets --ignore_index {ignore_index} marks (it has "
                        f"no ignore_index): choose metrics that have one, such as accuracy, f1 or iou")


def check_metric_fits_task(name: str, task: str) -> None:
    """Refuse a classification metric under --task regression: torchmetrics reads real-valued outputs one group of
    batches at a time, as probabilities where a group lies in [0, 1] and through a sigmoid where it does not."""
    if task == "regression" and metric_class(name).__module__.startswith(CLASS_SCORING):
        raise UserError(f"--metrics {name} scores classes, and --task regression hands it real-valued outputs, which "
                        f"torchmetrics would read on one scale or another from group to group of batches: for 0/1 "
                        f"targets use --task binary --loss mse (its metrics read the outputs clipped into [0, 1]), "
                        f"for class probabilities --task classification; for real values choose mae, mse or r2")


def build_metric(text: str, metrics_task: str | None, classes: int | None, ignore_index: int | None = None) -> Metric:
    """Build a metric from its entry, with the arguments the task knows and its signature asks for."""
    name, given = parse_metric_entry(text)
    cls = metric_class(name)
    known: dict[str, Any] = {"task": metrics_task, "num_classes": classes, "num_labels": classes,
                             "ignore_index": ignore_index}
    check_ignores(name, ignore_index)
    parameters = inspect.signature(cls).parameters
    arguments = {key: value for key, value in known.items() if key in parameters and value is not None}
    arguments.update(BUILD_DEFAULTS.get(ALIASES.get(name, name), {}))
    arguments.update(given)
    missing = [key for key, parameter in parameters.items() if parameter.default is inspect.Parameter.empty
               and parameter.kind is parameter.POSITIONAL_OR_KEYWORD and key not in arguments]
    if missing:
        raise UserError(f"--metrics {name} needs {missing[0]!r}, which the task does not give: pass it as "
                        f"--metrics {name}:{missing[0]}=VALUE")
    try:
        metric = cls(**arguments)
    except (ValueError, TypeError) as error:
        raise UserError(f"--metrics {text} cannot be built for this task: {str(error).splitlines()[0]}") from None
    check_arguments_taken(text, cls, type(metric), given)
    return metric


def named_parameters(cls: type) -> list[str]:
    """The parameters of a class's constructor that are named, not gathered by `*args` or `**kwargs`."""
    return [key for key, parameter in inspect.signature(cls).parameters.items()
            if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)]


def check_arguments_taken(text: str, cls: type[Metric], built: type[Metric], given: dict[str, Any]) -> None:
    """Refuse an argument of a torchmetrics task wrapper (F1Score) that the class it builds for the task
    (BinaryF1Score) does not take: the wrapper drops it, and the metric would log under its name unchanged."""
    taken = named_parameters(built)
    # `task` is the wrapper's own: it picks the class built.
    dropped = [key for key in given if key != "task" and key in named_parameters(cls) and key not in taken]
    if dropped:
        key = dropped[0]
        raise UserError(f"--metrics {text}: {cls.__name__} builds {built.__name__} for this task, which does not "
                        f"take {key!r} and would ignore it: drop {key}={given[key]}, or change --task; "
                        f"{built.__name__} takes {', '.join(taken)}")
