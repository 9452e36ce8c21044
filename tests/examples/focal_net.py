"""A net with its own loss, returning (logits, features): the loss gets the whole outputs."""

import torch.nn.functional as F
from torch import nn


class FocalNet(nn.Module):
    """A perceptron trained with a focal loss it defines itself."""

    def __init__(self, num_features: int = 16, num_classes: int = 10, gamma: float = 2.0) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(num_features, 32), nn.ReLU())
        self.head = nn.Linear(32, num_classes)
        self.gamma = gamma

    def forward(self, x):
        features = self.body(x)
        return self.head(features), features

    def loss(self, outputs, target):
        logits, _ = outputs
        cross_entropy = F.cross_entropy(logits, target, reduction="none")
        return ((1 - (-cross_entropy).exp()) ** self.gamma * cross_entropy).mean()
