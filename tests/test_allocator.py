"""Freed memory is reused, not page-faulted in afresh each step; a user's own malloc settings are left alone."""

import os
import subprocess
import sys

import pytest
from conftest import PROJECT

from utils.trainer.platform import MALLOC_VARIABLES, on_glibc

pytestmark = pytest.mark.skipif(not on_glibc(), reason="the settings are glibc's malloc's")

# In a fresh process: optionally make the settings, then allocate and free four 16 MiB tensors twelve times, as
# training steps do their activations. Prints whether the settings were made, how much resident memory the first
# free gave back (glibc's defaults map a process's first large blocks and unmap them when freed), and the page
# faults of the last four rounds (a kept heap takes a few rounds to grow to the rounds' size).
PROBE = """
import os, resource, sys, torch
from utils.trainer.platform import keep_freed_memory
def resident_mib():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
faults, given_back = [], None
for _ in range(12):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [torch.ones(4 * 2**20) for _ in range(4)]
    holding = resident_mib()
    del blocks
    given_back = holding - resident_mib() if given_back is None else given_back
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(kept, round(given_back), sum(faults[-4:]))
"""
LAST_ROUNDS_PAGES = 4 * 4 * 16 * 256


def probe(mode: str, **environment: str) -> tuple[str, int, int]:
    """Run PROBE in a fresh process: whether the settings were made, MiB the first free gave back, page faults of
    the last rounds."""
    env = {name: value for name, value in os.environ.items() if name not in (*MALLOC_VARIABLES, "GLIBC_TUNABLES")}
    process = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=PROJECT, env={**env, **environment},
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr[-2000:]
    made, given_back, faults = process.stdout.split()
    return made, int(given_back), int(faults)


def test_kept_memory_stays_in_the_process_and_is_reused_round_after_round():
    made, given_back, faults = probe("keep")
    _, default_given_back, _ = probe("default")
    assert made == "True"
    assert given_back < 8 and default_given_back > 48  # glibc's defaults unmap the first 64 MiB freed
    assert faults < 0.1 * LAST_ROUNDS_PAGES


@pytest.mark.parametrize("setting", [{"MALLOC_TRIM_THRESHOLD_": "131072"},
                                     {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}])
def test_a_users_own_malloc_setting_is_left_alone(setting):
    made, _, faults = probe("keep", **setting)
    assert made == "False"
    assert faults >= 0.9 * LAST_ROUNDS_PAGES  # their fixed 128 KiB threshold maps every block afresh
