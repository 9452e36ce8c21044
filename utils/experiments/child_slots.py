"""The machine's share each child run of `--parallel N` gets: its GPUs in groups of --devices, else its CPU cores."""

import os
from dataclasses import dataclass
from typing import Any

from utils.errors import UserError

GPU_VARIABLE = "CUDA_VISIBLE_DEVICES"


@dataclass(frozen=True)
class ChildSlot:
    """One place a child run goes: the CPUs it may run on and, on a GPU machine, the GPUs it sees."""

    number: int
    cpus: tuple[int, ...] | None  # its affinity; None keeps this process's
    gpus: tuple[str, ...] | None  # what its CUDA_VISIBLE_DEVICES holds; None keeps this process's

    def environment(self) -> dict[str, str]:
        """The variables the child starts with: the GPUs it may see."""
        return {GPU_VARIABLE: ",".join(self.gpus)} if self.gpus is not None else {}

    def describe(self) -> str:
        """`GPUs 0,1`, `CPUs 2-3` or `CPU 4`: the share, as the progress table shows it."""
        if self.gpus is not None:
            return f"GPU{'s' if len(self.gpus) > 1 else ''} {','.join(self.gpus)}"
        if self.cpus is None:
            return "this machine"
        if len(self.cpus) == 1:
            return f"CPU {self.cpus[0]}"
        contiguous = list(self.cpus) == list(range(self.cpus[0], self.cpus[-1] + 1))
        return f"CPUs {self.cpus[0]}-{self.cpus[-1]}" if contiguous else f"CPUs {','.join(map(str, self.cpus))}"


def visible_gpus(count: int, environ: dict[str, str]) -> list[str]:
    """The ids of this process's `count` GPUs as CUDA_VISIBLE_DEVICES names them, so a child's list names the same."""
    given = [part.strip() for part in environ.get(GPU_VARIABLE, "").split(",") if part.strip()]
    return given[:count] if len(given) >= count else [str(index) for index in range(count)]


def split_evenly(items: list[Any], parts: int) -> list[tuple[Any, ...]]:
    """`items` in `parts` runs of consecutive items whose lengths differ by at most one."""
    size, extra = divmod(len(items), parts)
    starts = [part * size + min(part, extra) for part in range(parts + 1)]
    return [tuple(items[starts[part]:starts[part + 1]]) for part in range(parts)]


def gpu_group_size(devices: Any) -> int:
    """The GPUs each child takes: --devices as a count (auto: one)."""
    if devices == "auto":
        return 1
    if isinstance(devices, list) or devices == -1:
        raise UserError(f"--parallel gives each child its own GPUs, counted by --devices: pass a count such as "
                        f"--devices 1, not {devices if devices == -1 else ','.join(map(str, devices))}")
    return devices


def child_slots(parallel: int | str, devices: Any, accelerator: str, gpu_count: int, cpus: list[int],
                environ: dict[str, str] | None = None) -> list[ChildSlot]:
    """The slots of `--parallel` (a count or auto) on a machine with `gpu_count` GPUs and these usable CPUs."""
    environ = dict(os.environ) if environ is None else environ
    if gpu_count > 0 and accelerator not in ("cpu", "mps"):
        group = gpu_group_size(devices)
        fits = gpu_count // group
        count = fits if parallel == "auto" else parallel
        if count > fits or fits == 0:
            raise UserError(f"--parallel {parallel} with --devices {group} needs {count * group} GPUs and this "
                            f"machine shows {gpu_count}: lower --parallel or --devices")
        gpus = split_evenly(visible_gpus(gpu_count, environ)[:count * group], count)
        shares = split_evenly(cpus, count) if len(cpus) >= count else [None] * count
        return [ChildSlot(number, share, gpus[number]) for number, share in enumerate(shares)]
    count = len(cpus) if parallel == "auto" else parallel
    if count > len(cpus):
        raise UserError(f"--parallel {parallel} gives each child CPU cores of its own and this process may use "
                        f"{len(cpus)}: pass --parallel {len(cpus)} or fewer (or auto)")
    return [ChildSlot(number, share, None) for number, share in enumerate(split_evenly(cpus, count))]
