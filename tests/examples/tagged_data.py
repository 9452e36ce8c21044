"""Token sequences of different lengths with one tag per token, padded by the dataset's collate_fn."""

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset

PADDING_TAG = -100  # what --ignore_index -100 leaves out of the loss and the metrics


class TaggedData(Dataset):
    """Sequences of token ids 1 .. vocabulary - 1 (0 pads); a token's tag is its id modulo 3."""

    def __init__(self, num_samples: int = 256, vocabulary: int = 20, min_length: int = 3, max_length: int = 12,
                 data_seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(data_seed)
        lengths = torch.randint(min_length, max_length + 1, (num_samples,), generator=generator)
        self.sequences = [torch.randint(1, vocabulary, (int(length),), generator=generator) for length in lengths]

    def __len__(self):
        return len(self.sequences)

    def __getitem__(self, index):
        tokens = self.sequences[index]
        return tokens, tokens % 3

    @staticmethod
    def collate_fn(items):
        tokens, tags = zip(*items, strict=True)
        return (pad_sequence(tokens, batch_first=True, padding_value=0),
                pad_sequence(tags, batch_first=True, padding_value=PADDING_TAG))
