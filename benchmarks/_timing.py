"""Epoch clocks, and a run's epochs taking turns with the hand-written loop's, all in the main thread of one process.

Each epoch of a run is measured against the loop's epochs just before and after it, seconds apart, so both see the
same load from other processes; threads or processes running side by side disturbed the loop more than the
differences measured.
"""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

PHASES = ("train batches", "validation", "epoch end")


@dataclass
class EpochClock:
    """Wall and process CPU seconds of each epoch of one run, and wall seconds of each of its phases (PHASES)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    phases: list[tuple[float, float, float]] = field(default_factory=list)
    marks: list[float] = field(default_factory=list)
    cpu_start: float = 0.0

    def epoch_start(self) -> None:
        """Close the previous epoch and open the next."""
        self.end()
        self.marks, self.cpu_start = [time.perf_counter()], time.process_time()

    def validation_start(self) -> None:
        """The epoch's training batches are done."""
        self.marks.append(time.perf_counter())

    def validation_end(self) -> None:
        """The epoch's validation is done; checkpoints and epoch metrics follow."""
        self.marks.append(time.perf_counter())

    def end(self) -> None:
        """Close the open epoch, if any."""
        if self.marks:
            now = time.perf_counter()
            started, validation_start, validation_end = [*self.marks, now, now][:3]
            self.wall.append(now - started)
            self.cpu.append(time.process_time() - self.cpu_start)
            self.phases.append((validation_start - started, validation_end - validation_start, now - validation_end))
            self.marks = []

    def timed(self) -> list[float]:
        """The wall seconds of each epoch after the first, the warm-up."""
        return self.wall[1:]


class TakingTurns(EpochClock):
    """The clock of a run whose epochs take turns with `other`: one epoch of it before each of the run's and after
    the last, timed on `other_clock`."""

    def __init__(self, other: Callable[[EpochClock], object]) -> None:
        super().__init__()
        self.other, self.other_clock = other, EpochClock()

    def _other_epoch(self) -> None:
        self.other(self.other_clock)
        self.other_clock.end()

    def epoch_start(self) -> None:
        """Close the run's epoch, let the other loop train one, then open the run's next."""
        super().end()
        self._other_epoch()
        super().epoch_start()

    def end(self) -> None:
        """Close the run's last epoch and let the other loop train the one after it."""
        if self.marks:
            super().end()
            self._other_epoch()

    def ratio(self, kind: str = "wall") -> float:
        """The median over the run's timed epochs of each against the mean of the loop's epochs either side."""
        own, other = getattr(self, kind), getattr(self.other_clock, kind)
        return statistics.median(own[index] / ((other[index] + other[index + 1]) / 2) for index in range(1, len(own)))


Run = TypeVar("Run")


def run_rounds(runners: dict[str, Callable[[], Run]], rounds: int) -> dict[str, list[Run]]:
    """Run every variant once a round, rotating which goes first; what each variant's runs returned."""
    runs: dict[str, list[Run]] = {name: [] for name in runners}
    names = list(runners)
    for round_index in range(rounds):
        for offset in range(len(names)):
            name = names[(round_index + offset) % len(names)]
            runs[name].append(runners[name]())
    return runs
