"""Template overhead in one process: a hand-written PyTorch loop (a) taking turns epoch by epoch with a bare
LightningModule (b), (b) with Lightning's callbacks for the template's features (l), those features written as
Lightning's docs write them (f), the template (c) and itself (a', the control); peak memory; parity of the train loss.

    .venv/bin/python benchmarks/bench_overhead.py
"""

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Callable

import _common
import torch
from _common import check_line, median, quiet, ratio_line, table
from _timing import PHASES, EpochClock, TakingTurns, run_rounds
from _workloads import SEED, HandWrittenLoop, Workload, hand_written_run, mlp_workload, mnist_workload

VARIANTS = {"a": "hand-written loop", "b": "bare LightningModule", "l": "(b) with Lightning's callbacks alone",
            "f": "Lightning with the same features", "c": "template", "a'": "hand-written loop again (control)"}
TIMED = ("b", "l", "f", "c", "a'")  # each run of these takes turns with a hand-written loop (a) of its own
RUN_PAIRS = (("c", "b"), ("l", "b"), ("f", "b"), ("c", "f"))  # the Lightning runs against each other
TIME_TARGETS = {("mnist", "c", "a"): 1.05}  # the MLP's (c)/(b) is reported, not a target
MEMORY_TARGET = 1.10
PARITY_TOLERANCE = 5e-6  # equal to 5 decimal places


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """Sizes and repetitions; the defaults take about 8 minutes on 2 CPU cores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", choices=("mnist", "mlp"), default=["mnist", "mlp"])
    parser.add_argument("--train_items", type=int, default=4096, help="MNIST train items per epoch")
    parser.add_argument("--val_items", type=int, default=1024, help="items of each MNIST val set (clean, noisy)")
    parser.add_argument("--mlp_items", type=int, default=50000, help="StandardData points (10%% held out for val)")
    parser.add_argument("--epochs", type=int, default=4, help="timed epochs per run, after its warm-up epoch")
    parser.add_argument("--rounds", type=int, default=8, help="runs per variant, which goes first rotating")
    parser.add_argument("--parity_epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's own choice)")
    parser.add_argument("--skip", nargs="+", default=[], choices=("timing", "parity", "memory"))
    parser.add_argument("--memory_child", choices=("a", "b", "c"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def chosen_workloads(arguments: argparse.Namespace) -> list[Workload]:
    """The workloads asked for, at the sizes asked for."""
    built = {"mnist": lambda: mnist_workload(arguments.train_items, arguments.val_items),
             "mlp": lambda: mlp_workload(arguments.mlp_items)}
    return [built[name]() for name in arguments.workloads]


def runner(variant: str, workload: Workload, epochs: int, log_dir: str) -> Callable[[EpochClock], object]:
    """A function of a clock that trains `variant` for `epochs` epochs."""
    if variant in ("a", "a'"):
        return lambda clock: hand_written_run(workload, epochs, clock)
    from _lightning_runs import bare_run, callbacks_run, features_run, template_run

    run = {"b": bare_run, "l": callbacks_run, "f": features_run, "c": template_run}[variant]
    return lambda clock: run(workload, epochs, clock, log_dir)


def time_variants(workload: Workload, epochs: int, rounds: int, log_dir: str) -> dict[str, list[TakingTurns]]:
    """Each round one fresh run of (b), (l), (f), (c) and (a'), each taking turns with a fresh hand-written loop (a)."""

    def taking_turns(variant: str) -> Callable[[], TakingTurns]:
        run = runner(variant, workload, epochs + 1, log_dir)

        def turns() -> TakingTurns:
            clock = TakingTurns(HandWrittenLoop(workload).epoch)
            run(clock)
            return clock

        return turns

    with quiet():
        return run_rounds({variant: taking_turns(variant) for variant in TIMED}, rounds)


def between(against_a: dict[str, list[float]], top: str, bottom: str) -> list[float]:
    """Each round's (top)/(bottom): its (top)/(a) divided by its (bottom)/(a)."""
    return [t / b for t, b in zip(against_a[top], against_a[bottom], strict=True)]


def report_timing(workload: Workload, runs: dict[str, list[TakingTurns]]) -> None:
    """Median epoch and phase times per variant, then each ratio: the median over rounds with its interval."""
    clocks = {"a": [turns.other_clock for variant in TIMED for turns in runs[variant]], **runs}
    rows, phases = [], {}
    for variant, name in VARIANTS.items():
        epochs = [epoch for clock in clocks[variant] for epoch in clock.phases[1:]]
        phases[variant] = [1000 * median([epoch[index] for epoch in epochs]) for index in range(len(PHASES))]
        wall = median([seconds for clock in clocks[variant] for seconds in clock.timed()])
        rows.append((f"({variant}) {name}", f"{wall:.3f}", *(f"{ms:.1f}" for ms in phases[variant])))
    for top, bottom in RUN_PAIRS:
        differences = (f"{t - b:+.1f}" for t, b in zip(phases[top], phases[bottom], strict=True))
        rows.append((f"({top}) - ({bottom})", "", *differences))
    print(table(["variant", "median s/epoch", *(f"{phase} ms" for phase in PHASES)], rows))
    for kind in ("wall", "cpu"):  # process CPU time: steadier than wall time while other processes are busy
        against_a = {variant: [turns.ratio(kind) for turns in runs[variant]] for variant in TIMED}
        ratios = {("c", "a"): against_a["c"], **{pair: between(against_a, *pair) for pair in RUN_PAIRS},
                  ("b", "a"): against_a["b"], ("a'", "a"): against_a["a'"]}
        for (top, bottom), values in ratios.items():
            target = TIME_TARGETS.get((workload.name, top, bottom)) if kind == "wall" else None
            control = " control" if top == "a'" else ""
            print(ratio_line(f"{workload.name} {kind} time ({top})/({bottom}){control}", values, target))


def parity(workload: Workload, epochs: int, log_dir: str) -> tuple[list[float], list[float]]:
    """Train losses per epoch of the hand-written loop and of the template, from the same initial weights."""
    from _lightning_runs import TrainLossRecorder, template_run

    recorder = TrainLossRecorder()
    with quiet():
        initial = template_run(workload, epochs, EpochClock(), log_dir, recorder)
        torch.manual_seed(SEED)
        hand = hand_written_run(workload, epochs, EpochClock(), net=initial)
    return hand, recorder.losses


def report_parity(workload: Workload, hand: list[float], template: list[float]) -> None:
    """Both losses per epoch and whether they agree to 5 decimals."""
    pairs = list(zip(hand, template, strict=False))  # a missing epoch shows as a MISS below
    print(table(["epoch", "(a) train loss", "(c) train/loss"],
                [(epoch, f"{a:.6f}", f"{c:.6f}") for epoch, (a, c) in enumerate(pairs)]))
    largest = max((abs(a - c) for a, c in pairs), default=float("inf"))
    agree = len(hand) == len(template) and largest < PARITY_TOLERANCE
    print(check_line(f"{workload.name} train loss parity (a) vs (c)", agree, f"max diff {largest:.1e}"))


def memory_child(workload: Workload, variant: str) -> None:
    """In a child process: train `variant` for two epochs, then print its peak resident memory."""
    with tempfile.TemporaryDirectory() as log_dir, quiet():
        runner(variant, workload, 2, log_dir)(EpochClock())
    print(f"peak_rss_mb {_common.peak_rss_mb():.1f}")


def report_memory(workload: Workload, argv: list[str]) -> None:
    """Peak memory of (a), (b) and (c), each trained in a fresh process, and (c)/(b)."""
    peaks = {}
    for variant in ("a", "b", "c"):
        child = subprocess.run([sys.executable, __file__, *argv, "--workloads", workload.name, "--memory_child",
                                variant], stdout=subprocess.PIPE, text=True, check=True)
        peaks[variant] = float(child.stdout.split()[-1])
    print(table(["variant", "peak RSS MiB"], [(f"({variant}) {VARIANTS[variant]}", f"{peak:.0f}")
                                              for variant, peak in peaks.items()]))
    print(ratio_line(f"{workload.name} peak memory (c)/(b)", [peaks["c"] / peaks["b"]], MEMORY_TARGET))


def main(argv: list[str]) -> None:
    """Run the chosen sections for each workload; print tables, ratios and PASS/MISS."""
    arguments = parse_arguments(argv)
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    settings = _common.same_settings_for_all()
    if arguments.memory_child:
        memory_child(chosen_workloads(arguments)[0], arguments.memory_child)
        return
    print(_common.machine_line(), settings, sep="\n")
    with tempfile.TemporaryDirectory() as log_dir:
        for workload in chosen_workloads(arguments):
            print(f"\n== {workload.name}: {workload.title}, batch 128")
            if "timing" not in arguments.skip:
                report_timing(workload, time_variants(workload, arguments.epochs, arguments.rounds, log_dir))
            if "parity" not in arguments.skip:
                report_parity(workload, *parity(workload, arguments.parity_epochs, log_dir))
            if "memory" not in arguments.skip:
                report_memory(workload, argv)
    print(_common.load_line())


if __name__ == "__main__":
    main(sys.argv[1:])
