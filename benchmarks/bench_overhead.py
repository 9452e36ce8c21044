"""Template overhead, side by side in one process: (a) a hand-written PyTorch loop taking turns epoch by epoch
with each of (b) a bare LightningModule, (c) the template, and (a') the same loop again, a control of the host's
noise. Per-epoch time, peak memory, parity of the training loss, and the cost of several val sets.

    .venv/bin/python benchmarks/bench_overhead.py
"""

import argparse
import copy
import subprocess
import sys
import tempfile
from collections.abc import Callable

import _common
import torch
from _common import median, quiet, ratio_line, table
from _rounds import PHASES, EpochClock, TakingTurns, median_interval, run_rounds, timed_epochs
from _workloads import HandWrittenLoop, NoClock, Workload, hand_written_run, mlp_workload, mnist_workload

VARIANTS = {"a": "hand-written loop", "b": "bare LightningModule", "c": "template"}
# The hand-written loop taking turns with a second copy of itself: what it measures against (a) is this host's noise.
CONTROL = "a'"
# The variants that run whole, each taking turns epoch by epoch with the hand-written loop (a).
TIMED = ("b", "c", CONTROL)
# Targets: (numerator, denominator, at most) per workload, and the memory allowance of (c) over (b).
TIME_TARGETS = {"mnist": ("c", "a", 1.05), "mlp": ("c", "b", 1.10)}
MEMORY_TARGET = 1.10
SCALING_TARGET = 1.05
PARITY_TOLERANCE = 5e-6  # equal to 5 decimal places


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """The sizes and repetitions; the defaults take a few minutes on 2 CPU cores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", choices=("mnist", "mlp"), default=["mnist", "mlp"])
    parser.add_argument("--train_items", type=int, default=4096, help="MNIST train items per epoch")
    parser.add_argument("--val_items", type=int, default=1024, help="items of each MNIST val set (clean, noisy)")
    parser.add_argument("--mlp_items", type=int, default=50000, help="StandardData points (10%% held out for val)")
    parser.add_argument("--epochs", type=int, default=4, help="timed epochs per run, after its warm-up epoch")
    parser.add_argument("--rounds", type=int, default=8, help="runs per variant, the variants alternating")
    parser.add_argument("--parity_epochs", type=int, default=2)
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 2, 4, 8], help="val set copies K to scale over")
    parser.add_argument("--scaling_reps", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's own choice)")
    parser.add_argument("--skip", nargs="+", default=[], choices=("timing", "memory", "parity", "scaling"))
    parser.add_argument("--memory_child", choices=tuple(VARIANTS), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def chosen_workloads(arguments: argparse.Namespace) -> list[Workload]:
    """The workloads asked for, at the sizes asked for."""
    built = {"mnist": lambda: mnist_workload(arguments.train_items, arguments.val_items),
             "mlp": lambda: mlp_workload(arguments.mlp_items)}
    return [built[name]() for name in arguments.workloads]


def variant_runner(variant: str, workload: Workload, epochs: int, log_dir: str) -> Callable[..., None]:
    """A function of a Clock that trains `variant` for `epochs` epochs (Lightning is imported only for (b), (c))."""
    if variant in ("a", CONTROL):
        return lambda clock: hand_written_run(workload, epochs, clock)
    from _lightning_runs import bare_run, template_run

    run = bare_run if variant == "b" else template_run
    return lambda clock: run(workload, epochs, clock, log_dir)


def time_variants(workload: Workload, epochs: int, rounds: int, log_dir: str) -> dict[str, list[TakingTurns]]:
    """One run of (b), (c) and the control per round, each taking turns epoch by epoch with a hand-written loop."""

    def taking_turns(variant: str) -> Callable[[], TakingTurns]:
        run = variant_runner(variant, workload, epochs + 1, log_dir)

        def turns() -> TakingTurns:
            clock = TakingTurns(HandWrittenLoop(workload).epoch)
            run(clock)
            return clock

        return turns

    with quiet():
        return run_rounds({variant: taking_turns(variant) for variant in TIMED}, rounds)


def hand_clocks(runs: dict[str, list[TakingTurns]]) -> list[EpochClock]:
    """The clocks of (a): the hand-written loop's epochs in every run, whichever variant it took turns with."""
    return [turns.other_clock for variant_runs in runs.values() for turns in variant_runs]


def own_clocks(runs: dict[str, list[TakingTurns]]) -> dict[str, list[EpochClock]]:
    """Each variant's clocks, (a) included."""
    return {"a": hand_clocks(runs), **{variant: [turns.clock for turns in runs[variant]] for variant in TIMED}}


def ratios_by_round(runs: dict[str, list[TakingTurns]], kind: str = "wall") -> dict[tuple[str, str], list[float]]:
    """Each round's figure of each ratio: against (a) from the runs' turns, (c)/(b) from the two against (a)."""
    against_a = {variant: [turns.ratio(kind) for turns in runs[variant]] for variant in TIMED}
    against_b = [c / b for c, b in zip(against_a["c"], against_a["b"], strict=True)]
    return {("c", "a"): against_a["c"], ("c", "b"): against_b, ("b", "a"): against_a["b"],
            (CONTROL, "a"): against_a[CONTROL]}


def report_timing(workload: Workload, runs: dict[str, list[TakingTurns]]) -> None:
    """The per-epoch table and the ratios, wall time against the targets and CPU time beside them."""
    clocks = own_clocks(runs)
    wall_ratios, cpu_ratios = ratios_by_round(runs), ratios_by_round(runs, "cpu")
    rows = []
    for variant, name in (*VARIANTS.items(), (CONTROL, "hand-written loop again (control)")):
        wall = [seconds for clock in clocks[variant] for seconds in timed_epochs(clock)]
        cpu = [seconds for clock in clocks[variant] for seconds in timed_epochs(clock, "cpu")]
        faults = [count for clock in clocks[variant] for count in timed_epochs(clock, "faults")]
        versus_a = f"{median(wall_ratios[variant, 'a']):.3f}" if variant != "a" else "1.000"
        versus_b = {"b": "1.000", "c": f"{median(wall_ratios['c', 'b']):.3f}"}.get(variant, "")
        rows.append((f"({variant}) {name}", f"{median(wall):.4f}", f"{min(wall):.4f}", f"{median(cpu):.4f}",
                     f"{median(faults):.0f}", versus_a, versus_b))
    print(table(["variant", "median wall s/epoch", "min wall s", "median cpu s", "page faults/epoch", "/(a)", "/(b)"],
                rows))
    report_phases(clocks)
    numerator, denominator, target = TIME_TARGETS[workload.name]
    for top, bottom in (("c", "a"), ("c", "b"), ("b", "a")):
        goal = target if (top, bottom) == (numerator, denominator) else None
        wall = wall_ratios[top, bottom]
        print(ratio_line(f"{workload.name} epoch wall time ({top})/({bottom})", median(wall), goal,
                         interval=median_interval(wall)))
        print(ratio_line(f"{workload.name} epoch cpu time ({top})/({bottom})", median(cpu_ratios[top, bottom]), None))
    same = wall_ratios[CONTROL, "a"]
    print(ratio_line(f"{workload.name} control: ({CONTROL})/(a), the loop against itself", median(same),
                     None, interval=median_interval(same)))


def phase_medians(clocks: list[EpochClock]) -> list[float]:
    """Median wall milliseconds of each phase (PHASES) over a variant's timed epochs."""
    epochs = [epoch for clock in clocks for epoch in timed_epochs(clock, "phases")]
    return [1000 * median([epoch[index] for epoch in epochs]) for index in range(len(PHASES))]


def report_phases(clocks: dict[str, list[EpochClock]]) -> None:
    """Where an epoch's time goes, per variant, and what the template adds to bare Lightning in each part."""
    medians = {variant: phase_medians(clocks[variant]) for variant in VARIANTS}
    rows = [(f"({variant}) {name}", *(f"{value:.1f}" for value in medians[variant]))
            for variant, name in VARIANTS.items()]
    extra = [top - bottom for top, bottom in zip(medians["c"], medians["b"], strict=True)]
    rows.append(("(c) - (b)", *(f"{value:+.1f}" for value in extra)))
    print(table(["median ms per epoch", *PHASES], rows))


def memory_child(workload: Workload, variant: str) -> None:
    """In a child process: train `variant` for a warm-up and one more epoch, then print its RSS figures."""
    with tempfile.TemporaryDirectory() as log_dir, quiet():
        runner = variant_runner(variant, workload, 2, log_dir)
        imported = _common.rss_mb()
        runner(NoClock())
    print(f"rss_after_imports_mb {imported:.1f} peak_rss_mb {_common.peak_rss_mb():.1f}")


def measure_memory(workload: Workload, argv: list[str]) -> dict[str, tuple[float, float]]:
    """(RSS after imports, peak RSS) of each variant, each in its own child process (side by side: none is timed)."""
    children = {variant: subprocess.Popen([sys.executable, __file__, *argv, "--workloads", workload.name,
                                           "--memory_child", variant], stdout=subprocess.PIPE, text=True)
                for variant in VARIANTS}
    figures = {}
    for variant, child in children.items():
        output, _ = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"the memory child of ({variant}) exited with {child.returncode}")
        words = output.split()
        figures[variant] = (float(words[-3]), float(words[-1]))
    return figures


def report_memory(workload: Workload, figures: dict[str, tuple[float, float]]) -> None:
    """Peak RSS per variant and the (c)/(b) ratio."""
    rows = [(f"({variant}) {VARIANTS[variant]}", f"{imported:.0f}", f"{peak:.0f}", f"{peak - imported:.0f}")
            for variant, (imported, peak) in figures.items()]
    print(table(["variant", "RSS after imports MiB", "peak RSS MiB", "peak - imports MiB"], rows))
    ratio = figures["c"][1] / figures["b"][1]
    print(ratio_line(f"{workload.name} peak memory (c)/(b)", ratio, MEMORY_TARGET))


def parity(workload: Workload, epochs: int, log_dir: str) -> tuple[list[float], list[float]]:
    """Train losses per epoch of the hand-written loop and of the template, from the same initial weights."""
    from _lightning_runs import TrainLossRecorder

    from main import prepare_run

    with quiet():
        run = prepare_run(workload.template_argv(log_dir, epochs))
        torch.manual_seed(workload.seed)
        hand = hand_written_run(workload, epochs, NoClock(), net=copy.deepcopy(run.model.net))
        recorder = TrainLossRecorder(workload.seed)
        run.trainer.callbacks.insert(0, recorder)
        run.trainer.fit(run.model, datamodule=run.datamodule)
    return hand, recorder.losses


def report_parity(workload: Workload, hand: list[float], template: list[float]) -> None:
    """Both losses per epoch and whether they agree to 5 decimals."""
    pairs = list(zip(hand, template, strict=False))  # a missing epoch shows as a MISS below
    rows = [(epoch, f"{a:.6f}", f"{c:.6f}", f"{abs(a - c):.1e}") for epoch, (a, c) in enumerate(pairs)]
    print(table(["epoch", "(a) train loss", "(c) train/loss", "|difference|"], rows))
    largest = max((abs(a - c) for a, c in pairs), default=float("inf"))
    agree = len(hand) == len(template) and largest < PARITY_TOLERANCE
    print(_common.check_line(f"{workload.name} train loss parity (a) vs (c)", agree, f"max diff {largest:.1e}"))


def scaling(workload: Workload, copies: list[int], reps: int, log_dir: str) -> dict[int, list[float]]:
    """Seconds of each validation over K copies of the same val set, per K, the K taking turns each rep."""
    from _lightning_runs import ValidationTimer

    from main import prepare_run

    name = "example_eval_data" if workload.name == "mnist" else "standard_data"
    runs, timers = {}, {}
    with quiet():
        for count in copies:
            entries = [f"copy{index}={name}" for index in range(count)]
            runs[count] = prepare_run([*workload.template_argv(log_dir, 1), "--val_datasets", *entries])
            timers[count] = ValidationTimer()
            runs[count].trainer.callbacks.insert(0, timers[count])
        for _ in range(reps + 1):  # the first round is the warm-up
            for count in copies:
                runs[count].trainer.validate(runs[count].model, datamodule=runs[count].datamodule, verbose=False)
    return {count: timer.durations[1:] for count, timer in timers.items()}


def report_scaling(workload: Workload, seconds: dict[int, list[float]]) -> None:
    """time(K) / (K * time(1)) for each K: the median over reps of each rep's own ratio."""
    one = min(seconds)
    ratios = {count: median([value * one / (count * base) for value, base in zip(values, seconds[one], strict=True)])
              for count, values in seconds.items()}
    print(table(["copies K", "median s/validation", "time(K)/(K*time(1))"],
                [(count, f"{median(values):.4f}", f"{ratios[count]:.3f}") for count, values in seconds.items()]))
    for count, ratio in ratios.items():
        if count != one:
            print(ratio_line(f"{workload.name} validation time({count})/({count}*time(1))", ratio, SCALING_TARGET))


def main(argv: list[str]) -> None:
    """Run the chosen sections for each workload and print tables, ratios and PASS/MISS."""
    arguments = parse_arguments(argv)
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    if arguments.memory_child:
        _common.same_malloc_settings_for_all("the memory child")
        memory_child(chosen_workloads(arguments)[0], arguments.memory_child)
        return
    print(_common.machine_line())
    print(same_gpu_query_for_every_variant())
    print(_common.same_malloc_settings_for_all("all three variants"))
    with tempfile.TemporaryDirectory() as log_dir:
        for workload in chosen_workloads(arguments):
            print(f"\n== {workload.name}: {workload.model_name}, {workload.sizes}, batch {workload.batch_size}")
            if "timing" not in arguments.skip:
                report_timing(workload, time_variants(workload, arguments.epochs, arguments.rounds, log_dir))
            if "parity" not in arguments.skip:
                report_parity(workload, *parity(workload, arguments.parity_epochs, log_dir))
            if "scaling" not in arguments.skip:
                report_scaling(workload, scaling(workload, arguments.copies, arguments.scaling_reps, log_dir))
            if "memory" not in arguments.skip:
                report_memory(workload, measure_memory(workload, size_arguments(arguments)))
    print(_common.load_line())


def same_gpu_query_for_every_variant() -> str:
    """Import Lightning and apply the template's NVML switch before any variant runs, so all three run alike.

    Importing Lightning makes torch query NVML on every optimizer step; the template turns that off on machines
    without a GPU. In one process the switch, once made, holds for every variant, so it is made up front.
    """
    import pytorch_lightning  # noqa: F401  (its import turns the per-step query on)

    from utils.cuda_probe import stop_probing_for_absent_gpus

    if stop_probing_for_absent_gpus():
        return "per-step NVML query: off for all three variants (no GPU; profile_step.py shows what it costs)"
    return "per-step NVML query: as Lightning sets it, for all three variants"


def size_arguments(arguments: argparse.Namespace) -> list[str]:
    """The size options, handed on to the memory children."""
    return ["--train_items", str(arguments.train_items), "--val_items", str(arguments.val_items),
            "--mlp_items", str(arguments.mlp_items)]


if __name__ == "__main__":
    main(sys.argv[1:])
