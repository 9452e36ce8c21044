"""The one exception type for mistakes the user can fix."""


class UserError(Exception):
    """A wrong input: the message says what was wrong and how to fix it."""


class TrainingDiverged(Exception):
    """The loss became NaN or infinite: the run stops, keeping its checkpoints."""


class RunPruned(Exception):
    """A sweep's pruner stopped this trial's training early: not a failure, its results say so."""
