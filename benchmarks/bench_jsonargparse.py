"""The template's option registry and signature readers against jsonargparse (LightningCLI's parser), side by side.

    .venv/bin/python benchmarks/bench_jsonargparse.py

Both read the same constructor signature from the same command-line words; the script prints what each makes of
every case (value, or error and its number of lines), the features a user of main.py meets, and the time each
takes to build the default job's parser and read its command line, alternating in one process.
"""

import argparse
import subprocess
import sys
import time
import typing
from typing import Any, Literal

import _common
import torch
from _common import check_line, ratio_line, table

try:
    import jsonargparse
except ImportError:
    sys.exit("error: bench_jsonargparse.py compares with jsonargparse: pip install -r requirements-dev.txt")

from utils.config.command_line import parse_command_line
from utils.config.framework_options import OPTIONS
from utils.config.signature_options import entry_arguments, option_parameters, option_spec, read_words
from utils.errors import UserError
from utils.loading.user_classes import load_class

DEFAULT_JOB = ["--model_name", "example_net", "--optimizer", "adam", "--scheduler", "one_cycle_lr"]
FLAT = ["--model_name", "standard_net", "--dataset", "standard_data"]


class Annotated:
    """One parameter of each kind of annotation the template reads from a signature."""

    def __init__(self, count: int = 1, rate: float = 0.5, flag: bool = False, kind: Literal["a", "b"] = "a",
                 sizes: list[int] = (8,), pair: tuple[int, int] = (1, 2), scales: dict[str, float] | None = None,
                 limit: int | None = None, either: int | str = 3, anything: Any = None) -> None:
        self.arguments = locals()


# (parameter, words): the words after --<parameter>, spelled as either parser reads them...
SPELLINGS = [
    ("count", ["3"]), ("rate", ["0.1"]), ("flag", ["true"]), ("flag", ["yes"]), ("kind", ["b"]),
    ("sizes", ["16", "32"]), ("sizes", ["[16,32]"]), ("pair", ["3", "4"]), ("pair", ["[3,4]"]),
    ("scales", ["{a: 1, b: 2.5}"]), ("limit", ["none"]), ("limit", ["null"]), ("either", ["x"]),
    ("anything", ["{k: [1, 2]}"]),
]
# ...and values that do not fit the annotation, which a run must refuse before it starts.
WRONG_VALUES = [
    ("count", ["three"]), ("count", [str(2**70)]), ("rate", ["inf"]), ("rate", ["1e400"]), ("kind", ["c"]),
    ("pair", ["[1,2,3]"]), ("scales", ["{a: x}"]),
]
CASES = SPELLINGS + WRONG_VALUES


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """How many timed rounds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds, the two parsers alternating")
    parser.add_argument("--imports", type=int, default=9, help="fresh interpreters importing each, alternating")
    return parser.parse_args(argv)


def template_reads(parameter: str, words: list[str]) -> str:
    """What the template's reader makes of `words` for `parameter` of Annotated: its value, or its error."""
    spec = option_spec(Annotated, next(p for p in option_parameters(Annotated) if p.name == parameter))
    try:
        return repr(read_words(spec, words))
    except ValueError as error:
        return f"error ({len(str(error).splitlines())} line): {error}"


def jsonargparse_parser(classes: list[type], optimizers: bool = False) -> jsonargparse.ArgumentParser:
    """A jsonargparse parser of the registry's options and the classes' parameters as flat names; with `optimizers`,
    --optimizer and --scheduler take a torch class and its parameters as --optimizer.NAME, as LightningCLI does."""
    parser = jsonargparse.ArgumentParser(prog="main.py", exit_on_error=False, allow_abbrev=False)
    for option in OPTIONS:
        if optimizers and option.name in ("optimizer", "scheduler"):
            continue
        read = {"type": option.annotation} if option.action is None else {"action": option.action}
        if option.many:  # one or more words, as the template reads them
            listed = typing.get_args(option.annotation)[0] if option.default is None else option.annotation
            read = {"type": typing.get_args(listed)[0], "nargs": "+"}
        parser.add_argument(f"--{option.name}", default=option.default, help=option.help, **read)
    taken = {"split"} | {option.name for option in OPTIONS}  # a name shared by net and dataset is one option
    for cls in classes:
        parser.add_class_arguments(cls, nested_key=None, skip=set(taken))
        taken |= {parameter.name for parameter in option_parameters(cls)}
    if optimizers:
        parser.add_subclass_arguments(torch.optim.Optimizer, "optimizer", skip={"params"}, default="Adam")
        parser.add_subclass_arguments(torch.optim.lr_scheduler.LRScheduler, "scheduler", skip={"optimizer"},
                                      required=False)
    return parser


def jsonargparse_reads(parameter: str, words: list[str]) -> str:
    """What jsonargparse makes of `words` for `parameter` of Annotated: its value, or its error."""
    try:
        return repr(jsonargparse_parser([Annotated]).parse_args([f"--{parameter}", *words])[parameter])
    except jsonargparse.ArgumentError as error:
        lines = str(error).splitlines()
        return f"error ({len(lines)} lines): {' / '.join(line.strip() for line in lines)}"


def cases_table() -> str:
    """Each case as the two read it."""
    rows = [(f"--{parameter} {' '.join(words)}", template_reads(parameter, words)[:60],
             jsonargparse_reads(parameter, words)[:60]) for parameter, words in CASES]
    return table(["command line", "template", "jsonargparse"], rows)


def error_of(call: Any) -> str:
    """The error message `call` ends in, or `no error`."""
    try:
        call()
    except (UserError, jsonargparse.ArgumentError) as error:
        return str(error)
    return "no error"


def template_command(words: list[str]) -> None:
    """Read `words` as main.py does before it builds anything, the dataset entries' own arguments included."""
    command = parse_command_line(words)
    for entry in command.val_entries:
        entry_arguments(command.dataset_classes[entry.name], entry.overrides)


def feature_lines() -> list[str]:
    """The features main.py's users meet, checked on both parsers with the same words."""
    net, data = load_class("model", "standard_net"), load_class("data", "standard_data")
    parser = jsonargparse_parser([net, data], optimizers=True)
    cases = {
        "unknown option (a typo)": [*FLAT, "--num_sample", "100"],
        "former name --lr": [*FLAT, "--lr", "0.1"],
        "dataset entry LABEL=NAME:key=value": [*FLAT, "--val_datasets", "noisy=standard_data:noise=2"],
        "dataset entry, a value of a wrong type": [*FLAT, "--val_datasets", "noisy=standard_data:noise=x"],
        "a switch as --no-NAME": [*FLAT, "--no-weights_strict"],
    }
    lines = []
    for name, words in cases.items():
        ours = error_of(lambda words=words: template_command(words))
        theirs = error_of(lambda words=words: parser.parse_args(words))
        lines.append(f"case   {name}\n       template:     {ours[:150]}\n       jsonargparse: {theirs[:150]!r}")
    return lines


def timed(call: Any) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def import_seconds(module: str) -> float:
    """Seconds a fresh interpreter takes to import `module` and exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - started


def default_job_parsers() -> dict[str, Any]:
    """Build each parser of the default job (ExampleNet, its three MNIST datasets, Adam, one-cycle) and read it."""
    def jsonargparse_job() -> None:
        classes = [load_class("model", "example_net")] + [load_class("data", f"example_{stage}_data")
                                                           for stage in ("train", "eval", "test")]
        parser = jsonargparse_parser(classes, optimizers=True)
        parser.parse_args(["--model_name", "example_net", "--optimizer", "Adam", "--scheduler", "OneCycleLR",
                           "--scheduler.max_lr", "0.004", "--scheduler.total_steps", "1290"])
    return {"template": lambda: parse_command_line(DEFAULT_JOB), "jsonargparse": jsonargparse_job}


def timing_lines(rounds: int, imports: int) -> list[str]:
    """Both parsers of the default job built and read in turn, and the import of each parser library."""
    jobs = default_job_parsers()
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for job in jobs.values():
        job()  # the first call imports and caches; timed from the second
    for _ in range(rounds):
        for name, job in jobs.items():
            times[name].append(timed(job))
    imported: dict[str, list[float]] = {"argparse": [], "jsonargparse": []}
    for _ in range(imports):
        for module, seconds in imported.items():
            seconds.append(import_seconds(module))
    extra = _common.median(imported["jsonargparse"]) - _common.median(imported["argparse"])
    ratios = [mine / theirs for mine, theirs in zip(times["template"], times["jsonargparse"], strict=True)]
    medians = {name: _common.median(values) * 1e3 for name, values in times.items()}
    return [f"       a fresh interpreter importing jsonargparse rather than argparse: {extra * 1e3:+.1f} ms (median)",
            f"       the default job's parser built and read, median ms: template {medians['template']:.1f}, "
            f"jsonargparse {medians['jsonargparse']:.1f}",
            ratio_line("parse default job template / jsonargparse", ratios)]


def error_lines() -> list[str]:
    """How many errors span one line, and which values jsonargparse takes that the template refuses."""
    ours = [template_reads(parameter, words) for parameter, words in CASES]
    theirs = [jsonargparse_reads(parameter, words) for parameter, words in CASES]
    refused = [index for index, text in enumerate(ours) if text.startswith("error")]
    taken = [" ".join(case[1]) for case, text in zip(CASES, theirs, strict=True)
             if case in WRONG_VALUES and not text.startswith("error")]
    several = sum(text.startswith("error") and not text.startswith("error (1 line") for text in theirs)
    return [check_line("template errors are one line each", all("\n" not in text for text in ours),
                       f"{len(refused)} errors"),
            f"       jsonargparse errors of several lines: {several} of {sum(t.startswith('error') for t in theirs)}",
            f"       wrong values jsonargparse takes: {', '.join(taken) or 'none'} of {len(WRONG_VALUES)}"]


def main(argv: list[str]) -> None:
    """Print the cases, the features, the errors and the time ratio of building and reading the default job's parser."""
    arguments = parse_arguments(argv)
    print(_common.machine_line())
    print(f"jsonargparse {jsonargparse.__version__}\n")
    print(cases_table(), "\n")
    print("\n".join(feature_lines()), "\n")
    print("\n".join([*error_lines(), *timing_lines(arguments.rounds, arguments.imports)]))
    print(_common.load_line())


if __name__ == "__main__":
    main(sys.argv[1:])
