"""Dict items of different lengths, batched by the dataset's own collate_fn."""

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset


class SequenceData(Dataset):
    """Sequences of 2 to 9 numbers; the target says whether their sum is positive."""

    def __init__(self, num_samples: int = 200, data_seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(data_seed)
        lengths = torch.randint(2, 10, (num_samples,), generator=generator)
        self.sequences = [torch.randn(int(length), generator=generator) for length in lengths]

    def __len__(self):
        return len(self.sequences)

    def __getitem__(self, index):
        sequence = self.sequences[index]
        return {"tokens": sequence, "label": int(sequence.sum() > 0)}

    @staticmethod
    def collate_fn(items):
        return {"tokens": pad_sequence([item["tokens"] for item in items], batch_first=True),
                "label": torch.tensor([item["label"] for item in items])}
