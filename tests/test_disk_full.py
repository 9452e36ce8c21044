"""A disk that fills up during training: one error line, a non-zero exit, the checkpoints saved before kept whole."""


import torch


def test_a_full_disk_stops_the_run_with_one_line_and_keeps_the_earlier_checkpoint(project, small_disk):
    # 20,000 hidden units: about 6.5 MB a checkpoint with Adam's moments, so one fits and a second beside it does not.
    process = project.run("--model_name", "standard_net", "--dataset", "standard_data", "--hidden", "20000",
                          "--max_epochs", "3", "--limit_train_batches", "2", "--limit_val_batches", "1",
                          "--log_dir", str(small_disk))
    line = [line for line in process.stderr.splitlines() if line.strip()][-1]
    assert process.returncode == 1, process.stderr[-3000:]
    assert "Traceback" not in process.stderr, process.stderr[-3000:]
    checkpoints = small_disk / "standard_net-standard_data" / "version_0" / "checkpoints"
    assert line.startswith(f"error: no space left in {checkpoints} to save "), line
    assert "it needs at least " in line and "bytes and" in line and "--resume" in line
    assert not list(checkpoints.glob(".*.tmp"))
    assert (checkpoints / "last.ckpt").is_file(), sorted(path.name for path in checkpoints.iterdir())
    earlier = torch.load(checkpoints / "last.ckpt", weights_only=True)
    assert earlier["global_step"] in (2, 4), line  # whole: an epoch's end, before the write that did not fit
