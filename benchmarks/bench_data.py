"""Data path: the template's MNIST loader (whole batches through `__getitems__`) against torchvision's MNIST with
ToTensor and Normalize, for data alone and feeding ExampleNet's training steps.

    .venv/bin/python benchmarks/bench_data.py
"""

import argparse
import gzip
import itertools
import shutil
import sys
import tempfile
import time
from pathlib import Path

import _common
import torch
from _common import PROJECT_ROOT, median, quiet, ratio_line, table
from _workloads import BATCH_SIZE, LEARNING_RATE, SEED, mnist_workload, train_step
from torch.utils.data import DataLoader

DATA_TARGET = 10.0  # the training speed-up is reported beside its bound, which the data share sets


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """Sizes and repetitions; the defaults read whole epochs (about 3 minutes on 2 CPU cores)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_items", type=int, default=0, help="items per data-only pass (0: a whole epoch)")
    parser.add_argument("--data_reps", type=int, default=5)
    parser.add_argument("--epoch_items", type=int, default=0, help="items per training epoch (0: a whole epoch)")
    parser.add_argument("--epoch_reps", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's own choice)")
    return parser.parse_args(argv)


def template_loader(log_dir: str) -> DataLoader:
    """The train DataLoader of the default MNIST run, built as main.py builds it."""
    from main import prepare_run

    return prepare_run(mnist_workload(BATCH_SIZE, BATCH_SIZE).template_argv(log_dir, 1)).datamodule.train_dataloader()


def torchvision_loader(folder: Path) -> DataLoader:
    """torchvision's MNIST train set from the shipped .gz files: PIL image, ToTensor, Normalize per item, shuffled."""
    from torchvision import datasets, transforms

    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for packed in (PROJECT_ROOT / "example_Minist_data" / "MNIST" / "raw").glob("*.gz"):
        with gzip.open(packed, "rb") as source, open(raw / packed.stem, "wb") as target:
            shutil.copyfileobj(source, target)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    dataset = datasets.MNIST(str(folder), train=True, download=False, transform=transform)
    return DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, generator=torch.Generator().manual_seed(SEED))


def data_pass(loader: DataLoader, batches: int) -> float:
    """Seconds to draw `batches` batches."""
    started = time.perf_counter()
    for _ in itertools.islice(loader, batches):
        pass
    return time.perf_counter() - started


class TrainingPath:
    """A fresh ExampleNet and optimizer trained on one loader's batches, its steps and its waits for data timed."""

    def __init__(self, loader: DataLoader) -> None:
        from model.example_net import ExampleNet

        torch.manual_seed(SEED)
        self.net = ExampleNet()
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=LEARNING_RATE)
        self.batches, self.seconds, self.waiting = iter(loader), 0.0, 0.0

    def step(self) -> None:
        """Draw one batch and train on it."""
        started = time.perf_counter()
        inputs, targets = next(self.batches)
        fetched = time.perf_counter()
        train_step(self.net, self.optimizer, inputs, targets)
        self.seconds += time.perf_counter() - started
        self.waiting += fetched - started


def interleaved_epoch(loaders: list[DataLoader], batches: int) -> list[tuple[float, float]]:
    """One epoch per path, a batch of each in turn (the order swapping), so both see the same load from other
    processes; (seconds, of which waiting for data) per path."""
    paths = [TrainingPath(loader) for loader in loaders]
    for index in range(batches):
        for path in paths if index % 2 == 0 else paths[::-1]:
            path.step()
    return [(path.seconds, path.waiting) for path in paths]


def main(argv: list[str]) -> None:
    """Compare both loaders, data alone then training, and print the table and ratios."""
    arguments = parse_arguments(argv)
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    print(_common.machine_line(), _common.same_settings_for_all(), sep="\n")
    names = ["template (ExampleTrainData)", "torchvision MNIST + ToTensor + Normalize"]
    with tempfile.TemporaryDirectory() as folder, quiet():
        loaders = [template_loader(folder), torchvision_loader(Path(folder))]
        whole = min(len(loader) for loader in loaders)
        data_batches, epoch_batches = (min(whole, max(1, items // BATCH_SIZE)) if items else whole
                                       for items in (arguments.data_items, arguments.epoch_items))
        passes = [[data_pass(loader, data_batches) for loader in loaders] for _ in range(arguments.data_reps + 1)][1:]
        interleaved_epoch(loaders, min(3, epoch_batches))  # warm-up
        epochs = [interleaved_epoch(loaders, epoch_batches) for _ in range(arguments.epoch_reps)]
    data = [median([rep[path] for rep in passes]) for path in range(2)]
    total = [median([epoch[path][0] for epoch in epochs]) for path in range(2)]
    waiting = [median([epoch[path][1] for epoch in epochs]) for path in range(2)]
    print(table(["path", "data-only items/s", f"training s ({epoch_batches} batches)", "of which data"],
                [(names[path], f"{data_batches * BATCH_SIZE / data[path]:,.0f}", f"{total[path]:.2f}",
                  f"{waiting[path] / total[path]:.1%}") for path in range(2)]))
    print(ratio_line("data-only throughput template / torchvision", [data[1] / data[0]], DATA_TARGET, at_most=False))
    print(ratio_line("training speed template / torchvision", [epoch[1][0] / epoch[0][0] for epoch in epochs]))
    print(ratio_line("bound: torchvision's training / its compute alone", [total[1] / (total[1] - waiting[1])]))
    print(_common.load_line())


if __name__ == "__main__":
    main(sys.argv[1:])
