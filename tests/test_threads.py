"""Torch's intra-op threads: the usable CPUs (affinity, cgroup quota) shared by the run's processes, unless the user
says otherwise with --threads or OMP_NUM_THREADS; environment.yaml records the count and where it came from."""

import os
from pathlib import Path

import pytest
import torch
import yaml
from conftest import FAST, error_line, main_environment

from utils.config import resources
from utils.errors import UserError
from utils.machine import cgroup_cpu_limit, usable_cpus
from utils.shared_names import ENVIRONMENT_FILE
from utils.trainer.threads import FROM_CPUS, FROM_OPTION, FROM_VARIABLE, THREADS_VARIABLE, thread_count, use_threads

RUN = ("--model_name", "standard_net", "--dataset", "standard_data", "--accelerator", "cpu", *FAST)


def cgroup_v2(root: Path, cpu_max: str) -> Path:
    """A cgroup v2 folder whose cpu.max holds `cpu_max`."""
    root.mkdir(exist_ok=True)
    (root / "cpu.max").write_text(f"{cpu_max}\n")
    return root


def cgroup_v1(root: Path, quota: int, period: int = 100000, controller: str = "cpu") -> Path:
    """A cgroup v1 hierarchy whose CPU controller has the CFS quota and period given."""
    folder = root / controller
    folder.mkdir(parents=True)
    (folder / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (folder / "cpu.cfs_period_us").write_text(f"{period}\n")
    return root


@pytest.fixture
def eight_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process may run on CPUs 0 to 7."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)


@pytest.mark.parametrize(("cpu_max", "limit"), [("max 100000", None), ("200000 100000", 2.0), ("150000 100000", 1.5),
                                                ("50000 100000", 0.5)])
def test_cgroup_v2_quota_is_read_from_cpu_max(tmp_path, cpu_max, limit):
    assert cgroup_cpu_limit(cgroup_v2(tmp_path / "cgroup", cpu_max)) == limit


@pytest.mark.parametrize(("quota", "controller", "limit"), [(-1, "cpu", None), (300000, "cpu", 3.0),
                                                            (100000, "cpu,cpuacct", 1.0)])
def test_cgroup_v1_quota_is_read_from_the_cfs_files(tmp_path, quota, controller, limit):
    assert cgroup_cpu_limit(cgroup_v1(tmp_path / "cgroup", quota, controller=controller)) == limit


def test_no_cgroup_files_mean_no_quota(tmp_path):
    assert cgroup_cpu_limit(tmp_path) is None


@pytest.mark.parametrize(("cpu_max", "cpus"), [("max 100000", 8), ("200000 100000", 2), ("150000 100000", 2),
                                               ("50000 100000", 1), ("1600000 100000", 8)])
def test_usable_cpus_are_the_affinity_capped_by_the_quota(tmp_path, eight_cpus, cpu_max, cpus):
    assert usable_cpus(cgroup_v2(tmp_path / "cgroup", cpu_max)) == cpus


def test_usable_cpus_follow_the_affinity_not_the_host(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert usable_cpus(tmp_path) == 1


@pytest.mark.parametrize(("option", "value", "fits"), [("devices", 2, True), ("devices", 3, False),
                                                     ("num_workers", 8, True), ("num_workers", 9, False)])
def test_process_counts_are_checked_against_the_quota_not_the_affinity(tmp_path, eight_cpus, monkeypatch, option,
                                                                       value, fits):
    """Eight CPUs in the affinity but a quota of two: two training processes and eight loader workers fit."""
    quota = cgroup_v2(tmp_path / "cgroup", "200000 100000")
    monkeypatch.setattr(resources, "usable_cpus", lambda: usable_cpus(quota))
    options = {"accelerator": "cpu", "devices": 1, "num_workers": 0, "num_nodes": 1, "mode": "fit",
               "limit_train_batches": 1.0, "fast_dev_run": False, option: value}
    if fits:
        resources.check_resources(options)
    else:
        with pytest.raises(UserError, match=f"--{option} {value} .* 2 cores"):
            resources.check_resources(options)


@pytest.mark.parametrize(("cpu_max", "processes", "threads"), [("max 100000", 1, 8), ("max 100000", 3, 2),
                                                                ("400000 100000", 2, 2), ("200000 100000", 4, 1)])
def test_the_usable_cpus_are_divided_by_the_processes_sharing_them(tmp_path, eight_cpus, cpu_max, processes,
                                                                   threads):
    count = thread_count(None, processes, {}, cgroup_v2(tmp_path / "cgroup", cpu_max))
    assert (count.number, count.source) == (threads, FROM_CPUS)


def test_threads_option_wins_over_the_variable_and_the_cpus(tmp_path, eight_cpus):
    count = thread_count(3, 2, {THREADS_VARIABLE: "5"}, tmp_path)
    assert (count.number, count.source) == (3, FROM_OPTION)


@pytest.mark.parametrize(("value", "threads"), [("5", 5), ("4,2", 4), (" 6 ", 6)])
def test_the_variable_wins_over_the_cpus(tmp_path, eight_cpus, value, threads):
    count = thread_count(None, 2, {THREADS_VARIABLE: value}, tmp_path)
    assert (count.number, count.source) == (threads, FROM_VARIABLE)


@pytest.mark.parametrize("value", ["", "0", "-2", "many"])
def test_a_variable_that_is_no_count_leaves_the_cpus_to_decide(tmp_path, eight_cpus, value):
    count = thread_count(None, 2, {THREADS_VARIABLE: value}, tmp_path)
    assert (count.number, count.source) == (4, FROM_CPUS)


def test_use_threads_sets_torch_and_the_variable_the_ranks_inherit(monkeypatch):
    monkeypatch.setenv(THREADS_VARIABLE, "0")  # no count: restored after the test
    before = torch.get_num_threads()
    try:
        count = use_threads(1, 1)
        assert torch.get_num_threads() == 1
        assert os.environ[THREADS_VARIABLE] == "1"
        assert (count.number, count.source) == (1, FROM_OPTION)
    finally:
        torch.set_num_threads(before)


def environment(project) -> dict:
    """The environment.yaml of the project's one run."""
    (run_dir,) = project.run_dirs()
    return yaml.safe_load((run_dir / ENVIRONMENT_FILE).read_text())


def test_a_run_takes_and_records_the_threads_given(project):
    process = project.run(*RUN, "--threads", "1")
    assert process.returncode == 0, process.stderr[-3000:]
    recorded = environment(project)
    assert (recorded["threads"], recorded["threads_from"]) == (1, FROM_OPTION)


def test_a_run_without_threads_records_the_count_it_computed(project):
    process = project.run(*RUN)
    assert process.returncode == 0, process.stderr[-3000:]
    expected = thread_count(None, 1, main_environment())  # the run's environment, and one process trains
    recorded = environment(project)
    assert (recorded["threads"], recorded["threads_from"]) == (expected.number, expected.source)


# A net that notes, in each process that trains it, the threads torch uses.
THREADS_NET = '''
import os

import torch
from torch import nn


class ThreadsNet(nn.Module):
    """A linear layer that writes down torch's thread count in each process."""

    def __init__(self, num_features: int = 16, num_classes: int = 10):
        super().__init__()
        self.layer = nn.Linear(num_features, num_classes)

    def forward(self, x):
        with open(f"threads_rank{os.environ.get('LOCAL_RANK', '0')}.txt", "w") as file:
            file.write(str(torch.get_num_threads()))
        return self.layer(x)
'''


def test_each_ddp_process_takes_its_share_of_the_cpus(project):
    project.write("model/threads_net.py", THREADS_NET)
    process = project.run("--model_name", "threads_net", "--dataset", "standard_data", "--accelerator", "cpu",
                          "--devices", "2", "--strategy", "ddp", *FAST)
    assert process.returncode == 0, process.stderr[-3000:]
    expected = thread_count(None, 2, main_environment())
    recorded = environment(project)
    assert (recorded["threads"], recorded["threads_from"]) == (expected.number, expected.source)
    seen = [int((project.root / f"threads_rank{rank}.txt").read_text()) for rank in (0, 1)]
    assert seen == [expected.number, expected.number]


@pytest.mark.parametrize("value", ["0", "-1"])
def test_threads_below_one_are_refused_before_any_run_folder(project, value):
    line = error_line(project.run(*RUN, "--threads", value))
    assert "--threads" in line and value in line
    assert project.run_dirs() == []
