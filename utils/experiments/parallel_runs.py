"""`--parallel N`: child runs at once, one per slot of the machine, each writing its output to its own folder, with
one table of their progress on the console."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from utils.errors import RunStopped
from utils.experiments.child_runs import exit_description, signals_forwarded, start_child
from utils.experiments.child_slots import ChildSlot, child_slots
from utils.machine import allowed_cpus, usable_cpus
from utils.shared_names import OUTPUT_FILE, RESULTS_FILE

# How often the table is printed again while nothing starts or ends.
TABLE_EVERY_S = 30.0
POLL_S = 0.5


def machine_slots(parallel: int | str, devices: object, accelerator: str) -> list[ChildSlot]:
    """The slots of `--parallel` on this machine: its GPUs when it has any, else the CPUs this process may use."""
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return child_slots(parallel, devices, accelerator, gpus, allowed_cpus()[:usable_cpus()])


def last_line(path: Path) -> str:
    """The last line a child wrote (a progress bar's latest state counts as one), cut to fit a table row."""
    try:
        with path.open("rb") as output:
            output.seek(max(0, output.seek(0, os.SEEK_END) - 4096))
            tail = output.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.replace("\r", "\n").split("\n") if line.strip()]
    return lines[-1][:90] if lines else ""


@dataclass
class SlotState:
    """What one slot is doing, for the table."""

    slot: ChildSlot
    name: str = ""
    run_dir: Path | None = None
    started: float = 0.0
    code: int | None = None
    running: bool = False

    def row(self) -> str:
        """`CPU 0  fold_1  running 0:42  Epoch 0: 50%|...` or its exit code once it ended."""
        if not self.name:
            return f"  {self.slot.describe():<12} idle"
        if self.running:
            minutes, seconds = divmod(int(time.monotonic() - self.started), 60)
            state = f"running {minutes}:{seconds:02d}"
        else:
            state = "finished" if self.code == 0 else f"failed ({exit_description(self.code)})"
        tail = last_line(self.run_dir / OUTPUT_FILE) if self.run_dir else ""
        return f"  {self.slot.describe():<12} {self.name:<10} {state:<18} {tail}"


class ParallelRuns:
    """Runs child runs at once, one per slot: each slot's thread calls `run_child` for its own runs, while the main
    thread prints the table and passes SIGTERM or SIGINT on to every child (each saves, then ends)."""

    def __init__(self, script: Path, slots: list[ChildSlot]) -> None:
        self.script, self.slots = script, slots
        self.states = {slot.number: SlotState(slot) for slot in slots}
        self.children: list[subprocess.Popen] = []
        self.lock = threading.Lock()
        self.received: list[signal.Signals] = []  # the signals passed on to the children, once `drive` runs
        self.changed = True

    def run_child(self, slot: ChildSlot, name: str, argv: list[str], run_dir: Path,
                  environment: dict[str, str] | None = None) -> int:
        """Run one child on `slot`, its output to `<run_dir>/output.log`, and return its exit code."""
        with self.lock:
            if self.received:
                raise RunStopped(f"stopped by {self.received[0].name}", 128 + self.received[0])
            run_dir.mkdir(parents=True, exist_ok=True)
            with (run_dir / OUTPUT_FILE).open("a") as output:
                child = start_child(self.script, argv, run_dir, {**(environment or {}), **slot.environment()},
                                    slot.cpus, output)
            self.children.append(child)
            if self.received:  # a signal came while it started, after the handler passed it on to the others
                child.send_signal(self.received[0])
            self.states[slot.number] = SlotState(slot, name, run_dir, time.monotonic(), None, True)
            self.changed = True
        code = child.wait()
        with self.lock:
            self.children.remove(child)
            self.states[slot.number].code, self.states[slot.number].running = code, False
            self.changed = True
        if code != 0 and (run_dir / RESULTS_FILE).is_file():  # a signal passed on as it was ending
            print(f"{name} had finished, its {RESULTS_FILE} written, when it ended ({exit_description(code)})",
                  file=sys.stderr, flush=True)
        elif code != 0:
            print(f"{name} stopped ({exit_description(code)}): {last_line(run_dir / OUTPUT_FILE)}  "
                  f"(whole output: {run_dir / OUTPUT_FILE})", file=sys.stderr, flush=True)
        return code

    def table(self) -> str:
        """Every slot's current or last run, its state and the last line it wrote."""
        with self.lock:
            running = sum(state.running for state in self.states.values())
            rows = [state.row() for state in self.states.values()]
        return "\n".join([f"parallel: {running} of {len(self.slots)} running", *rows])

    def drive(self, work: Callable[[ChildSlot], None], resume: str) -> None:
        """Run `work(slot)` in a thread per slot until every one returns; a signal stops every child and then this
        process, saying `resume`."""
        errors: list[BaseException] = []

        def guarded(slot: ChildSlot) -> None:
            try:
                work(slot)
            except (RunStopped, Exception) as error:  # raised again in the main thread below
                errors.append(error)

        threads = [threading.Thread(target=guarded, args=(slot,), daemon=True) for slot in self.slots]
        with signals_forwarded(self.children) as received:
            self.received = received
            for thread in threads:
                thread.start()
            shown = 0.0
            while any(thread.is_alive() for thread in threads):
                if self.changed or time.monotonic() - shown > TABLE_EVERY_S:
                    self.changed, shown = False, time.monotonic()
                    print(self.table(), flush=True)
                time.sleep(POLL_S)
        if received:
            raise RunStopped(f"stopped by {received[0].name}; {resume}", 128 + received[0])
        if self.changed:
            print(self.table(), flush=True)
        if errors:
            raise errors[0]
