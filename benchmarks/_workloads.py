"""The two workloads and the hand-written PyTorch loop they are measured against; no Lightning imported here."""

import itertools
from dataclasses import dataclass

import _common  # noqa: F401  (puts the project on the import path)
import torch
import torch.nn.functional as F
from _timing import EpochClock
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from utils.datasets.batches import keep_batch, serves_batches
from utils.datasets.splits import seeded_split

SEED = 42
BATCH_SIZE = 128
LEARNING_RATE = 1e-3  # the template's default --lr with its default --optimizer adam
VAL_FRACTION = 0.1  # the template's default --val_fraction


@dataclass
class Workload:
    """One net on one dataset, as the template's command line and as plain PyTorch objects."""

    name: str
    title: str
    template_arguments: list[str]
    train_batches: int | None = None  # None: the whole train set each epoch
    val_batches: int | None = None  # None: every val set whole
    items: int = 0  # StandardData's points

    def template_argv(self, log_dir: str, epochs: int) -> list[str]:
        """The command line main.py would get for this workload, training exactly `epochs` epochs."""
        limits = []
        if self.train_batches is not None:
            limits += ["--limit_train_batches", str(self.train_batches), "--limit_val_batches", str(self.val_batches)]
        # --min_epochs: early stopping must not end a timed run before the others; --threads: the loop's own count.
        return [*self.template_arguments, *limits, "--accelerator", "cpu", "--log_dir", log_dir, "--seed", str(SEED),
                "--batch_size", str(BATCH_SIZE), "--max_epochs", str(epochs), "--min_epochs", str(epochs),
                "--threads", str(torch.get_num_threads())]


def mnist_workload(train_items: int, val_items: int) -> Workload:
    """ExampleNet on the MNIST files (compute-bound): the first `train_items` of each epoch's shuffled order."""
    train_batches, val_batches = max(1, train_items // BATCH_SIZE), max(1, val_items // BATCH_SIZE)
    title = f"ExampleNet on MNIST, {train_batches * BATCH_SIZE} + 2 x {val_batches * BATCH_SIZE} items an epoch"
    # --scheduler none: the loop's training (Adam at a constant lr), not the default job's one-cycle recipe.
    return Workload("mnist", title, ["--model_name", "example_net", "--scheduler", "none"], train_batches, val_batches)


def mlp_workload(items: int) -> Workload:
    """StandardNet on StandardData in memory (overhead-bound): `items` points, 10% held out for validation."""
    return Workload("mlp", f"StandardNet on {items} StandardData points, 10% held out",
                    ["--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", str(items)],
                    items=items)


def plain_net(workload: Workload) -> nn.Module:
    """The workload's net with the template's default arguments, seeded as the template seeds it."""
    from model.example_net import ExampleNet
    from model.standard_net import StandardNet

    torch.manual_seed(SEED)
    return ExampleNet() if workload.name == "mnist" else StandardNet()


def plain_datasets(workload: Workload) -> tuple[Dataset, list[Dataset]]:
    """The train set and val sets the template builds for this workload, made without the template."""
    if workload.name == "mnist":
        from data.example_eval_data import ExampleEvalData
        from data.example_train_data import ExampleTrainData

        return ExampleTrainData(), [ExampleEvalData(), ExampleEvalData(noise_std=1.0)]
    from data.standard_data import StandardData

    train_part, val_part = seeded_split(StandardData(num_samples=workload.items), VAL_FRACTION, SEED)
    return train_part, [val_part]


def plain_loader(dataset: Dataset, train: bool) -> DataLoader:
    """A loader in the template's order: train shuffled by (seed, epoch), val in index order."""
    # A private generator, as the template's: drawing from the global one would shift the dropout masks.
    sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=SEED) if train else None
    return DataLoader(dataset, batch_size=BATCH_SIZE, sampler=sampler, generator=torch.Generator().manual_seed(SEED),
                      collate_fn=keep_batch if serves_batches(dataset) else None)


def train_step(net: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
               targets: torch.Tensor) -> torch.Tensor:
    """One hand-written step: zero_grad, forward, cross-entropy, backward, optimizer step; returns the loss."""
    optimizer.zero_grad()
    loss = F.cross_entropy(net(inputs), targets)
    loss.backward()
    optimizer.step()
    return loss


class HandWrittenLoop:
    """The hand-written loop's net, optimizer and loaders, built once; each `epoch` call trains one epoch."""

    def __init__(self, workload: Workload, net: nn.Module | None = None) -> None:
        self.workload, self.epochs_done = workload, 0
        self.net = net if net is not None else plain_net(workload)
        train_set, val_sets = plain_datasets(workload)
        self.train_loader = plain_loader(train_set, train=True)
        self.val_loaders = [plain_loader(dataset, train=False) for dataset in val_sets]
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=LEARNING_RATE)

    def epoch(self, clock: EpochClock) -> float:
        """Train one epoch and validate, telling `clock`; returns the epoch's sample-weighted train loss."""
        clock.epoch_start()
        self.train_loader.sampler.set_epoch(self.epochs_done)
        self.epochs_done += 1
        self.net.train()
        total, count = torch.zeros((), dtype=torch.float64), 0
        with torch.enable_grad():  # its epochs may run inside the hooks of a Lightning run
            for inputs, targets in itertools.islice(self.train_loader, self.workload.train_batches):
                total += train_step(self.net, self.optimizer, inputs, targets).detach().double() * len(targets)
                count += len(targets)
        clock.validation_start()
        self.net.eval()
        with torch.inference_mode():
            for loader in self.val_loaders:
                float(sum(F.cross_entropy(self.net(inputs), targets, reduction="sum")
                          for inputs, targets in itertools.islice(loader, self.workload.val_batches)))
        clock.validation_end()
        return (total / max(count, 1)).item()


def hand_written_run(workload: Workload, epochs: int, clock: EpochClock, net: nn.Module | None = None) -> list[float]:
    """Train `epochs` epochs, validating after each, telling `clock`; returns each epoch's train loss."""
    loop = HandWrittenLoop(workload, net)
    losses = [loop.epoch(clock) for _ in range(epochs)]
    clock.end()  # before the loaders are freed on return, as a Lightning run ends at on_train_end
    return losses
