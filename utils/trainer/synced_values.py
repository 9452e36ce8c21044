"""An own LightningModule's val and test values under several processes: each must be one value for the whole set."""

import torch

from utils.errors import SameInEveryProcess
from utils.lightning_package import LightningModule, Trainer
from utils.shared_names import logged_stage, metric_key, split_lightning_key, stage_named_key

FIX = "log it from every process with self.log(..., sync_dist=True), or log a torchmetrics metric object"


def stage_keys(metrics: dict[str, object], stage: str) -> list[str]:
    """The keys logged in `stage` (`val/...` or Lightning's usual `val_...`), sorted, so every process lists them in
    the same order."""
    return sorted(key for key in metrics if logged_stage(key) == stage)


def shown_key(key: str, labels: list[str]) -> str:
    """`key` as the run reports it: Lightning's `val/loss/dataloader_idx_0` as `val/<label>/loss`."""
    indexed = split_lightning_key(stage_named_key(key) or key)
    return metric_key(indexed[0], indexed[1], labels[indexed[2]]) if indexed and indexed[2] < len(labels) else key


def check_synced(trainer: Trainer, pl_module: LightningModule, stage: str, labels: list[str]) -> None:
    """Refuse a value of `stage` that the processes logged differently, or that some of them alone logged: the run
    would report one process's part of the set as the whole set's."""
    if trainer.world_size == 1:
        return
    name, processes = type(pl_module).__name__, trainer.world_size
    keys = stage_keys(trainer.callback_metrics, stage)
    listed: list[list[str] | None] = [None] * processes
    torch.distributed.all_gather_object(listed, keys)  # every process takes part in each gather
    partial = sorted({key for found in listed for key in found or []} - set.intersection(*(set(found or [])
                                                                                           for found in listed)))
    if partial:
        raise SameInEveryProcess(f"{name} logged {shown_key(partial[0], labels)} in some of its {processes} "
                                 f"processes alone (rank_zero_only=True, say): the run would report one process's "
                                 f"part of the {stage} set as the whole set's: {FIX}")
    if not keys:
        return
    mine = torch.stack([torch.as_tensor(trainer.callback_metrics[key], dtype=torch.float64).reshape(())
                        for key in keys])
    parts = [torch.empty_like(mine) for _ in range(processes)]
    torch.distributed.all_gather(parts, mine.to(pl_module.device))
    gathered = torch.stack(parts).cpu()  # [processes, keys]
    same = torch.isclose(gathered, gathered[:1], rtol=0, atol=0, equal_nan=True).all(dim=0)
    for index, key in enumerate(keys):
        if not same[index]:
            seen = ", ".join(f"{float(value):.6g}" for value in gathered[:, index])
            raise SameInEveryProcess(
                f"{name} logged {shown_key(key, labels)} unsynced: each of the {processes} processes logged the value "
                f"of its own part of the {stage} set ({seen}), and the run would report process 0's as the whole "
                f"set's: {FIX} (rank_zero_only=True logs process 0's alone)")
