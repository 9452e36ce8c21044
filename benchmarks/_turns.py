"""Interleave whole training runs epoch by epoch: each runs in its own thread and waits for its turn at every epoch.

Only one thread runs at any time (the others wait on an event), so the runs never compete for the CPU, yet each
keeps its own Trainer, optimizer and loaders across epochs, so the first epoch is the only warm-up each one needs.
"""

import threading
import time
from collections.abc import Callable


class TurnTaker:
    """One training run in its own thread; a Clock that pauses at every epoch start and times every epoch."""

    def __init__(self, name: str, target: Callable[["TurnTaker"], None]) -> None:
        self.name = name
        self.durations: list[float] = []
        self.done = False
        self.error: BaseException | None = None
        self._go, self._paused = threading.Event(), threading.Event()
        self._started_at: float | None = None
        self._thread = threading.Thread(target=self._main, args=(target,), name=name, daemon=True)

    def _stop_clock(self) -> None:
        if self._started_at is not None:
            self.durations.append(time.perf_counter() - self._started_at)
            self._started_at = None

    def epoch_start(self) -> None:
        """Close the previous epoch's time, hand the CPU back, and start timing when the next turn comes."""
        self._stop_clock()
        self._paused.set()
        self._go.wait()
        self._go.clear()
        self._started_at = time.perf_counter()

    def end(self) -> None:
        """Close the last epoch's time."""
        self._stop_clock()

    def _main(self, target: Callable[["TurnTaker"], None]) -> None:
        self._go.wait()
        self._go.clear()
        try:
            target(self)
        except BaseException as error:  # handed to the main thread, which raises it
            self.error = error
        finally:
            self.done = True
            self._paused.set()

    def start(self) -> None:
        """Start the thread; it waits for its first turn."""
        self._thread.start()

    def take_turn(self) -> None:
        """Let the run go on until its next epoch start (or its end), and wait for that."""
        self._paused.clear()
        self._go.set()
        self._paused.wait()
        if self.error is not None:
            raise RuntimeError(f"the {self.name} run failed") from self.error


def run_in_turns(takers: list[TurnTaker]) -> None:
    """Run every taker to its end, one epoch each in turn, rotating who goes first in each round."""
    for taker in takers:
        taker.start()
    turn = 0
    while not all(taker.done for taker in takers):
        for offset in range(len(takers)):
            taker = takers[(turn + offset) % len(takers)]
            if not taker.done:
                taker.take_turn()
        turn += 1
