"""The library notices a run leaves out, because the user cannot act on them; every other warning still shows."""

import logging
import re
import warnings

# Lightning ships as `pytorch_lightning` and as `lightning.pytorch`; a notice comes from either.
LIGHTNING_MODULE = r"(pytorch_lightning|lightning\.pytorch)"
# The loggers Lightning's rank_zero_info writes to (the last package imported names it).
RANK_ZERO_LOGGERS = ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero",
                     "lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")
# Lightning's own code uses a LeafSpec that torch deprecated; a later Lightning release will drop it.
LEAF_SPEC_DEPRECATION = r"`isinstance\(treespec, LeafSpec\)` is deprecated"
# The template logs the step loss by global step, whatever the epoch's length, so short epochs lose nothing.
SHORT_EPOCH_LOGGING = r"The number of training batches \(\d+\) is smaller than the logging interval"
# Written when a resumed run's checkpoint callbacks start: every run folder of the template is its own, and a
# resumed one holds the checkpoints it resumes from.
CHECKPOINTS_KEPT = r"Checkpoint directory .* exists and is not empty\."
# A confusion matrix normalised over true classes has an empty row for a class a small val or test set lacks: its
# image shows it blank.
ABSENT_CLASS_ROWS = r"\d+ NaN values found in confusion matrix have been replaced with zeros"
# Lightning's own signal handler notes a SIGTERM; its log records go to the console's stderr too.
SIGNAL_LOGGERS = ("pytorch_lightning.trainer.connectors.signal_connector",
                  "lightning.pytorch.trainer.connectors.signal_connector")
# Advertisements for Lightning's cloud services, the accelerators this machine does not have, and the SIGTERM it
# received (the template's own line says so, and how to resume).
UNWANTED_INFO = re.compile(r"💡 Tip: |\w+ available: False, |\[rank: \d+\] Received SIGTERM: ")


class UnwantedInfo(logging.Filter):
    """Drops Lightning's tips for its cloud products, its lines about accelerators that are absent, and its note of a
    SIGTERM."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but those."""
        return not UNWANTED_INFO.match(record.getMessage())


def quiet_library_notices() -> None:
    """Leave out the notices of Lightning and torch that a run's user cannot act on (once per process)."""
    warnings.filterwarnings("ignore", message=LEAF_SPEC_DEPRECATION, category=FutureWarning,
                            module=f"{LIGHTNING_MODULE}\\.utilities\\._pytree")
    warnings.filterwarnings("ignore", message=SHORT_EPOCH_LOGGING, category=UserWarning,
                            module=f"{LIGHTNING_MODULE}\\.loops\\.fit_loop")
    warnings.filterwarnings("ignore", message=CHECKPOINTS_KEPT, category=UserWarning)
    warnings.filterwarnings("ignore", message=ABSENT_CLASS_ROWS, category=UserWarning)
    for name in (*RANK_ZERO_LOGGERS, *SIGNAL_LOGGERS):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, UnwantedInfo) for existing in logger.filters):
            logger.addFilter(UnwantedInfo())
