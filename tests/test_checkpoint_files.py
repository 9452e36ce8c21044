"""Checkpoint files are written beside their path and renamed into place; extra names are hard links of them."""

import os
from types import SimpleNamespace

import pytest
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from utils import checkpoint_files
from utils.checkpoint_files import CheckpointFiles


def test_a_checkpoint_is_renamed_into_place_with_its_extra_names_linked(tmp_path):
    files = CheckpointFiles()
    last, best = tmp_path / "checkpoints" / "last.ckpt", tmp_path / "checkpoints" / "epoch000.ckpt"
    files.also_named = [str(best)]
    files.save_checkpoint({"step": torch.tensor(1)}, str(last))
    assert sorted(path.name for path in last.parent.iterdir()) == ["epoch000.ckpt", "last.ckpt"]  # no temp file left
    assert os.stat(best).st_ino == os.stat(last).st_ino
    assert files.also_named == []  # the names were for that save only

    files.save_checkpoint({"step": torch.tensor(2)}, str(last))
    # Replacing last.ckpt gives it a new file: the best checkpoint keeps the state it was saved with.
    assert torch.load(last, weights_only=True)["step"] == 2
    assert torch.load(best, weights_only=True)["step"] == 1


def test_a_failed_save_leaves_the_previous_file_and_no_temporary_file(tmp_path):
    files = CheckpointFiles()
    last = tmp_path / "last.ckpt"
    files.save_checkpoint({"step": torch.tensor(1)}, str(last))
    with pytest.raises(Exception, match="pickle"):
        files.save_checkpoint({"step": lambda: 2}, str(last))  # torch.save cannot pickle a lambda
    assert [path.name for path in tmp_path.iterdir()] == ["last.ckpt"]
    assert torch.load(last, weights_only=True)["step"] == 1


def test_a_filesystem_without_hard_links_gets_a_copy(tmp_path, monkeypatch):
    def no_links(source, name):
        raise OSError("hard links are not supported here")

    monkeypatch.setattr(checkpoint_files.os, "link", no_links)
    files = CheckpointFiles()
    last, best = tmp_path / "last.ckpt", tmp_path / "best.ckpt"
    files.also_named = [str(best)]
    files.save_checkpoint({"step": torch.tensor(3)}, str(last))
    assert os.stat(best).st_ino != os.stat(last).st_ino
    assert best.read_bytes() == last.read_bytes()


class RecordingTrainer:
    """The parts of a Trainer a checkpoint callback's saves and removals use, recording each in order."""

    def __init__(self) -> None:
        self.global_step, self.is_global_zero, self.loggers, self.events = 7, True, [], []
        self.strategy = self
        self.checkpoint_io = CheckpointFiles()

    def save_checkpoint(self, filepath: str, weights_only: bool = False) -> None:
        self.events.append(("save", filepath, list(getattr(self.checkpoint_io, "also_named", []))))
        self.checkpoint_io.also_named = []

    def remove_checkpoint(self, filepath: str) -> None:
        self.events.append(("remove", filepath))


def best_and_last(tmp_path):
    from utils.callbacks import ValidationCheckpoint

    best = ValidationCheckpoint(dirpath=tmp_path, monitor="val/loss", save_top_k=1)
    return best, ValidationCheckpoint(dirpath=tmp_path, filename="last", save_top_k=1, best=best)


def test_a_best_checkpoint_becomes_a_name_of_last_ckpt_and_displaces_the_old_best_only_then(tmp_path):
    best, last = best_and_last(tmp_path)
    trainer = RecordingTrainer()
    best._save_checkpoint(trainer, "epoch001.ckpt")
    best._remove_checkpoint(trainer, "epoch000.ckpt")
    assert trainer.events == []  # nothing written or removed before last.ckpt's file exists
    last._save_checkpoint(trainer, "last.ckpt")
    assert trainer.events == [("save", "last.ckpt", ["epoch001.ckpt"]), ("remove", "epoch000.ckpt")]
    assert best._last_global_step_saved == 7 and best.deferred_names == []


def test_a_best_checkpoint_last_ckpt_did_not_take_is_written_on_its_own(tmp_path):
    best, last = best_and_last(tmp_path)
    trainer = RecordingTrainer()
    best._save_checkpoint(trainer, "epoch001.ckpt")
    best._remove_checkpoint(trainer, "epoch000.ckpt")
    last._write_deferred_of_best(trainer)  # what its hooks do after ModelCheckpoint's own saving
    assert trainer.events == [("save", "epoch001.ckpt", []), ("remove", "epoch000.ckpt")]


def test_without_the_template_s_checkpoint_files_the_best_checkpoint_saves_itself(tmp_path):
    best, _ = best_and_last(tmp_path)
    trainer = RecordingTrainer()
    trainer.checkpoint_io = SimpleNamespace()  # another strategy's own saver
    best._save_checkpoint(trainer, "epoch001.ckpt")
    best._remove_checkpoint(trainer, "epoch000.ckpt")
    assert trainer.events == [("save", "epoch001.ckpt", []), ("remove", "epoch000.ckpt")]


def test_displaced_checkpoints_are_deleted_in_the_background_and_waited_for_at_teardown(tmp_path):
    files = CheckpointFiles()
    old, folder = tmp_path / "epoch000.ckpt", tmp_path / "sharded.ckpt"
    files.save_checkpoint({"step": torch.tensor(0)}, str(old))
    folder.mkdir()
    (folder / "shard0").write_bytes(b"0")
    for path in (old, folder, tmp_path / "gone.ckpt"):  # one already gone is not an error
        files.remove_checkpoint(str(path))
    files.teardown()
    assert list(tmp_path.iterdir()) == []


def test_a_deletion_that_failed_fails_at_teardown(tmp_path, monkeypatch):
    def refused(self, path):
        raise PermissionError(f"cannot delete {path}")

    monkeypatch.setattr(TorchCheckpointIO, "remove_checkpoint", refused)
    files = CheckpointFiles()
    files.remove_checkpoint(str(tmp_path / "epoch000.ckpt"))
    with pytest.raises(PermissionError, match="epoch000"):
        files.teardown()


def test_checkpoint_files_with_deletions_running_can_be_sent_to_spawned_processes(tmp_path):
    import pickle

    files = CheckpointFiles()
    files.remove_checkpoint(str(tmp_path / "weights.ckpt"))  # as ddp_spawn's launcher does in the main process
    copy = pickle.loads(pickle.dumps(files))
    assert copy._remover is None and copy._removals == []
    files.teardown()
