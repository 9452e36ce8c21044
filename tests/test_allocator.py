"""Freed memory is reused, not page-faulted in afresh each step; a user's own malloc settings are left alone."""

import os
import subprocess
import sys

import pytest
from conftest import PROJECT

from utils.allocator import MALLOC_VARIABLES, on_glibc

pytestmark = pytest.mark.skipif(not on_glibc(), reason="the settings are glibc's malloc's")

# In a fresh process: optionally make the settings, then allocate and free blocks of 8 to 23 MiB, each larger
# than any freed before (so glibc's adaptive threshold is always below it and maps it afresh), and print whether
# the settings were made and the minor page faults of the last six blocks.
PROBE = """
import resource, sys, torch
from utils.allocator import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
faults = []
for mebibytes in range(8, 24):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = torch.ones(mebibytes * 2**18)
    del block
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(kept, sum(faults[-6:]))
"""
LAST_BLOCKS_PAGES = sum(mebibytes * 256 for mebibytes in range(18, 24))


def probe(mode: str, **environment: str) -> tuple[str, int]:
    """Run PROBE in a fresh process; returns (whether the settings were made, page faults of the last rounds)."""
    env = {name: value for name, value in os.environ.items() if name not in (*MALLOC_VARIABLES, "GLIBC_TUNABLES")}
    process = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=PROJECT, env={**env, **environment},
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr[-2000:]
    made, faults = process.stdout.split()
    return made, int(faults)


def test_kept_memory_is_reused_where_glibcs_defaults_map_every_block_afresh():
    made, kept_faults = probe("keep")
    _, default_faults = probe("default")
    assert made == "True"
    assert default_faults >= 0.9 * LAST_BLOCKS_PAGES
    assert kept_faults < 0.2 * LAST_BLOCKS_PAGES  # only the heap's growth from one block to the next


@pytest.mark.parametrize("setting", [{"MALLOC_TRIM_THRESHOLD_": "131072"},
                                     {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}])
def test_a_users_own_malloc_setting_is_left_alone(setting):
    made, faults = probe("keep", **setting)
    assert made == "False"
    assert faults >= 0.9 * LAST_BLOCKS_PAGES  # no settings made: glibc maps every block afresh
