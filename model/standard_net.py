"""The smallest runnable net: copy this file to start your own."""

from torch import nn


class StandardNet(nn.Module):
    """A two-layer perceptron for feature vectors (pairs with StandardData)."""

    # Each keyword parameter becomes a command-line option: `--hidden 128` reaches StandardNet(hidden=128).
    def __init__(self, num_features: int = 16, hidden: int = 64, num_classes: int = 10) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(num_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.layers(x)
