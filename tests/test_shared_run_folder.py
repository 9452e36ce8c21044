"""The run folder across ranks: rank 0 claims it, every other process receives it once the process group exists."""

import pytest
from test_distributed import clean_run

from utils.run_lock import is_rank_zero


def test_every_process_of_a_ddp_run_writes_into_the_folder_rank_zero_claimed(project, fork_server):
    process = clean_run(fork_server, project, "--model_name", "standard_net", "--dataset", "standard_data",
                        "--num_samples", "200", "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp",
                        "--max_epochs", "1", "--limit_train_batches", "3", "--profiler", "simple")
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    assert list(run_dir.parent.iterdir()) == [run_dir]  # nothing beside it: no marker, no folder of rank 1's own
    # Each process writes its own profile, rank 1 into the folder it received from rank 0.
    assert {"fit-profile-0.txt", "fit-profile-1.txt"} <= {path.name for path in run_dir.iterdir()}


@pytest.mark.parametrize(("environment", "first"), [
    ({}, True),
    ({"LOCAL_RANK": "1", "NODE_RANK": "0"}, False),  # a process Lightning's launcher started
    ({"NODE_RANK": "1"}, False),
    ({"RANK": "0", "GROUP_RANK": "1", "LOCAL_RANK": "0"}, True),  # torchrun: its global rank decides
    ({"RANK": "3"}, False),
    ({"SLURM_NTASKS": "2", "SLURM_JOB_NAME": "train", "SLURM_PROCID": "1"}, False),
    # An interactive SLURM session: Lightning starts the processes, which all inherit SLURM_PROCID 0.
    ({"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "bash", "SLURM_PROCID": "0", "LOCAL_RANK": "1"}, False),
])
def test_rank_zero_is_the_process_lightning_makes_rank_zero(monkeypatch, environment, first):
    for name in ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_NTASKS", "SLURM_JOB_NAME", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert is_rank_zero() is first
