"""The two workloads and the hand-written PyTorch loop (the floor), in plain PyTorch: no Lightning imported here."""

import itertools
from dataclasses import dataclass, field
from typing import Protocol

import _common  # noqa: F401  (puts the project on the import path)
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from utils.batching import keep_batch, serves_batches
from utils.hold_out import hold_out_split

SEED = 42
LEARNING_RATE = 1e-3  # the template's default --lr with its default --optimizer adam
VAL_FRACTION = 0.1  # the template's default --val_fraction


class Clock(Protocol):
    """What a run tells its timer: each epoch's start, its validation's start and end, and the end of training."""

    def epoch_start(self) -> None:
        """An epoch begins."""

    def validation_start(self) -> None:
        """The epoch's training batches are done; its validation begins."""

    def validation_end(self) -> None:
        """The epoch's validation is done (what follows is the epoch's end: checkpoints, epoch metrics)."""

    def end(self) -> None:
        """Training is over."""


class NoClock:
    """A Clock that times nothing."""

    def epoch_start(self) -> None:
        """Nothing to do."""

    def validation_start(self) -> None:
        """Nothing to do."""

    def validation_end(self) -> None:
        """Nothing to do."""

    def end(self) -> None:
        """Nothing to do."""


@dataclass
class Workload:
    """One net on one dataset, as the template's command line and as plain PyTorch objects."""

    name: str
    model_name: str
    template_arguments: list[str]
    train_batches: int | None = None  # None: the whole train set each epoch
    val_batches: int | None = None  # None: every val set whole
    batch_size: int = 128
    seed: int = SEED
    sizes: dict[str, int] = field(default_factory=dict)

    def template_argv(self, log_dir: str, epochs: int) -> list[str]:
        """The command line main.py would get for this workload, training exactly `epochs` epochs."""
        limits = []
        if self.train_batches is not None:
            limits += ["--limit_train_batches", str(self.train_batches)]
        if self.val_batches is not None:
            limits += ["--limit_val_batches", str(self.val_batches)]
        # --min_epochs: early stopping (on by default) must not end a timed run before the others.
        return [*self.template_arguments, *limits, "--accelerator", "cpu", "--log_dir", log_dir, "--seed",
                str(self.seed), "--batch_size", str(self.batch_size), "--max_epochs", str(epochs),
                "--min_epochs", str(epochs)]


def mnist_workload(train_items: int, val_items: int) -> Workload:
    """ExampleNet on the MNIST files (compute-bound): the first `train_items` of each epoch's shuffled order."""
    batches = max(1, train_items // 128)
    val_batches = max(1, val_items // 128)
    return Workload("mnist", "example_net", ["--model_name", "example_net"], batches, val_batches,
                    sizes={"train_items": batches * 128, "val_items": val_batches * 128})


def mlp_workload(items: int) -> Workload:
    """StandardNet on StandardData in memory (overhead-bound): `items` points, 10% held out for validation."""
    return Workload("mlp", "standard_net", ["--model_name", "standard_net", "--dataset", "standard_data",
                                            "--num_samples", str(items)], sizes={"items": items})


def plain_net(workload: Workload) -> nn.Module:
    """The workload's net with the template's default arguments."""
    if workload.model_name == "example_net":
        from model.example_net import ExampleNet

        return ExampleNet()
    from model.standard_net import StandardNet

    return StandardNet()


def plain_datasets(workload: Workload) -> tuple[Dataset, list[Dataset]]:
    """The train set and val sets the template builds for this workload, made without the template."""
    if workload.model_name == "example_net":
        from data.example_eval_data import ExampleEvalData
        from data.example_train_data import ExampleTrainData

        return ExampleTrainData(), [ExampleEvalData(), ExampleEvalData(noise_std=1.0)]
    from data.standard_data import StandardData

    whole = StandardData(num_samples=workload.sizes["items"])
    train_part, val_part = hold_out_split(whole, VAL_FRACTION, workload.seed)
    return train_part, [val_part]


def plain_loader(dataset: Dataset, batch_size: int, seed: int, train: bool) -> DataLoader:
    """A loader in the template's order: train shuffled by (seed, epoch), val in index order."""
    # A private generator, as the template's: an iterator drawing its seed from the global generator would shift
    # the dropout masks and break the parity of losses.
    sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=seed) if train else None
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, generator=torch.Generator().manual_seed(seed),
                      collate_fn=keep_batch if serves_batches(dataset) else None)


def train_step(net: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
               targets: torch.Tensor) -> torch.Tensor:
    """One hand-written step: zero_grad, forward, cross-entropy loss, backward, optimizer step; returns the loss."""
    optimizer.zero_grad()
    loss = F.cross_entropy(net(inputs), targets)
    loss.backward()
    optimizer.step()
    return loss


def train_epoch(net: nn.Module, optimizer: torch.optim.Optimizer, loader: DataLoader, limit: int | None) -> float:
    """One epoch of hand-written steps; returns the sample-weighted mean loss."""
    net.train()
    total, count = torch.zeros((), dtype=torch.float64), 0
    for inputs, targets in itertools.islice(loader, limit):
        loss = train_step(net, optimizer, inputs, targets)
        total += loss.detach().double() * len(targets)
        count += len(targets)
    return (total / max(count, 1)).item()


def validate(net: nn.Module, loaders: list[DataLoader], limit: int | None) -> list[float]:
    """The mean loss on each val loader."""
    net.eval()
    losses = []
    with torch.inference_mode():
        for loader in loaders:
            total, count = torch.zeros((), dtype=torch.float64), 0
            for inputs, targets in itertools.islice(loader, limit):
                total += F.cross_entropy(net(inputs), targets, reduction="sum").double()
                count += len(targets)
            losses.append((total / max(count, 1)).item())
    return losses


class HandWrittenLoop:
    """The hand-written loop's net, optimizer and loaders, built once; each call of `epoch` trains one epoch."""

    def __init__(self, workload: Workload, net: nn.Module | None = None) -> None:
        if net is None:
            torch.manual_seed(workload.seed)
            net = plain_net(workload)
        self.workload, self.net, self.epochs_done = workload, net, 0
        train_set, val_sets = plain_datasets(workload)
        self.train_loader = plain_loader(train_set, workload.batch_size, workload.seed, train=True)
        self.val_loaders = [plain_loader(dataset, workload.batch_size, workload.seed, train=False)
                            for dataset in val_sets]
        self.optimizer = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)

    def epoch(self, clock: Clock) -> float:
        """Train one epoch and validate, telling `clock`; returns the epoch's train loss."""
        clock.epoch_start()
        self.train_loader.sampler.set_epoch(self.epochs_done)
        self.epochs_done += 1
        with torch.enable_grad():  # its epochs may run inside the hooks of a Lightning run
            loss = train_epoch(self.net, self.optimizer, self.train_loader, self.workload.train_batches)
        clock.validation_start()
        validate(self.net, self.val_loaders, self.workload.val_batches)
        clock.validation_end()
        return loss


def hand_written_run(workload: Workload, epochs: int, clock: Clock, net: nn.Module | None = None) -> list[float]:
    """Train `epochs` epochs with validation after each, telling `clock`; returns each epoch's train loss."""
    loop = HandWrittenLoop(workload, net)
    losses = [loop.epoch(clock) for _ in range(epochs)]
    clock.end()  # before the loaders and datasets are freed on return, as Lightning's runs end at on_train_end
    return losses
