"""Which hooks a LightningModule of the user's defines, beyond what Lightning's own classes give every module."""

# Where LightningModule and its hooks' placeholders live, in either package.
LIGHTNING_CORE = ("pytorch_lightning.core.", "lightning.pytorch.core.")


def defines_hook(cls: type, name: str) -> bool:
    """Whether some class of a LightningModule's bases other than Lightning's core defines `name` (a module of
    Lightning's demos, such as BoringModel, counts)."""
    return any(name in vars(base) for base in cls.__mro__ if not base.__module__.startswith(LIGHTNING_CORE))
