"""--weights: load a state dict into the net (or an own module) a new run starts from, strictly or the tensors that fit.

The file's keys are matched to the net's by the one prefix to drop (`net.` of this template's checkpoints, `model.`
of many Lightning modules, `module.` of DDP wrappers) and the one to add (a plain net's state dict loaded into an own
module's `net`) under which most of them name a tensor of the net. Keys outside the dropped prefix belong to other
parts of a checkpoint's module (its loss, metrics, a second net) and are left out, never an error.
"""

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from utils.config.command_line import Command
from utils.config.config_files import load_config
from utils.config.settings import RunSettings
from utils.errors import UserError
from utils.run_lock import is_rank_zero
from utils.runs.folder import write_yaml
from utils.runs.weights_files import read_weights
from utils.shared_names import CONFIG_FILE, ENVIRONMENT_FILE

SHOWN = 3  # keys an error line or a report line names
RECORD_ATTRIBUTE = "starting_weights"  # where the model keeps what was loaded until the run folder records it


@dataclass
class WeightsReport:
    """What --weights loaded into a net and what it left as built."""

    source: str
    strict: bool
    loaded: int = 0
    tensors: int = 0
    dropped_prefix: str = ""
    added_prefix: str = ""
    shape_mismatch: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    left_out: int = 0  # keys outside the dropped prefix


def prefixes(keys: list[str], depth: int) -> set[str]:
    """'' and every dotted prefix of the keys up to `depth` parts (`net.`, `model.net.`)."""
    found = {""}
    for key in keys:
        parts = key.split(".")[:-1]
        found.update(".".join(parts[:size]) + "." for size in range(1, min(depth, len(parts)) + 1))
    return found


def aligned(source: dict[str, torch.Tensor], target: set[str]) -> tuple[str, str]:
    """The prefix to drop from the file's keys and the one to add under which most name a tensor of the target;
    of equals, the shortest."""
    def score(drop: str, add: str) -> tuple[int, int]:
        names = {add + key.removeprefix(drop) for key in source if key.startswith(drop)}
        return len(names & target), -len(drop) - len(add)

    pairs = [(drop, add) for drop in prefixes(list(source), 2) for add in prefixes(list(target), 1)]
    return max(pairs, key=lambda pair: score(*pair))


def compare(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], report: WeightsReport
            ) -> dict[str, torch.Tensor]:
    """The file's tensors that fit the target, by the target's names; the report lists those that do not."""
    report.dropped_prefix, report.added_prefix = aligned(source, set(target))
    drop, add = report.dropped_prefix, report.added_prefix
    mapped = {add + key.removeprefix(drop): value for key, value in source.items() if key.startswith(drop)}
    report.left_out = len(source) - len(mapped)
    report.tensors = len(target)
    report.missing = [key for key in target if key not in mapped]
    report.unexpected = [key for key in mapped if key not in target]
    report.shape_mismatch = [f"{key} {list(mapped[key].shape)} in the file, {list(value.shape)} in the net"
                             for key, value in target.items() if key in mapped and mapped[key].shape != value.shape]
    fitting = {key: value for key, value in mapped.items() if key in target and value.shape == target[key].shape}
    report.loaded = len(fitting)
    return fitting


def _named(keys: list[str]) -> str:
    more = f" and {len(keys) - SHOWN} more" if len(keys) > SHOWN else ""
    return f"{', '.join(keys[:SHOWN])}{more}"


def problems(report: WeightsReport) -> list[str]:
    """What keeps the file from filling the net exactly, one phrase per kind."""
    kinds = (("of another shape", report.shape_mismatch), ("of the net not in the file", report.missing),
             ("of the file not in the net", report.unexpected))
    return [f"{len(keys)} {what} ({_named(keys)})" for what, keys in kinds if keys]


def report_lines(report: WeightsReport, net_name: str) -> list[str]:
    """The lines a run prints about the weights it started from."""
    lines = [f"weights: loaded {report.loaded} of the {report.tensors} tensors of {net_name} from {report.source}"
             + (f", its keys under {report.dropped_prefix!r}" if report.dropped_prefix else "")
             + (f", into {report.added_prefix!r}" if report.added_prefix else "")]
    kinds = (("kept as built, another shape in the file", report.shape_mismatch),
             ("kept as built, not in the file", report.missing), ("not in the net, left out", report.unexpected))
    lines += [f"weights: {what}: {_named(keys)}" for what, keys in kinds if keys]
    return lines


def load_starting_weights(net: torch.nn.Module, model_name: str, run: RunSettings) -> WeightsReport:
    """Load --weights into `net` (strictly unless --no-weights_strict), print what was loaded and return the report."""
    source, described = read_weights(run.weights, model_name)
    report = WeightsReport(described, run.weights_strict)
    net_name = type(net).__name__
    fitting = compare(source, net.state_dict(), report)
    if not fitting:
        raise UserError(f"--weights {run.weights}: none of its {len(source)} keys ({_named(list(source))}) names a "
                        f"tensor of {net_name} ({_named(list(net.state_dict()))}): pass weights of this net")
    found = problems(report)
    if run.weights_strict and found:
        raise UserError(f"--weights {run.weights} does not fit {net_name}: {'; '.join(found)}: pass "
                        f"--no-weights_strict to load the {report.loaded} tensors that fit and keep the rest as built")
    net.load_state_dict(fitting, strict=False)
    if is_rank_zero():
        print("\n".join(report_lines(report, net_name)))
    return report


def start_from_weights(command: Command, net: torch.nn.Module, model: Any) -> None:
    """Load --weights into a new run's net and keep the report on `model` until the run folder records it; a resumed
    run restores its checkpoint's weights instead, and refuses other --weights than those it started from."""
    weights = command.settings.run.weights
    if command.resume_dir is None:
        report = load_starting_weights(net, command.options["model_name"], command.settings.run)
        setattr(model, RECORD_ATTRIBUTE, asdict(report))
        return
    started = load_config(str(command.resume_dir / CONFIG_FILE)).get("weights")
    if "weights" in command.stated and weights != started:
        raise UserError(f"--weights {weights}: --resume {command.resume_dir} continues from its checkpoint, whose "
                        f"training started from {started or 'the seeded weights'}: drop --weights, or start a new "
                        f"run without --resume")
    environment = command.resume_dir / ENVIRONMENT_FILE  # rewritten as the run resumes: its start is kept
    record = yaml.safe_load(environment.read_text()).get("weights") if environment.exists() else None
    if record is not None:
        setattr(model, RECORD_ATTRIBUTE, record)


def record_starting_weights(run_dir: Path, model: Any) -> None:
    """Add what --weights loaded to the run's environment.yaml, under `weights`."""
    record = vars(model).get(RECORD_ATTRIBUTE)
    if record is None:
        return
    path = run_dir / ENVIRONMENT_FILE
    environment = yaml.safe_load(path.read_text()) if path.exists() else {}
    write_yaml(path, {**environment, "weights": record})
