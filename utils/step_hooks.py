"""Per-batch hooks a class leaves to its Lightning base, switched off so Lightning does not call them at all."""

from typing import TypeVar

from pytorch_lightning import Callback, LightningModule

# The hooks Lightning calls on every training batch (LightningModule and Callback share these names).
TRAINING_BATCH_HOOKS = ("on_train_batch_start", "on_train_batch_end", "on_before_backward", "on_after_backward",
                        "on_before_optimizer_step", "on_before_zero_grad")
# And on every evaluation batch: only a callback's can be None, as Lightning reads a module's signatures of these.
EVALUATION_BATCH_HOOKS = ("on_validation_batch_start", "on_validation_batch_end", "on_test_batch_start",
                          "on_test_batch_end", "on_predict_batch_start", "on_predict_batch_end")

Hooked = TypeVar("Hooked", bound=type)


def skip_unused_batch_hooks(cls: Hooked) -> Hooked:
    """Class decorator: set to None each per-batch hook that `cls` inherits unchanged from Callback or
    LightningModule (a module's training hooks only).

    Lightning calls a callback's or a module's hook only if it is callable (`trainer/call.py`), so a None hook
    costs one attribute lookup, where the inherited empty hook costs a profiler context, a name built for it and
    a call: 1 to 2 us each, five to seven per batch for every callback and the module.
    """
    module = issubclass(cls, LightningModule)
    base = LightningModule if module else Callback
    for name in TRAINING_BATCH_HOOKS if module else TRAINING_BATCH_HOOKS + EVALUATION_BATCH_HOOKS:
        if getattr(cls, name) is getattr(base, name):
            setattr(cls, name, None)
    return cls
