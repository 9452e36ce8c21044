"""Keep torch from asking the GPU driver whether a GPU exists on every optimizer step of a CPU-only machine."""

import os

NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def stop_probing_for_absent_gpus() -> bool:
    """Where NVML finds no CUDA GPU, let `torch.cuda.is_available()` answer from torch's cached device count.

    Importing Lightning sets PYTORCH_NVML_BASED_CUDA_CHECK=1 (so that checking for GPUs before a fork does not
    start CUDA). torch then queries NVML afresh on every `cuda.is_available()`, and torch's optimizers call it on
    every step: with a CUDA build of torch on a machine without a GPU that is about 0.1 ms a step, as much as the
    whole Adam step of a small net. With no GPU there is no CUDA to start, so the cached answer is as safe.
    Returns whether the check was switched off.
    """
    import torch

    if os.environ.get(NVML_CHECK) != "1" or torch.cuda.device_count() > 0:
        return False
    os.environ[NVML_CHECK] = "0"
    return True
