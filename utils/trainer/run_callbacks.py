"""The template's own callbacks as one: Lightning calls every hook of every callback at every step, so the run's
records, checks and images share a single callback, which hands each hook to those of them that define it."""

from collections.abc import Callable, Sequence
from typing import Any

from utils.lightning_package import (
    Callback,
    DeviceStatsMonitor,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    TQDMProgressBar,
    Trainer,
)

# Lightning's own callbacks stay callbacks of their own: the Trainer finds them by type, and they keep state.
LIGHTNING_OWN = (TQDMProgressBar, ModelCheckpoint, EarlyStopping, LearningRateMonitor, DeviceStatsMonitor)
HOOKS = tuple(name for name, value in vars(Callback).items()
              if callable(value) and (name.startswith("on_") or name in ("setup", "teardown")))


def defines(callback: Callback, hook: str) -> bool:
    """Whether `callback`'s class does something at `hook` (Lightning's Callback does nothing at any)."""
    return getattr(type(callback), hook) is not getattr(Callback, hook)


def stays_separate(callback: Callback) -> bool:
    """Whether `callback` is one of Lightning's own, keeps a state of its own in checkpoints, or reduces across
    processes (it keeps its place before the progress bar, which syncs the logged metrics on rank 0 alone)."""
    return (isinstance(callback, LIGHTNING_OWN) or defines(callback, "state_dict")
            or getattr(callback, "reduces_across_processes", False))


class RunCallbacks(Callback):
    """The template's callbacks, in their order, called by Lightning as one callback."""

    def __init__(self, parts: Sequence[Callback]) -> None:
        self.parts = list(parts)
        self.defining = {hook: [part for part in self.parts if defines(part, hook)] for hook in HOOKS}


def handing_on(hook: str) -> Callable[..., None]:
    """RunCallbacks' method for `hook`: the parts that define it, in their order."""

    def hand_on(self: RunCallbacks, *arguments: Any, **keywords: Any) -> None:
        for part in self.defining[hook]:
            getattr(part, hook)(*arguments, **keywords)

    hand_on.__name__ = hand_on.__qualname__ = hook
    hand_on.__doc__ = f"Call `{hook}` of each part that defines it."
    return hand_on


for _hook in HOOKS:
    setattr(RunCallbacks, _hook, handing_on(_hook))


def as_one_callback(callbacks: Sequence[Callback]) -> list[Callback]:
    """Lightning's own callbacks as they are, and the template's own as one RunCallbacks after the progress bar."""
    separate = [callback for callback in callbacks if stays_separate(callback)]
    parts = [callback for callback in callbacks if not stays_separate(callback)]
    if not parts:
        return separate
    bars = [index for index, callback in enumerate(separate) if isinstance(callback, TQDMProgressBar)]
    at = bars[-1] + 1 if bars else 0
    return [*separate[:at], RunCallbacks(parts), *separate[at:]]


def template_callbacks(trainer: Trainer) -> list[Callback]:
    """The Trainer's callbacks with RunCallbacks' parts in its place, as the template built them."""
    return [part for callback in trainer.callbacks
            for part in (callback.parts if isinstance(callback, RunCallbacks) else [callback])]
