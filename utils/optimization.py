"""Optimizers and learning-rate schedulers chosen by name, with optional linear warm-up."""

from typing import Any

import torch
from torch.optim import lr_scheduler

from utils.config.settings import OptimizationSettings


def build_optimizer(parameters: Any, settings: OptimizationSettings) -> torch.optim.Optimizer:
    """Build sgd, adam or adamw from the run's settings."""
    name, lr, weight_decay = settings.optimizer, settings.lr, settings.weight_decay
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=settings.momentum, nesterov=settings.nesterov,
                               weight_decay=weight_decay)
    optimizer_class = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    return optimizer_class(parameters, lr=lr, betas=tuple(settings.betas), weight_decay=weight_decay)


def _epoch_scheduler(optimizer: torch.optim.Optimizer, settings: OptimizationSettings, max_epochs: int) -> Any:
    name = settings.scheduler
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=settings.step_size, gamma=settings.gamma)
    if name == "multistep":
        return lr_scheduler.MultiStepLR(optimizer, milestones=settings.milestones, gamma=settings.gamma)
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs, eta_min=settings.min_lr)
    if name == "cosine_restarts":
        return lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=settings.t_0, T_mult=settings.t_mult,
                                                        eta_min=settings.min_lr)
    if name == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=settings.gamma)
    return lr_scheduler.ReduceLROnPlateau(optimizer, mode=settings.monitor_mode,
                                          factor=settings.plateau_factor, patience=settings.plateau_patience)


def build_schedulers(optimizer: torch.optim.Optimizer, settings: OptimizationSettings, max_epochs: int) -> list[dict]:
    """Lightning scheduler configs: a per-step linear warm-up, then the chosen per-epoch scheduler.

    Both are chainable (each multiplies the current learning rate), so the warm-up ramps the rate up
    over its first steps and then leaves it to the epoch scheduler.
    """
    configs = []
    if settings.warmup_steps > 0:
        warmup = lr_scheduler.LinearLR(optimizer, start_factor=1.0 / (settings.warmup_steps + 1),
                                       total_iters=settings.warmup_steps)
        configs.append({"scheduler": warmup, "interval": "step", "name": "lr-warmup"})
    if settings.scheduler != "none":
        config = {"scheduler": _epoch_scheduler(optimizer, settings, max_epochs), "interval": "epoch", "name": "lr"}
        if settings.scheduler == "plateau":
            config["monitor"] = settings.monitor
        configs.append(config)
    return configs
