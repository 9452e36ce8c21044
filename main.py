"""Train, validate, test or predict: `python main.py --model_name standard_net --dataset standard_data`."""

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.cli import Command, parse_command_line
from utils.errors import TrainingDiverged, UserError
from utils.run_folder import check_experiment_name, claim_run_folder, write_json, write_yaml

OPTIMIZATION_KEYS = ("optimizer", "lr", "momentum", "nesterov", "weight_decay", "betas", "scheduler", "warmup_steps",
                     "step_size", "milestones", "gamma", "t_0", "t_mult", "min_lr", "plateau_patience",
                     "plateau_factor", "monitor", "monitor_mode")


def build_model(command: Command) -> Any:
    """A fresh MInterface for fit, or the one stored in --ckpt for the other modes."""
    from model.model_interface import MInterface
    from utils.checkpoints import load_model
    from utils.signature_options import constructor_parameters

    options = command.options
    val_labels = [entry.label for entry in command.val_entries]
    test_labels = [entry.label for entry in command.test_entries]
    if options["mode"] != "fit":
        return load_model(options["ckpt"], val_labels, test_labels)
    model_kwargs = {}
    for parameter in constructor_parameters(command.model_class):
        if options.get(parameter.name) is not None:
            model_kwargs[parameter.name] = options[parameter.name]
    return MInterface(options["model_name"], model_kwargs, val_labels, test_labels, task=options["task"],
                      num_classes=options["num_classes"], loss=options["loss"],
                      label_smoothing=options["label_smoothing"],
                      optimization={key: options[key] for key in OPTIMIZATION_KEYS})


def run_mode(trainer: Any, model: Any, datamodule: Any, command: Command, run_dir: Path) -> dict[str, Any]:
    """Run the chosen mode and return what results.json records."""
    import torch

    from utils.checkpoints import stored_validation
    from utils.results import per_dataset

    options = command.options
    val_labels = [entry.label for entry in command.val_entries]
    test_labels = [entry.label for entry in command.test_entries]
    results: dict[str, Any] = {"mode": options["mode"], "run_dir": str(run_dir)}
    if options["mode"] == "fit":
        trainer.fit(model, datamodule=datamodule, ckpt_path=command.resume_checkpoint)
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        # Read from the file, not from this process: with ddp_spawn the training ran in other processes.
        best_step, val_metrics = stored_validation(best) if best else (None, dict(trainer.callback_metrics))
        results.update(monitor=options["monitor"], best_checkpoint=best, best_step=best_step,
                       epochs_trained=trainer.current_epoch, val=per_dataset(val_metrics, "val", val_labels))
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None, verbose=False)
        results["test"] = per_dataset(trainer.callback_metrics, "test", test_labels)
    elif options["mode"] == "validate":
        trainer.validate(model, datamodule=datamodule, verbose=False)
        results.update(checkpoint=options["ckpt"], val=per_dataset(trainer.callback_metrics, "val", val_labels))
    elif options["mode"] == "test":
        trainer.test(model, datamodule=datamodule, verbose=False)
        results.update(checkpoint=options["ckpt"], test=per_dataset(trainer.callback_metrics, "test", test_labels))
    else:
        batches = trainer.predict(model, datamodule=datamodule)
        batches = [batches] if len(test_labels) == 1 else batches
        outputs = {label: torch.cat(per_set) for label, per_set in zip(test_labels, batches, strict=True)}
        torch.save(outputs, run_dir / "predictions.pt")
        results.update(checkpoint=options["ckpt"], predictions=str(run_dir / "predictions.pt"),
                       predicted_items={label: len(values) for label, values in outputs.items()})
    return results


@dataclass
class PreparedRun:
    """Everything a run needs, checked and built: the parsed command, data, model, run folder and Trainer."""

    command: Command
    datamodule: Any
    model: Any
    run_dir: Path
    trainer: Any


def prepare_run(argv: list[str]) -> PreparedRun:
    """Parse and check everything, build the data and the model, push a batch through, then claim the run folder."""
    command = parse_command_line(argv)
    options = command.options
    check_experiment_name(command.experiment)
    from utils.checks import check_options, check_val_check_interval

    check_options(options, [entry.label for entry in command.val_entries])
    if command.resume_dir and options["mode"] != "fit":
        raise UserError(f"--resume continues training: drop --mode {options['mode']} (or use --ckpt without --resume)")

    import pytorch_lightning as pl

    from data.data_interface import DInterface
    from utils.preflight import preflight
    from utils.trainer_factory import build_trainer

    pl.seed_everything(options["seed"], workers=True, verbose=False)
    datamodule = DInterface(command.train_entry, command.val_entries, command.test_entries,
                            command.dataset_classes, options)
    model = build_model(command)
    stage_sets = {"fit": {"train": datamodule.train_set, **datamodule.val_sets}}
    preflight(model, stage_sets.get(options["mode"], datamodule.test_sets))
    check_val_check_interval(options, len(datamodule.train_set))

    resume_step = None
    if command.resume_dir:
        from utils.checkpoints import read_checkpoint

        resume_step = read_checkpoint(str(command.resume_checkpoint))["global_step"]
    run_dir = command.resume_dir or claim_run_folder(options["log_dir"], command.experiment)
    return PreparedRun(command, datamodule, model, run_dir, build_trainer(options, run_dir, resume_step))


def run(argv: list[str]) -> int:
    """Prepare the run, record its configuration, run the mode and write the results."""
    from utils.environment import environment_record
    from utils.results import results_table

    prepared = prepare_run(argv)
    trainer, run_dir = prepared.trainer, prepared.run_dir
    if trainer.is_global_zero:
        write_yaml(run_dir / "config.yaml", prepared.command.resolved_config())
        write_yaml(run_dir / "environment.yaml", environment_record())
    results = run_mode(trainer, prepared.model, prepared.datamodule, prepared.command, run_dir)
    if trainer.is_global_zero:
        write_json(run_dir / "results.json", results)
        print(f"\n{results_table(results)}\n\nrun folder: {run_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: a user error is one `error: ...` line on stderr and exit code 2."""
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
