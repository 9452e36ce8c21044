"""scripts/slurm_train.sbatch under stand-ins for srun and scontrol: what it starts, and when it requeues."""

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "slurm_train.sbatch"
# Records its arguments and ends with the status the test asks for, as srun ends with its tasks' status.
FAKE_SRUN = '#!/bin/bash\nprintf "%s\\n" "$@" > "$FAKE_LOG/srun"\nexit "${FAKE_STATUS}"\n'
FAKE_SCONTROL = '#!/bin/bash\nprintf "%s\\n" "$@" > "$FAKE_LOG/scontrol"\n'


def run_script(tmp_path: Path, status: int, restarts: int) -> tuple[subprocess.CompletedProcess, list[str], list[str]]:
    """Run the script as SLURM would (job 4242, 2 nodes of 4 tasks); returns it, srun's and scontrol's arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("srun", FAKE_SRUN), ("scontrol", FAKE_SCONTROL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    for name in ("srun", "scontrol"):
        (tmp_path / name).unlink(missing_ok=True)
    environment = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_LOG": str(tmp_path),
                   "FAKE_STATUS": str(status), "SLURM_SUBMIT_DIR": str(tmp_path), "SLURM_JOB_ID": "4242",
                   "SLURM_JOB_NUM_NODES": "2", "SLURM_NTASKS_PER_NODE": "4", "SLURM_RESTART_COUNT": str(restarts)}
    process = subprocess.run(["bash", str(SCRIPT), "--model_name", "my_net", "--max_epochs", "30"],
                             env=environment, capture_output=True, text=True, timeout=60)
    called = [(tmp_path / name).read_text().splitlines() if (tmp_path / name).exists() else []
              for name in ("srun", "scontrol")]
    return process, called[0], called[1]


def test_the_script_asks_for_sigterm_before_the_time_limit_and_for_requeueing():
    lines = SCRIPT.read_text().splitlines()
    assert "#SBATCH --signal=TERM@120" in lines and "#SBATCH --requeue" in lines


def test_a_first_start_trains_a_new_run_of_the_jobs_own_experiment(tmp_path):
    process, srun, scontrol = run_script(tmp_path, status=0, restarts=0)
    assert process.returncode == 0 and scontrol == []
    assert srun == [".venv/bin/python", "main.py", "--accelerator", "gpu", "--strategy", "ddp", "--experiment",
                    "slurm-4242", "--num_nodes", "2", "--devices", "4", "--model_name", "my_net", "--max_epochs", "30"]


@pytest.mark.parametrize("restarts", [1, 3])
def test_a_requeued_start_resumes_the_jobs_last_run(tmp_path, restarts):
    process, srun, _ = run_script(tmp_path, status=0, restarts=restarts)
    assert process.returncode == 0
    assert srun[srun.index("--devices") + 2:srun.index("--model_name")] == ["--resume", "last"]


def test_a_run_stopped_by_sigterm_requeues_the_job_and_the_job_ends_143(tmp_path):
    process, _, scontrol = run_script(tmp_path, status=143, restarts=0)
    assert process.returncode == 143 and scontrol == ["requeue", "4242"]


@pytest.mark.parametrize("status", [1, 2, 130])
def test_a_failed_or_interrupted_run_is_not_requeued(tmp_path, status):
    process, _, scontrol = run_script(tmp_path, status=status, restarts=0)
    assert process.returncode == status and scontrol == []
