"""A small local token dataset for language models, made in memory: no download."""

import torch
from torch.utils.data import Dataset


class TokenData(Dataset):
    """Blocks of tokens and the same blocks shifted by one, as WikiText2 gives them; each token follows a fixed rule."""

    def __init__(self, vocab_size: int = 64, num_blocks: int = 256, block_size: int = 16, data_seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(data_seed)
        starts = torch.randint(vocab_size, (num_blocks, 1), generator=generator)
        self.tokens = (starts + 7 * torch.arange(block_size + 1)) % vocab_size

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.tokens[index, :-1], self.tokens[index, 1:]
