"""The commands that drive several runs: a sweep's worker, or a whole cross-validation."""

from utils.config.command_line import Command
from utils.experiments.child_runs import MainEntry
from utils.experiments.cross_validation import run_cross_validation


def run_several(command: Command, entry: MainEntry) -> int:
    """Run the sweep or the cross-validation the command asks for and return the exit code."""
    if command.options["sweep"]:
        # Imported here: a cross-validation runs without Optuna, which only a sweep needs.
        from utils.experiments.sweeps import run_sweep

        return run_sweep(command, entry)
    return run_cross_validation(command, entry)
