"""What a run writes into its folder: its configuration at the start, its results at the end."""

from pathlib import Path
from typing import Any

from utils.config.command_line import Command
from utils.lightning_package import Trainer
from utils.runs.environment import environment_record
from utils.runs.folder import write_json, write_yaml
from utils.runs.hparams_tab import record_options
from utils.runs.results import results_table
from utils.shared_names import CONFIG_FILE, ENVIRONMENT_FILE, RESULTS_FILE
from utils.trainer.export import export_line
from utils.trainer.loggers import record_options_in_loggers
from utils.trainer.threads import ThreadCount


def record_configuration(command: Command, trainer: Trainer, run_dir: Path, threads: ThreadCount) -> None:
    """Write config.yaml and environment.yaml (with each process's torch threads), and give the run's options to the
    hparams tab and the loggers."""
    config = command.resolved_config()
    write_yaml(run_dir / CONFIG_FILE, config)
    write_yaml(run_dir / ENVIRONMENT_FILE, {**environment_record(), "threads": threads.number,
                                              "threads_from": threads.source})
    if "tensorboard" in command.settings.trainer.logger:
        record_options(run_dir, config)
    record_options_in_loggers(trainer.loggers, run_dir, config)


def partial_lines(results: dict[str, Any]) -> list[str]:
    """A line for each set that a --limit_val_batches or --limit_test_batches scored in part."""
    return [f"{stage} {label}: {scored} of {total} batches scored (of each process's share, --limit_{stage}_batches): "
            f"its numbers are those batches', not the whole set's"
            for stage, cut in results.get("partial", {}).items() for label, (scored, total) in cut.items()]


def record_results(run_dir: Path, results: dict[str, Any]) -> None:
    """Write results.json and print the results table (or why a sweep trial was pruned)."""
    write_json(run_dir / RESULTS_FILE, results)
    if "pruned" in results:
        summary = f"pruned: {results['pruned']}"
    elif "export" in results:
        summary = export_line(results["export"])
    else:
        summary = results_table(results)
    skipped = "".join(f"\n{line}" for line in [*results.get("skipped", []), *partial_lines(results)])
    print(f"\n{summary}{skipped}\n\nrun folder: {run_dir}")
