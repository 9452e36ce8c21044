"""Time whole training runs epoch by epoch, the variants taking turns run by run, all in the main thread.

Each run is fresh (its own net, optimizer, loaders, Trainer) and its first epoch is the warm-up, left out.
(Running the variants side by side in threads, one epoch each in turn, was tried first: a run in a thread of
its own came out up to 15% slower or faster than the same run in the main thread, as much as the targets.)
"""

import random
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


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


def run_rounds(runners: dict[str, Callable[[EpochClock], None]], rounds: int) -> dict[str, list[EpochClock]]:
    """Run every variant once per round, rotating which goes first; returns each variant's clock per round."""
    clocks: dict[str, list[EpochClock]] = {name: [] for name in runners}
    names = list(runners)
    for round_index in range(rounds):
        for offset in range(len(names)):
            name = names[(round_index + offset) % len(names)]
            clock = EpochClock()
            runners[name](clock)
            clocks[name].append(clock)
    return clocks


def timed_epochs(clock: EpochClock, kind: str = "wall") -> list[float]:
    """One figure ("wall", "cpu" or "faults") of each epoch of a run after its warm-up epoch."""
    return getattr(clock, kind)[1:]


def round_ratios(top: list[EpochClock], bottom: list[EpochClock], kind: str = "wall") -> list[float]:
    """Each round's ratio of median epoch times: the two runs of a round ran back to back."""
    return [statistics.median(timed_epochs(high, kind)) / statistics.median(timed_epochs(low, kind))
            for high, low in zip(top, bottom, strict=True)]


def paired_ratio(top: list[EpochClock], bottom: list[EpochClock], kind: str = "wall") -> float:
    """The median over rounds of the ratio of median epoch times."""
    return statistics.median(round_ratios(top, bottom, kind))


def median_interval(values: list[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """A 95% bootstrap interval of the median of `values` (resampled with replacement, the same seed every run):
    how far the printed ratio could move with other rounds on a host this noisy."""
    draw = random.Random(seed)
    medians = sorted(statistics.median(draw.choices(values, k=len(values))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]
