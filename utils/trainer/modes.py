"""Run the chosen mode on a built Trainer and gather what results.json records."""

import shutil
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from utils.config.command_line import Command
from utils.datasets.batches import keeps_items_in_order, underlying_dataset
from utils.errors import RunPruned, UserError
from utils.lightning_package import LightningDataModule, LightningModule, Trainer
from utils.runs.checkpoints import stored_validation
from utils.runs.predictions import set_predictions, write_predictions
from utils.runs.results import per_dataset
from utils.shared_names import checkpoints_folder
from utils.trainer.export import ExportRefused, export_net
from utils.trainer.module_hooks import defines_hook
from utils.trainer.module_monitor import MonitorNotLogged, remove_fresh_run_folder


def fit_and_test(trainer: Trainer, model: LightningModule, datamodule: LightningDataModule,
                 resume_checkpoint: Path | None, labels: dict[str, list[str]]) -> dict[str, Any]:
    """Train, then test the best checkpoint; report the val metrics of that checkpoint's step."""
    trainer.fit(model, datamodule=datamodule, ckpt_path=resume_checkpoint)
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    # Read from the file, not from this process: with ddp_spawn the training ran in other processes.
    best_step, val_metrics = stored_validation(best) if best else (None, dict(trainer.callback_metrics))
    results = {"best_checkpoint": best, "best_step": best_step, "best_score": best_score(trainer, val_metrics),
               "epochs_trained": trainer.current_epoch, "val": per_dataset(val_metrics, "val", labels["val"])}
    with_cut_short(results, trainer, "val", labels["val"])
    if trainer.checkpoint_callback is not None:  # an own module's monitor is chosen at its first validation
        results["monitor"] = trainer.checkpoint_callback.monitor
    skipped = [f"{stage} skipped: {type(model).__name__} defines no {step}" for stage, step in
               (("validation", "validation_step"), ("testing", "test_step")) if not defines_hook(type(model), step)]
    if skipped:
        results["skipped"] = skipped
    if defines_hook(type(model), "test_step"):
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None, verbose=False)
        results["test"] = per_dataset(trainer.callback_metrics, "test", labels["test"])
        with_cut_short(results, trainer, "test", labels["test"])
    return results


def stage_cut_short(trainer: Trainer, stage: str, labels: list[str]) -> dict[str, list[int]]:
    """The sets of the stage (val or test) the Trainer last ran that its batch limit cut short."""
    if stage == "val":
        return cut_short(trainer.num_val_batches, trainer.val_dataloaders, labels)
    return cut_short(trainer.num_test_batches, trainer.test_dataloaders, labels)


def cut_short(scored: list[int | float], loaders: Any, labels: list[str]) -> dict[str, list[int]]:
    """The sets that --limit_val_batches or --limit_test_batches cut short, by label: [batches scored, batches] of
    this process's share (Lightning counts the limit per process)."""
    loaders = loaders if isinstance(loaders, list | tuple) else [loaders]
    totals = [len(loader) if isinstance(loader, DataLoader) else None for loader in loaders]
    return {label: [int(count), total] for label, count, total in zip(labels, scored, totals, strict=False)
            if total is not None and 0 < count < total}  # none scored (--limit_val_batches 0) gives no numbers


def with_cut_short(results: dict[str, Any], trainer: Trainer, stage: str, labels: list[str]) -> dict[str, Any]:
    """`results` recording under `partial` which of the stage's sets were scored in part."""
    cut = stage_cut_short(trainer, stage, labels)
    if cut:
        results.setdefault("partial", {})[stage] = cut
    return results


def best_score(trainer: Trainer, val_metrics: dict[str, Any]) -> float | None:
    """The monitor's value at the best checkpoint (a sweep's objective), or None when nothing was checkpointed."""
    callback = trainer.checkpoint_callback
    if callback is None or callback.monitor is None:
        return None
    # With ddp_spawn this process never saw the score: the val metrics read from the best file hold it.
    score = callback.best_model_score if callback.best_model_score is not None else val_metrics.get(callback.monitor)
    return None if score is None else float(score)


def predict_to_file(trainer: Trainer, model: LightningModule, datamodule: LightningDataModule,
                    test_labels: list[str], run_dir: Path, task: str) -> dict[str, Any]:
    """Save the outputs of every test set with what its items carry besides their inputs to predictions.pt, by
    label, and one row per item to predictions.csv where the outputs are one row per item."""
    batches = trainer.predict(model, datamodule=datamodule)
    batches = [batches] if len(test_labels) == 1 else batches
    loaders = trainer.predict_dataloaders
    loaders = loaders if isinstance(loaders, list | tuple) else [loaders]
    per_set = {label: set_predictions(per_batch, datamodule.test_sets[label], sampled_batches(loader))
               for label, per_batch, loader in zip(test_labels, batches, loaders, strict=True)}
    for label, predicted in per_set.items():
        if "index" not in predicted and isinstance(predicted["outputs"], torch.Tensor):
            note_no_index(label, datamodule.test_sets[label])
    files = write_predictions(run_dir, per_set, classify=task == "classification")
    return {"predictions": str(files[0]), **({"predictions_csv": str(files[1])} if len(files) > 1 else {}),
            "predicted_items": {label: len(predicted["outputs"]) for label, predicted in per_set.items()}}


def sampled_batches(loader: Any) -> list[list[int]]:
    """The indices the loader's sampler chose for each batch, in the loader's order (none for a loader without one)."""
    batch_sampler = getattr(loader, "batch_sampler", None)
    return [list(batch) for batch in batch_sampler] if batch_sampler is not None else []


def note_no_index(label: str, dataset: Dataset) -> None:
    """Say why a set's predictions have no index, and how to keep an id of each item."""
    maker = "collate_fn" if not keeps_items_in_order(dataset) else "__getitems__"
    print(f"note: the predictions of {label!r} have no index: their rows follow the batches that "
          f"{type(underlying_dataset(dataset)).__name__}'s own {maker} makes, which may drop or reorder items; to "
          f"keep an id, return it as an extra element of each item ((inputs, target, id), or a dict key) that "
          f"{maker} passes on: predictions keep it")


def run_mode(command: Command, trainer: Trainer, model: LightningModule, datamodule: LightningDataModule,
             run_dir: Path) -> dict[str, Any]:
    """Run fit, validate, test, predict or export and return what results.json records (a pruned trial says so)."""
    settings = command.settings
    results: dict[str, Any] = {"mode": settings.run.mode, "run_dir": str(run_dir)}
    results.update({"monitor": settings.trainer.monitor} if settings.run.mode == "fit" else
                   {"checkpoint": settings.run.ckpt})
    labels = {"val": command.val_labels, "test": command.test_labels}
    try:
        if settings.run.mode == "export":
            results["export"] = export_net(model.net, datamodule, settings.run.ckpt, settings.run.format,
                                           settings.task.input_key)
        else:
            results.update(mode_results(settings.run.mode, trainer, model, datamodule, labels, run_dir,
                                        command.resume_checkpoint, settings.task.task))
    except RunPruned as pruned:
        results["pruned"] = str(pruned)
    except ExportRefused:
        if trainer.is_global_zero:
            remove_fresh_run_folder(run_dir)  # a net that cannot be exported leaves no run behind, as no file
        raise
    except MonitorNotLogged:
        if command.resume_checkpoint is None and trainer.is_global_zero:
            remove_fresh_run_folder(run_dir)  # a refused run leaves nothing on disk
        raise
    except (torch.distributed.DistStoreError, torch.distributed.DistNetworkError) as error:
        if command.resume_checkpoint is None and trainer.is_global_zero:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing ran: no folder is left for --resume last to pick
        raise UserError(f"the {settings.trainer.num_nodes} nodes of this run did not all meet within --ddp_timeout "
                        f"{settings.trainer.ddp_timeout} s ({str(error).splitlines()[0]}): start the same command on "
                        f"every node, with the same MASTER_ADDR and MASTER_PORT and NODE_RANK 0 to "
                        f"{settings.trainer.num_nodes - 1}, or raise --ddp_timeout") from None
    except Exception as error:
        if left_nothing(command, trainer, run_dir, error) and trainer.is_global_zero:
            remove_fresh_run_folder(run_dir)  # the error is all it made: no empty run is left for --resume last
        raise
    return results


def left_nothing(command: Command, trainer: Trainer, run_dir: Path, error: Exception) -> bool:
    """Whether a fresh run (not a resumed one) stopped with no checkpoint saved, before its first step or on the
    user's error (a bad target deep in the data, found only when its batch comes)."""
    return (command.resume_checkpoint is None and (trainer.global_step == 0 or isinstance(error, UserError))
            and not any(checkpoints_folder(run_dir).glob("*.ckpt")))


def mode_results(mode: str, trainer: Trainer, model: LightningModule, datamodule: LightningDataModule,
                 labels: dict[str, list[str]], run_dir: Path, resume_checkpoint: Path | None,
                 task: str) -> dict[str, Any]:
    """Run one mode and return its part of results.json."""
    if mode == "fit":
        return fit_and_test(trainer, model, datamodule, resume_checkpoint, labels)
    if mode == "validate":
        trainer.validate(model, datamodule=datamodule, verbose=False)
        return with_cut_short({"val": per_dataset(trainer.callback_metrics, "val", labels["val"])}, trainer, "val",
                              labels["val"])
    if mode == "test":
        trainer.test(model, datamodule=datamodule, verbose=False)
        return with_cut_short({"test": per_dataset(trainer.callback_metrics, "test", labels["test"])}, trainer,
                              "test", labels["test"])
    return predict_to_file(trainer, model, datamodule, labels["test"], run_dir, task)


def close_process_group() -> None:
    """Leave the distributed run together: a process that exits with its process group open can abort at exit."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
