"""Checks of what a run asks of the machine and of its loop lengths: values that exhaust it or train nothing."""

import os
from typing import Any

import torch

from utils.errors import UserError
from utils.machine import usable_cpus

# DataLoader workers beyond this many per core only wait on each other (and each holds a copy of the dataset).
WORKERS_PER_CORE = 4
# What tells Lightning where the other nodes are: without any, processes of a multi-node run never meet.
RENDEZVOUS_VARIABLES = ("MASTER_ADDR", "SLURM_NTASKS", "WORLD_SIZE")


def runs_on_cpu(options: dict[str, Any]) -> bool:
    """Whether the run trains on the CPU: asked for, or auto on a machine without a visible CUDA GPU."""
    return options["accelerator"] == "cpu" or (options["accelerator"] == "auto" and not torch.cuda.is_available())


def check_resources(options: dict[str, Any]) -> None:
    """Refuse process counts the machine cannot run, nodes that cannot meet, and a fit that trains nothing."""
    # The affinity capped by the cgroup's quota: a container on a 64-core host given 2 CPUs has 2 cores to run on.
    cores, devices = usable_cpus(), options["devices"]
    if runs_on_cpu(options) and isinstance(devices, int) and devices > cores:
        raise UserError(f"--devices {devices} starts {devices} training processes on CPU, but this process may use "
                        f"{cores} cores: pass at most --devices {cores}")
    if options["num_workers"] > WORKERS_PER_CORE * cores:
        raise UserError(f"--num_workers {options['num_workers']} starts that many loader processes per training "
                        f"process on {cores} cores: pass at most {WORKERS_PER_CORE * cores} (0 loads in the "
                        f"training process)")
    if options["num_nodes"] > 1 and not any(name in os.environ for name in RENDEZVOUS_VARIABLES):
        raise UserError(f"--num_nodes {options['num_nodes']} waits for processes on other machines, and nothing "
                        f"says where they meet: start each node with MASTER_ADDR, MASTER_PORT and NODE_RANK set, or "
                        f"through torchrun or srun (scripts/slurm_train.sbatch)")
    if options["mode"] == "fit" and options["limit_train_batches"] == 0 and not options["fast_dev_run"]:
        raise UserError("--limit_train_batches 0 trains nothing and would save an untrained net: pass a count of "
                        "batches or a fraction such as 0.1, or use --mode validate --ckpt PATH to only validate")
