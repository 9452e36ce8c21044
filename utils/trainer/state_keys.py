"""Lightning's checkpoint and early-stopping callbacks under their own state keys, made once per monitor: Lightning
reads a callback's state key at every hook call, and theirs is a formatted dict of their arguments."""

from typing import Any

from utils.lightning_package import EarlyStopping


class LightningStateKey:
    """For a subclass of ModelCheckpoint or EarlyStopping: the parent's `state_key`, so checkpoints written by either
    class load their state into the other, made again only when the monitor or mode it names changes (an own
    module's monitor is chosen at its first validation)."""

    lightning_class: type
    monitor: Any
    mode: str
    key_made_for: tuple[Any, str] | None = None  # the monitor and mode `key` was made for
    key = ""

    @property
    def state_key(self) -> str:
        """The Lightning class's key for this monitor and mode."""
        made_for = (self.monitor, self.mode)
        if self.key_made_for != made_for:  # read at every hook call: no function called when nothing changed
            self.key_made_for = made_for
            self.key = super().state_key.replace(type(self).__qualname__, self.lightning_class.__qualname__, 1)
        return self.key


class KeyedEarlyStopping(LightningStateKey, EarlyStopping):
    """Lightning's EarlyStopping, its state key made once per monitor."""

    lightning_class = EarlyStopping
