"""Checkpoint files are written beside their path and renamed into place, so a failed write keeps the old file."""

import pytest
import torch

from utils.runs.checkpoints import WEIGHTS_DIGEST, named_tensors, weights_digest
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


def test_the_weights_digest_covers_every_nested_tensor_and_only_tensors():
    checkpoint = {"state_dict": {"w": torch.ones(3)}, "optimizer_states": [{"state": {0: {"exp_avg": torch.zeros(3)}}}],
                  "random_state": (3, tuple(range(625)), None), "loops": {"epoch": 2}}
    assert [name for name, _ in named_tensors(checkpoint)] == ["/state_dict/w", "/optimizer_states/0/state/0/exp_avg"]
    digest = weights_digest(checkpoint)
    assert weights_digest({**checkpoint, "random_state": (3, (), None), WEIGHTS_DIGEST: digest}) == digest
    checkpoint["optimizer_states"][0]["state"][0]["exp_avg"][1] = 1e-9
    assert weights_digest(checkpoint) != digest
