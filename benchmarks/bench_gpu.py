"""GPU throughput: torchvision's ResNet-18 on synthetic 224 x 224 batches at bf16-mixed, the template against a
hand-written loop, each with and without torch.compile: images a second and the template / loop time ratio.

    .venv/bin/python benchmarks/bench_gpu.py

Without a CUDA GPU it prints one line saying so and exits 0, having measured nothing.
"""

import argparse
import itertools
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import _common
import torch
import torch.nn.functional as F
from _common import median, quiet, ratio_line, table
from _timing import EpochClock, run_rounds
from torch.utils.data import DataLoader, DistributedSampler

NO_GPU_LINE = "bench_gpu.py: no CUDA GPU here, so nothing was measured: run it on a machine with one"
GPU_FILES = Path(__file__).resolve().parent / "gpu_files"  # the net and the dataset, as a user's files
COPIED = ("main.py", "utils", "model", "data")
SEED = 42
LEARNING_RATE = 1e-3  # the template's default --lr with its default --optimizer adam
VAL_FRACTION = 0.1  # the template's default --val_fraction
VARIANTS = {"loop": "hand-written loop", "template": "template", "loop+compile": "hand-written loop, compiled",
            "template+compile": "template, --torch_compile"}


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """Sizes and repetitions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30, help="train steps in each epoch")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per run, after its warm-up epoch")
    parser.add_argument("--rounds", type=int, default=2, help="runs per variant, which goes first rotating")
    parser.add_argument("--num_workers", type=int, default=4, help="loader processes of both variants")
    parser.add_argument("--channels_last", action="store_true", help="both store the net and batches channels-last")
    return parser.parse_args(argv)


def project_copy(folder: Path) -> None:
    """A copy of the template whose model/ and data/ also hold ResNet18 and SyntheticImages, first on the path."""
    folder.mkdir()
    for name in COPIED:
        source = _common.PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, folder / name)
    shutil.copy(GPU_FILES / "res_net18.py", folder / "model")
    shutil.copy(GPU_FILES / "synthetic_images.py", folder / "data")
    sys.path.insert(0, str(folder))  # before any of the template's modules is imported


def sample_count(arguments: argparse.Namespace) -> int:
    """Images enough for `--steps` train batches after the template holds out its val part."""
    return int(arguments.steps * arguments.batch_size / (1 - VAL_FRACTION)) + 2 * arguments.batch_size


def template_argv(arguments: argparse.Namespace, compiled: bool, log_dir: str) -> list[str]:
    """The command line of the template's run: one GPU, bf16-mixed, one val batch an epoch."""
    epochs = str(arguments.epochs + 1)
    return ["--model_name", "res_net18", "--dataset", "synthetic_images", "--num_samples", str(sample_count(arguments)),
            "--accelerator", "gpu", "--devices", "1", "--precision", "bf16-mixed", "--batch_size",
            str(arguments.batch_size), "--num_workers", str(arguments.num_workers), "--max_epochs", epochs,
            "--min_epochs", epochs, "--limit_train_batches", str(arguments.steps), "--limit_val_batches", "1",
            "--confusion_images", "off", "--seed", str(SEED), "--log_dir", log_dir,
            *(["--torch_compile"] if compiled else []), *(["--channels_last"] if arguments.channels_last else [])]


def template_run(arguments: argparse.Namespace, compiled: bool, log_dir: str, clock: EpochClock) -> None:
    """Train the template as main.py builds it, the clock told when each epoch and its validation start."""
    from _lightning_runs import ClockHooks

    from main import prepare_run
    from utils.lightning_package import Callback

    class CudaSync(Callback):
        """Waits for the GPU's queued work before each of the clock's marks, so a phase is timed to its end."""

        def on_train_epoch_start(self, trainer: object, module: object) -> None:
            torch.cuda.synchronize()

        def on_validation_start(self, trainer: object, module: object) -> None:
            torch.cuda.synchronize()

        def on_train_end(self, trainer: object, module: object) -> None:
            torch.cuda.synchronize()

    run = prepare_run(template_argv(arguments, compiled, log_dir))
    run.trainer.callbacks[:0] = [CudaSync(), ClockHooks(clock)]
    run.trainer.fit(run.model, datamodule=run.datamodule)


def loop_run(arguments: argparse.Namespace, compiled: bool, clock: EpochClock) -> None:
    """A hand-written bf16 loop on the same net and data: pinned batches copied without blocking, Adam."""
    from data.synthetic_images import SyntheticImages
    from model.res_net18 import ResNet18

    from utils.datasets.batches import keep_batch

    torch.manual_seed(SEED)
    net = ResNet18().cuda()
    if arguments.channels_last:
        net.to(memory_format=torch.channels_last)
    if compiled:
        net.compile()
    optimizer = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    dataset = SyntheticImages(num_samples=sample_count(arguments))
    sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=SEED)
    loader = DataLoader(dataset, batch_size=arguments.batch_size, sampler=sampler, collate_fn=keep_batch,
                        num_workers=arguments.num_workers, pin_memory=True,
                        persistent_workers=arguments.num_workers > 0)
    memory_format = torch.channels_last if arguments.channels_last else torch.contiguous_format
    for epoch in range(arguments.epochs + 1):
        sampler.set_epoch(epoch)
        torch.cuda.synchronize()
        clock.epoch_start()
        for inputs, targets in itertools.islice(loader, arguments.steps):
            inputs = inputs.cuda(non_blocking=True).contiguous(memory_format=memory_format)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = F.cross_entropy(net(inputs), targets.cuda(non_blocking=True))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        torch.cuda.synchronize()
        clock.validation_start()
    clock.end()


def runner(arguments: argparse.Namespace, variant: str, log_dir: str) -> Callable[[], EpochClock]:
    """A function that trains `variant` once and returns its clock."""
    compiled = variant.endswith("+compile")

    def run() -> EpochClock:
        clock = EpochClock()
        if variant.startswith("template"):
            template_run(arguments, compiled, log_dir, clock)
        else:
            loop_run(arguments, compiled, clock)
        return clock

    return run


def train_seconds(clock: EpochClock) -> float:
    """The seconds of the train batches of the timed epochs (the first, with compilation, is a warm-up)."""
    return sum(phases[0] for phases in clock.phases[1:])


def report(arguments: argparse.Namespace, runs: dict[str, list[EpochClock]]) -> None:
    """Images a second of each variant (median over rounds), then each template / loop time ratio."""
    images = arguments.steps * arguments.batch_size * arguments.epochs
    rows = [(f"{variant} ({name})", f"{median([images / train_seconds(clock) for clock in runs[variant]]):,.0f}")
            for variant, name in VARIANTS.items()]
    print(table(["variant", "images/s"], rows))
    for suffix, label in (("", "bf16"), ("+compile", "bf16 compiled")):
        ratios = [train_seconds(template) / train_seconds(loop)
                  for template, loop in zip(runs[f"template{suffix}"], runs[f"loop{suffix}"], strict=True)]
        print(ratio_line(f"{label} template / loop, train time", ratios))


def main(argv: list[str]) -> int:
    """Measure on a CUDA GPU, or say in one line that there is none."""
    arguments = parse_arguments(argv)
    if not torch.cuda.is_available():
        print(NO_GPU_LINE)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        project_copy(Path(folder) / "project")
        print(_common.machine_line(), f"GPU: {torch.cuda.get_device_name()}", _common.same_settings_for_all(),
              sep="\n")
        layout = ", channels-last" if arguments.channels_last else ""
        print(f"\n== ResNet-18, synthetic 224 x 224 uint8 images, batch {arguments.batch_size}, bf16-mixed{layout}, "
              f"{arguments.steps} steps an epoch")
        with quiet():
            runs = run_rounds({variant: runner(arguments, variant, folder) for variant in VARIANTS}, arguments.rounds)
        report(arguments, runs)
    print(_common.load_line())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
