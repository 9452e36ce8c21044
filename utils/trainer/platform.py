"""Process settings made through documented interfaces: glibc's mallopt and torch's NVML check."""

import ctypes
import os

# mallopt() parameter numbers, from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# glibc's largest mmap threshold on 64-bit: blocks up to this size come from the heap and are reused.
MMAP_THRESHOLD = 32 * 2**20
# Free memory at the top of the heap beyond this is given back to the system.
TRIM_THRESHOLD = 2**30
# A user who tunes glibc's malloc keeps their own settings.
MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")
NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def on_glibc() -> bool:
    """Whether this process's C library is glibc (whose malloc these settings are for)."""
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):  # not a name this system knows: not glibc
        return False


def user_tuned_malloc() -> bool:
    """Whether the environment sets glibc's malloc parameters."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    return any(name in os.environ for name in MALLOC_VARIABLES) or "glibc.malloc." in tunables


def keep_freed_memory() -> bool:
    """With glibc, serve blocks up to 32 MiB from the heap and keep up to 1 GiB of it free; return whether set."""
    # glibc's adaptive thresholds otherwise map a CPU step's activations afresh (page faults) at every step.
    if not on_glibc() or user_tuned_malloc():
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def stop_probing_for_absent_gpus() -> bool:
    """Where no CUDA GPU exists, let torch answer `cuda.is_available()` from its cached count; return whether set."""
    # Lightning sets the NVML check for fork safety; without a GPU there is no CUDA to start, and torch's optimizers
    # would otherwise query NVML at every step.
    import torch

    if os.environ.get(NVML_CHECK) != "1" or torch.cuda.device_count() > 0:
        return False
    os.environ[NVML_CHECK] = "0"
    return True
