"""Time training runs epoch by epoch, all in the main thread of one process.

Each run is fresh (its own net, optimizer, loaders, Trainer) and its first epoch is the warm-up, left out.
`TakingTurns` pairs a run's epochs with the hand-written loop's: one epoch of the loop runs before each of the
run's epochs and after its last, so each epoch is measured against the loop's epochs of the same seconds.
(Running the variants side by side in threads, or in processes taking turns, was tried first: a loop in a thread
of its own came out up to 15% slower or faster than in the main thread, and in processes of their own the same
loop measured 0.96 against itself, as much as the targets allow.)
"""

import random
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar


def minor_faults() -> int:
    """Page faults this process has taken so far that needed no disk read (fresh or given-back memory)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


PHASES = ("train batches", "validation", "epoch end")


@dataclass
class EpochClock:
    """Wall and process CPU seconds, page faults and wall seconds per phase (PHASES) of each epoch of one run
    (a Clock)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)
    phases: list[tuple[float, ...]] = field(default_factory=list)
    _started: tuple[float, float, int] | None = None
    _validation: list[float] = field(default_factory=list)

    def _stop(self) -> None:
        if self._started is not None:
            now = time.perf_counter()
            self.wall.append(now - self._started[0])
            self.cpu.append(time.process_time() - self._started[1])
            self.faults.append(minor_faults() - self._started[2])
            started = self._started[0]
            validation_start, validation_end = self._validation[:2] if len(self._validation) >= 2 else (now, now)
            self.phases.append((validation_start - started, validation_end - validation_start, now - validation_end))
            self._started, self._validation = None, []

    def epoch_start(self) -> None:
        """Close the previous epoch and open the next."""
        self._stop()
        self._started = (time.perf_counter(), time.process_time(), minor_faults())

    def validation_start(self) -> None:
        """The epoch's training batches are done."""
        self._validation.append(time.perf_counter())

    def validation_end(self) -> None:
        """The epoch's validation is done."""
        self._validation.append(time.perf_counter())

    def end(self) -> None:
        """Close the last epoch."""
        self._stop()


class TakingTurns:
    """The Clock of a run whose epochs take turns with another loop's: one epoch of `other` runs before each of
    the run's epochs and after its last, timed on `other_clock`, never on the run's own `clock`."""

    def __init__(self, other: Callable[[EpochClock], object]) -> None:
        self.clock, self.other_clock, self._other = EpochClock(), EpochClock(), other

    def _other_epoch(self) -> None:
        self._other(self.other_clock)
        self.other_clock.end()

    def epoch_start(self) -> None:
        """Close the run's previous epoch, let the other loop train one, then open the run's next."""
        self.clock.end()
        self._other_epoch()
        self.clock.epoch_start()

    def validation_start(self) -> None:
        """The run's training batches are done."""
        self.clock.validation_start()

    def validation_end(self) -> None:
        """The run's validation is done."""
        self.clock.validation_end()

    def end(self) -> None:
        """Close the run's last epoch and let the other loop train the one after it."""
        self.clock.end()
        self._other_epoch()

    def ratios(self, kind: str = "wall") -> list[float]:
        """Each of the run's timed epochs against the mean of the other loop's epochs just before and after it."""
        own, other = getattr(self.clock, kind), getattr(self.other_clock, kind)
        return [own[index] / ((other[index] + other[index + 1]) / 2) for index in range(1, len(own))]

    def ratio(self, kind: str = "wall") -> float:
        """The median of `ratios`: the run's figure for its round."""
        return statistics.median(self.ratios(kind))


Run = TypeVar("Run")


def run_rounds(runners: dict[str, Callable[[], Run]], rounds: int) -> dict[str, list[Run]]:
    """Run every variant once per round, rotating which goes first; returns what each variant's runs returned."""
    runs: dict[str, list[Run]] = {name: [] for name in runners}
    names = list(runners)
    for round_index in range(rounds):
        for offset in range(len(names)):
            name = names[(round_index + offset) % len(names)]
            runs[name].append(runners[name]())
    return runs


def timed_epochs(clock: EpochClock, kind: str = "wall") -> list[float]:
    """One figure ("wall", "cpu" or "faults") of each epoch of a run after its warm-up epoch."""
    return getattr(clock, kind)[1:]


def paired_ratio(top: list[EpochClock], bottom: list[EpochClock], kind: str = "wall") -> float:
    """The median over rounds of the ratio of median epoch times: each round's runs ran back to back."""
    return statistics.median([statistics.median(timed_epochs(high, kind)) / statistics.median(timed_epochs(low, kind))
                              for high, low in zip(top, bottom, strict=True)])


def median_interval(values: list[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """A 95% bootstrap interval of the median of `values` (resampled with replacement, the same seed every run):
    how far the printed ratio could move with other rounds on a host this noisy."""
    draw = random.Random(seed)
    medians = sorted(statistics.median(draw.choices(values, k=len(values))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]
