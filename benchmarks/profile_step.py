"""Where the template's per-step time goes, against the bare LightningModule: callback dispatch, training_step,
and the train metric updates inside it. Micro-timings (best of several), so other processes' load hardly shows.

    .venv/bin/python benchmarks/profile_step.py
"""

import argparse
import copy
import os
import sys
import tempfile
import timeit
from collections.abc import Callable
from typing import Any

import _common
import pytorch_lightning as pl
import torch
from _common import quiet, table
from _lightning_runs import BareModule, bare_run, template_run
from _workloads import NoClock, mlp_workload
from pytorch_lightning.trainer import call
from pytorch_lightning.trainer.states import RunningStage, TrainerFn

from main import PreparedRun


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """Calls per timing and repeats."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000, help="calls per timing")
    parser.add_argument("--repeat", type=int, default=5, help="timings, the best kept")
    return parser.parse_args(argv)


def best_seconds(function: Callable[[], Any], number: int, repeat: int) -> float:
    """Seconds per call, the best of `repeat` timings of `number` calls."""
    with quiet():
        return min(timeit.repeat(function, number=number, repeat=repeat)) / number


def fitted_runs(log_dir: str) -> tuple[PreparedRun, pl.Trainer, BareModule]:
    """A template run and a bare run of StandardNet, each fitted for one epoch so their trainers hold real state."""
    workload, found = mlp_workload(2000), {}
    fit = pl.Trainer.fit

    def keep(trainer: pl.Trainer, model: pl.LightningModule, *arguments: Any, **keywords: Any) -> Any:
        found["trainer"], found["model"] = trainer, model
        return fit(trainer, model, *arguments, **keywords)

    with quiet():
        template_run(workload, 1, NoClock(), log_dir, lambda run: found.setdefault("template", run))
        pl.Trainer.fit = keep
        try:
            bare_run(workload, 1, NoClock(), log_dir)
        finally:
            pl.Trainer.fit = fit
    return found["template"], found["trainer"], found["model"]


def step_hooks(trainer: pl.Trainer, batch: Any) -> Callable[[], None]:
    """A function that dispatches the six callback hooks Lightning calls on every training step."""
    optimizer, loss = trainer.optimizers[0], torch.tensor(1.0)
    hooks = [("on_train_batch_start", (batch, 0)), ("on_before_zero_grad", (optimizer,)),
             ("on_before_backward", (loss,)), ("on_after_backward", ()), ("on_before_optimizer_step", (optimizer,)),
             ("on_train_batch_end", ({"loss": loss}, batch, 0))]
    trainer.state.fn, trainer.state.stage = TrainerFn.FITTING, RunningStage.TRAINING

    def dispatch() -> None:
        for name, arguments in hooks:
            call._call_callback_hooks(trainer, name, *arguments)
    return dispatch


def callback_costs(trainer: pl.Trainer, batch: Any, number: int, repeat: int) -> list[tuple[str, float]]:
    """Microseconds per step of dispatching the step hooks to each callback alone."""
    every = list(trainer.callbacks)
    costs = []
    for callback in every[1:]:  # the first is the benchmark's clock
        trainer.callbacks[:] = [callback]
        costs.append((type(callback).__name__, 1e6 * best_seconds(step_hooks(trainer, batch), number, repeat)))
    trainer.callbacks[:] = []
    costs.append(("(no callback: Lightning's dispatch alone)", 1e6 * best_seconds(step_hooks(trainer, batch), number,
                                                                                 repeat)))
    trainer.callbacks[:] = every
    return costs


def metric_updates(run: PreparedRun, batch: Any) -> Callable[[], None]:
    """A function doing what the template's training step does to its train metrics."""
    model, metrics = run.model, run.model.train_metrics
    with torch.no_grad():
        outputs = model(batch[0])
    loss, targets = model.loss_function(outputs, batch[1]), batch[1]

    def update() -> None:
        metrics.update(loss, outputs, targets)
    return update


def adam_step_costs(net: torch.nn.Module, batch: Any, number: int, repeat: int) -> list[tuple[str, float]]:
    """Microseconds of one Adam step on the net with torch's per-step NVML query on (as importing Lightning sets
    it) and off (the template's setting on a machine without a GPU)."""
    from utils.cuda_probe import NVML_CHECK

    net = copy.deepcopy(net)
    optimizer = torch.optim.Adam(net.parameters())
    torch.nn.functional.cross_entropy(net(batch[0]), batch[1]).backward()
    before, costs = os.environ.get(NVML_CHECK), []
    try:
        for value, name in (("1", "on, as Lightning sets it"), ("0", "off, as the template sets it without a GPU")):
            os.environ[NVML_CHECK] = value
            costs.append((f"Adam step, NVML query {name}", 1e6 * best_seconds(optimizer.step, number, repeat)))
    finally:
        if before is None:
            os.environ.pop(NVML_CHECK, None)
        else:
            os.environ[NVML_CHECK] = before
    return costs


def main(argv: list[str]) -> None:
    """Print each part's microseconds per training step, the template's beside the bare module's."""
    arguments = parse_arguments(argv)
    torch.set_num_threads(1)  # the step of a tiny MLP gains nothing from a second thread
    print(_common.machine_line())
    with tempfile.TemporaryDirectory() as log_dir:
        run, bare_trainer, bare_model = fitted_runs(log_dir)
        batch = next(iter(run.datamodule.train_dataloader()))
        timing = (arguments.number, arguments.repeat)
        run.model.train()
        bare_model.train()
        rows = [("training_step, template (forward, loss, metrics, checks)",
                 1e6 * best_seconds(lambda: run.model.training_step(batch, 0), *timing)),
                ("training_step, bare (forward, loss)", 1e6 * best_seconds(lambda: bare_model.training_step(batch, 0),
                                                                           *timing)),
                ("  of the template's: the train metrics update (loss, accuracy, f1)",
                 1e6 * best_seconds(metric_updates(run, batch), *timing)),
                ("6 step hooks, template's callbacks (its no-cost profiler)",
                 1e6 * best_seconds(step_hooks(run.trainer, batch), *timing)),
                ("6 step hooks, bare's callbacks", 1e6 * best_seconds(step_hooks(bare_trainer, batch), *timing))]
        rows += [(f"  one callback alone: {name}", cost) for name, cost in callback_costs(run.trainer, batch, *timing)]
        rows += adam_step_costs(bare_model.net, batch, *timing)
    print(table(["part of a training step (StandardNet, batch 128, 1 thread)", "us/step"],
                [(name, f"{cost:.0f}") for name, cost in rows]))
    print(_common.load_line())


if __name__ == "__main__":
    main(sys.argv[1:])
