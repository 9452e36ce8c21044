"""Sequence labelling: class scores per token, channels last [B, T, C], as NLP models give them."""

import torch
from torch import nn


class TaggerNet(nn.Module):
    """An embedding per token and a linear layer: tag scores [B, T, C] for token ids [B, T]."""

    def __init__(self, vocabulary: int = 20, num_classes: int = 3, width: int = 16) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, width)
        self.head = nn.Linear(width, num_classes)

    def forward(self, tokens):
        return self.head(torch.relu(self.embedding(tokens)))
