"""A perceptron whose training loss turns NaN or infinite at a chosen step, or whose validation outputs are NaN."""

import torch
import torch.nn.functional as F
from torch import nn


class DivergingNet(nn.Module):
    """Its loss is `bad` (nan, inf, -inf) at training step `bad_step`, counted from 0.

    With `poison`, the outputs themselves turn bad there, so the weights and every later loss follow; without it, that
    step's loss alone is bad and the next ones are finite again. While it has trained `nan_val_until` steps or fewer,
    its outputs outside training are NaN (a val loss that is NaN beside a finite training loss).
    """

    def __init__(self, num_features: int = 16, num_classes: int = 10, bad_step: int = -1, bad: str = "nan",
                 poison: bool = False, nan_val_until: int = -1) -> None:
        super().__init__()
        self.layer = nn.Linear(num_features, num_classes)
        self.bad_step, self.bad, self.poison, self.nan_val_until = bad_step, float(bad), poison, nan_val_until
        self.steps = 0

    def at_bad_step(self) -> bool:
        return self.training and torch.is_grad_enabled() and self.steps - 1 == self.bad_step

    def forward(self, x):
        outputs = self.layer(x)
        if self.training and torch.is_grad_enabled():
            self.steps += 1
            return outputs * self.bad if self.poison and self.at_bad_step() else outputs
        return outputs * float("nan") if self.steps <= self.nan_val_until else outputs

    def loss(self, outputs, target):
        loss = F.cross_entropy(outputs, target)
        return loss + self.bad if self.at_bad_step() and not self.poison else loss
