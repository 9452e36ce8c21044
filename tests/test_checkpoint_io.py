"""Checkpoint files are written beside their path and renamed into place, so a failed write keeps the old file."""

import pytest
import torch

from utils.trainer.checkpoint_io import AtomicCheckpointIO


def test_a_checkpoint_is_renamed_into_place_leaving_no_temporary_file(tmp_path):
    files = AtomicCheckpointIO()
    last = tmp_path / "checkpoints" / "last.ckpt"
    files.save_checkpoint({"step": torch.tensor(1)}, str(last))
    files.save_checkpoint({"step": torch.tensor(2)}, str(last))
    assert [path.name for path in last.parent.iterdir()] == ["last.ckpt"]
    assert torch.load(last, weights_only=True)["step"] == 2


def test_a_failed_save_leaves_the_previous_file_and_no_temporary_file(tmp_path):
    files = AtomicCheckpointIO()
    last = tmp_path / "last.ckpt"
    files.save_checkpoint({"step": torch.tensor(1)}, str(last))
    with pytest.raises(Exception, match="pickle"):
        files.save_checkpoint({"step": lambda: 2}, str(last))  # torch.save cannot pickle a lambda
    assert [path.name for path in tmp_path.iterdir()] == ["last.ckpt"]
    assert torch.load(last, weights_only=True)["step"] == 1


def test_storage_options_are_refused_rather_than_ignored(tmp_path):
    with pytest.raises(TypeError, match="storage_options"):
        AtomicCheckpointIO().save_checkpoint({}, str(tmp_path / "x.ckpt"), storage_options={"compress": True})
