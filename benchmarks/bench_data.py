"""Data path: the template's MNIST loader (ExampleTrainData serving whole batches through `__getitems__`) against
torchvision's MNIST with ToTensor and Normalize, for data alone and feeding a training epoch of ExampleNet.

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
from _workloads import LEARNING_RATE, SEED, train_step
from torch.utils.data import DataLoader

DATA_TARGET = 10.0
EPOCH_TARGET = 1.3
BATCH_SIZE = 128


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """Sizes and repetitions; the defaults read whole epochs (a few minutes on 2 CPU cores)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_items", type=int, default=0, help="items per data-only pass (0: a whole epoch)")
    parser.add_argument("--data_reps", type=int, default=5)
    parser.add_argument("--epoch_items", type=int, default=0, help="items per training epoch (0: a whole epoch)")
    parser.add_argument("--epoch_reps", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's own choice)")
    return parser.parse_args(argv)


def template_loader() -> DataLoader:
    """The train DataLoader DInterface builds for the default MNIST run."""
    from data.data_interface import DInterface
    from utils.cli import parse_command_line

    command = parse_command_line(["--model_name", "example_net", "--batch_size", str(BATCH_SIZE), "--seed", str(SEED)])
    datamodule = DInterface(command.train_entry, command.val_entries, command.test_entries, command.dataset_classes,
                            command.options)
    return datamodule.train_dataloader()


def torchvision_root(folder: Path) -> Path:
    """Lay the shipped .gz files out as torchvision expects (MNIST/raw/, decompressed) under `folder`."""
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for packed in (PROJECT_ROOT / "example_Minist_data" / "MNIST" / "raw").glob("*.gz"):
        with gzip.open(packed, "rb") as source, open(raw / packed.stem, "wb") as target:
            shutil.copyfileobj(source, target)
    return folder


def torchvision_loader(root: Path) -> DataLoader:
    """torchvision's MNIST train set, PIL image -> ToTensor -> Normalize per item, shuffled, batches of 128."""
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    dataset = datasets.MNIST(str(root), train=True, download=False, transform=transform)
    return DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, generator=torch.Generator().manual_seed(SEED))


def data_pass(loader: DataLoader, batches: int) -> float:
    """Seconds to draw `batches` batches."""
    started = time.perf_counter()
    for _ in itertools.islice(loader, batches):
        pass
    return time.perf_counter() - started


class TrainingPath:
    """A fresh ExampleNet with its own optimizer, trained on batches from one loader, timing each step."""

    def __init__(self, loader: DataLoader) -> None:
        from model.example_net import ExampleNet

        torch.manual_seed(SEED)
        self.net = ExampleNet()
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=LEARNING_RATE)
        self.batches = iter(loader)
        self.seconds, self.waiting = 0.0, 0.0

    def step(self) -> None:
        """Draw one batch and train on it: zero_grad, forward, loss, backward, step."""
        started = time.perf_counter()
        inputs, targets = next(self.batches)
        fetched = time.perf_counter()
        train_step(self.net, self.optimizer, inputs, targets)
        self.seconds += time.perf_counter() - started
        self.waiting += fetched - started


def interleaved_epoch(loaders: dict[str, DataLoader], batches: int) -> dict[str, tuple[float, float]]:
    """One training epoch per path, taken batch by batch in turn, so that both see the same load from other
    processes; per path (seconds, of which waiting for batches)."""
    paths = [TrainingPath(loader) for loader in loaders.values()]
    for index in range(batches):
        for path in paths if index % 2 == 0 else paths[::-1]:
            path.step()
    return {name: (path.seconds, path.waiting) for name, path in zip(loaders, paths, strict=True)}


def batches_for(items: int, loaders: dict[str, DataLoader]) -> int:
    """Batches per pass: `items` worth, or (0) the shorter loader's whole epoch."""
    whole = min(len(loader) for loader in loaders.values())
    return min(whole, max(1, items // BATCH_SIZE)) if items else whole


def compare_data(loaders: dict[str, DataLoader], batches: int, reps: int) -> dict[str, float]:
    """Median seconds of a data-only pass per path, the paths alternating after one warm-up pass each."""
    times: dict[str, list[float]] = {name: [] for name in loaders}
    for rep in range(reps + 1):
        for name, loader in loaders.items():
            seconds = data_pass(loader, batches)
            if rep:
                times[name].append(seconds)
    return {name: median(values) for name, values in times.items()}


def compare_epochs(loaders: dict[str, DataLoader], batches: int, reps: int) -> list[dict[str, tuple[float, float]]]:
    """`reps` interleaved training epochs of both paths, after a short interleaved warm-up."""
    interleaved_epoch(loaders, min(3, batches))
    return [interleaved_epoch(loaders, batches) for _ in range(reps)]


def report(loaders: dict[str, DataLoader], data: dict[str, float], epochs: list[dict[str, tuple[float, float]]],
           batches: tuple[int, int]) -> None:
    """Tables, ratios and the bound that the data share puts on the epoch speed-up (epochs: medians over reps)."""
    typical = {name: (median([epoch[name][0] for epoch in epochs]), median([epoch[name][1] for epoch in epochs]))
               for name in loaders}
    rows = [(name, f"{batches[0] * BATCH_SIZE / data[name]:,.0f}", f"{typical[name][0]:.2f}",
             f"{typical[name][1]:.2f}", f"{typical[name][1] / typical[name][0]:.1%}",
             f"{typical[name][0] - typical[name][1]:.2f}") for name in loaders]
    print(table(["path", "data-only items/s", f"epoch s ({batches[1]} batches)", "of which data s", "data share",
                 "compute s"], rows))
    template, vision = loaders
    print(ratio_line("data-only throughput template / torchvision", data[vision] / data[template], DATA_TARGET,
                     at_most=False))
    speed_ups = [epoch[vision][0] / epoch[template][0] for epoch in epochs]
    print(ratio_line("training epoch speed template / torchvision", median(speed_ups), EPOCH_TARGET, at_most=False))
    share = typical[vision][1] / typical[vision][0]
    print(ratio_line("bound: torchvision epoch / its compute alone", 1 / (1 - share), None))


def main(argv: list[str]) -> None:
    """Build both loaders, compare them, print tables, ratios and PASS/MISS."""
    arguments = parse_arguments(argv)
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    print(_common.machine_line())
    print(_common.same_malloc_settings_for_all("both paths"))
    with tempfile.TemporaryDirectory() as folder, quiet():
        loaders = {"template (ExampleTrainData)": template_loader(),
                   "torchvision MNIST + ToTensor + Normalize": torchvision_loader(torchvision_root(Path(folder)))}
        batches = (batches_for(arguments.data_items, loaders), batches_for(arguments.epoch_items, loaders))
        data = compare_data(loaders, batches[0], arguments.data_reps)
        epochs = compare_epochs(loaders, batches[1], arguments.epoch_reps)
    report(loaders, data, epochs, batches)
    print(_common.load_line())


if __name__ == "__main__":
    main(sys.argv[1:])
