"""Distributed runs on CPU (DDP over gloo): launched by Lightning, by torchrun and by SLURM, one run folder each."""

import json
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import Project, main_environment
from forked_main import ForkServer

# A net with BatchNorm: DDP broadcasts its buffers, so it also checks that uneven val shares cannot lock it up.
NORM_NET = '''
from torch import nn


class NormNet(nn.Module):
    """A perceptron with batch norm."""

    def __init__(self, num_features: int = 16, num_classes: int = 10):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(num_features, 32), nn.BatchNorm1d(32), nn.ReLU(),
                                    nn.Linear(32, num_classes))

    def forward(self, x):
        return self.layers(x)
'''
# 270 samples: 243 train (122 per process, no batch of one), 27 held out for val `a` and test `held` (odd: the
# processes get 14 and 13); val `b` has 10 (5 each); test `tiny` has 1, so the second process gets none of it.
DATA = ("--model_name", "norm_net", "--dataset", "standard_data", "--num_samples", "270", "--batch_size", "4",
        "--val_datasets", "a=standard_data", "b=standard_data:noise=3.0,num_samples=10",
        "--test_datasets", "held=standard_data", "tiny=standard_data:num_samples=1")
TWO_NODES = ("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "200",
             "--max_epochs", "1", "--limit_train_batches", "3", "--num_nodes", "2", "--strategy", "ddp",
             "--accelerator", "cpu", "--devices", "1")
# Launch variables of the shell running the tests (a SLURM job, say) must not leak into the launches below.
LAUNCH_PREFIXES = ("SLURM_", "TORCHELASTIC_", "MASTER_", "TEMPLATE_RUN_DIR")
LAUNCH_NAMES = ("RANK", "LOCAL_RANK", "GROUP_RANK", "NODE_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE")


def clean_environment(**extra: str) -> dict[str, str]:
    """The environment `main.py` runs in without any launcher's variables, plus `extra`."""
    environment = {key: value for key, value in main_environment().items()
                   if not key.startswith(LAUNCH_PREFIXES) and key not in LAUNCH_NAMES}
    return {**environment, **extra}


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports nothing listens on right now."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:  # held open together, so no port is handed out twice
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    return free_ports(1)[0]


def clean_run(fork_server: ForkServer, project: Project, *arguments: str, timeout: int = 300,
              **variables: str) -> subprocess.CompletedProcess:
    """`python main.py ARGUMENTS` forked in the project copy, with no launcher's variables but `variables`."""
    return fork_server.run(project.root, *arguments, environment=clean_environment(**variables), timeout=timeout)


def start(root: Path, command: list[str], **environment: str) -> subprocess.Popen:
    """Start one process of a launch in the project copy."""
    return subprocess.Popen(command, cwd=root, env=clean_environment(**environment), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(processes: list[subprocess.Popen]) -> list[tuple[str, str]]:
    """Wait for every process, reading all their pipes at once (a full pipe would stall its process and, through
    the collectives, the others); each must exit 0. Returns their (stdout, stderr)."""
    with ThreadPoolExecutor(len(processes)) as pool:
        outputs = list(pool.map(lambda process: process.communicate(timeout=240), processes))
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
    return outputs


def only_run_dir(project) -> Path:
    """The one run folder, checking that nothing else was left beside it."""
    [run_dir] = project.run_dirs()
    assert sorted(run_dir.parent.iterdir()) == [run_dir]
    return run_dir


def assert_same(distributed: dict, single: dict, tolerance: float) -> None:
    """Every metric of every dataset equal within `tolerance`."""
    assert distributed.keys() == single.keys()
    for label, values in single.items():
        assert distributed[label] == pytest.approx(values, abs=tolerance), label


def test_lightning_ddp_on_two_processes_matches_one_process_on_the_same_checkpoint(project):
    project.write("model/norm_net.py", NORM_NET)
    process = project.run(*DATA, "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp",
                          "--max_epochs", "2", "--limit_train_batches", "10")
    assert process.returncode == 0, process.stderr[-3000:]
    run_dir = only_run_dir(project)
    assert process.stdout.count("stage  dataset") == 1 and process.stdout.count("run folder:") == 1
    results = json.loads((run_dir / "results.json").read_text())
    checkpoints = sorted(path.name for path in (run_dir / "checkpoints").iterdir())
    assert len(checkpoints) == 2 and "last.ckpt" in checkpoints
    assert results["best_checkpoint"].endswith(next(name for name in checkpoints if name != "last.ckpt"))

    single = ("--accelerator", "cpu", "--devices", "1", "--ckpt", results["best_checkpoint"])
    validated = project.run(*DATA, *single, "--mode", "validate")
    tested = project.run(*DATA, *single, "--mode", "test")
    assert validated.returncode == 0 and tested.returncode == 0, validated.stderr[-3000:] + tested.stderr[-3000:]
    val_dir, test_dir = project.run_dirs()[1:]
    # Counts are exact whatever the sizes; the loss only differs by the order of float additions.
    assert_same(results["val"], json.loads((val_dir / "results.json").read_text())["val"], 1e-6)
    assert_same(results["test"], json.loads((test_dir / "results.json").read_text())["test"], 1e-6)


def test_two_torchrun_nodes_share_one_run_folder_and_concurrent_launches_get_their_own(project):
    torchrun = str(Path(sys.executable).parent / "torchrun")
    processes = []
    for port in free_ports(2):
        for node_rank in ("0", "1"):
            command = [torchrun, "--nnodes", "2", "--nproc_per_node", "1", "--node_rank", node_rank,
                       "--master_addr", "127.0.0.1", "--master_port", str(port), "main.py", *TWO_NODES]
            processes.append(start(project.root, command))
    outputs = finish(processes)
    run_dirs = project.run_dirs()
    assert len(run_dirs) == 2
    assert sorted(run_dirs[0].parent.iterdir()) == run_dirs
    for run_dir in run_dirs:
        assert (run_dir / "results.json").is_file() and (run_dir / "checkpoints" / "last.ckpt").is_file()
    tables = [stdout.count("stage  dataset") for stdout, _ in outputs]
    assert tables == [1, 0, 1, 0]


def test_slurm_tasks_on_two_nodes_share_one_run_folder(project, fork_server):
    port = str(free_port())
    # SLURM starts each task itself: here two forks, each with its task's variables.
    tasks = [fork_server.start(project.root, *TWO_NODES, environment=clean_environment(
        SLURM_JOB_ID="4242", SLURM_JOB_NAME="train", SLURM_STEP_ID="0", SLURM_NTASKS="2", SLURM_NTASKS_PER_NODE="1",
        SLURM_NNODES="2", SLURM_NODELIST="127.0.0.1", SLURM_PROCID=rank, SLURM_NODEID=rank, SLURM_LOCALID="0",
        MASTER_PORT=port)) for rank in ("0", "1")]
    processes = [fork_server.wait(task, timeout=240) for task in tasks]
    for process in processes:
        assert process.returncode == 0, process.stderr[-3000:]
    run_dir = only_run_dir(project)
    assert (run_dir / "results.json").is_file()
    assert [process.stdout.count("run folder:") for process in processes] == [1, 0]


def test_a_process_whose_rank_zero_never_comes_stops_after_ddp_timeout_with_one_error_line(project, fork_server):
    process = clean_run(fork_server, project, *TWO_NODES, "--ddp_timeout", "3", timeout=120, RANK="1",
                        GROUP_RANK="1", LOCAL_RANK="0", LOCAL_WORLD_SIZE="1", WORLD_SIZE="2", TORCHELASTIC_RUN_ID="t",
                        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))  # torchrun's rank 1
    assert process.returncode == 2 and "Traceback" not in process.stderr, process.stderr[-3000:]
    last_line = process.stderr.strip().splitlines()[-1]  # after torch's own lines on each try to reach rank 0
    assert last_line.startswith("error: the 2 nodes of this run did not all meet within --ddp_timeout 3 s")
    assert not project.logs.exists()  # only rank 0 creates anything


def test_a_node_whose_partner_never_comes_stops_after_ddp_timeout_with_one_error_line(project, fork_server):
    process = clean_run(fork_server, project, *TWO_NODES, "--ddp_timeout", "3", timeout=120,
                        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), NODE_RANK="0")
    assert process.returncode == 2 and "Traceback" not in process.stderr, process.stderr[-3000:]
    last_line = process.stderr.strip().splitlines()[-1]  # after Lightning's own lines as the run began
    assert last_line.startswith("error: the 2 nodes of this run did not all meet within --ddp_timeout 3 s")
    assert not list(project.logs.glob("*/version_*"))  # nothing ran, so no run folder is left


def test_ddp_run_resumes_in_its_own_folder(project, fork_server):
    arguments = ("--model_name", "standard_net", "--dataset", "standard_data", "--num_samples", "200",
                 "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--limit_train_batches", "3")
    first = clean_run(fork_server, project, *arguments, "--max_epochs", "1")
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = clean_run(fork_server, project, "--resume", "last", *arguments, "--max_epochs", "2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    run_dir = only_run_dir(project)
    import torch

    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 1
    assert resumed.stdout.count("run folder:") == 1


def test_ddp_spawn_reports_the_best_checkpoints_val_metrics(project, fork_server):
    process = clean_run(fork_server, project, "--model_name", "standard_net", "--dataset", "standard_data",
                        "--num_samples", "200", "--val_datasets", "a=standard_data", "b=standard_data:noise=3.0",
                        "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp_spawn", "--max_epochs", "1")
    assert process.returncode == 0, process.stderr[-3000:]
    results = json.loads((only_run_dir(project) / "results.json").read_text())
    assert set(results["val"]) == {"a", "b", "mean"}
