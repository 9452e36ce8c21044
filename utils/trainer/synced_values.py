"""An own LightningModule's val and test values under several processes: each must be one value for the whole set."""

import zlib

import torch

from utils.errors import SameInEveryProcess
from utils.lightning_package import LightningModule, Trainer
from utils.shared_names import metric_stage, stage_named_key


def stage_keys(metrics: dict[str, object], stage: str) -> list[str]:
    """The keys logged in `stage` (`val/...` or Lightning's usual `val_...`), sorted, so every process lists them in
    the same order."""
    return sorted(key for key in metrics if metric_stage(stage_named_key(key) or key) == stage)


def gathered_values(trainer: Trainer, pl_module: LightningModule, values: list) -> torch.Tensor:
    """Each process's `values` (numbers or one-number tensors, as many in every process): [processes, values]."""
    mine = torch.stack([torch.as_tensor(value, dtype=torch.float64).reshape(()) for value in values])
    parts = [torch.empty_like(mine) for _ in range(trainer.world_size)]
    torch.distributed.all_gather(parts, mine.to(pl_module.device))
    return torch.stack(parts).cpu()


def check_synced(trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
    """Refuse a value of `stage` that the processes logged differently: logged without sync_dist, each process gave
    the value of its own part of the set, and the run would report process 0's as the whole set's."""
    if trainer.world_size == 1:
        return
    keys = stage_keys(trainer.callback_metrics, stage)
    # Every process takes part in each gather. A key logged by some processes alone (rank_zero_only=True) leaves
    # nothing to compare.
    logged = gathered_values(trainer, pl_module, [zlib.crc32("/".join(keys).encode())])
    if not keys or logged.unique().numel() > 1:
        return
    gathered = gathered_values(trainer, pl_module, [trainer.callback_metrics[key] for key in keys])
    same = torch.isclose(gathered, gathered[:1], rtol=0, atol=0, equal_nan=True).all(dim=0)
    for index, key in enumerate(keys):
        if not same[index]:
            seen = ", ".join(f"{float(value):.6g}" for value in gathered[:, index])
            raise SameInEveryProcess(
                f"{type(pl_module).__name__} logged {key} unsynced: each of the {trainer.world_size} processes logged "
                f"the value of its own part of the {stage} set ({seen}), and the run would report process 0's as the "
                f"whole set's: log it with self.log(..., sync_dist=True), or log a torchmetrics metric object, which "
                f"syncs itself")
