"""Held-out MNIST training digits for validation, clean or with Gaussian noise."""

from data._mnist_files import MnistImages, split_training_digits


class ExampleEvalData(MnistImages):
    """The last `holdout` MNIST training digits, with optional fixed Gaussian noise of std `noise_std`."""

    def __init__(self, data_dir: str = "example_Minist_data", holdout: int = 5000, noise_std: float = 0.0) -> None:
        _, eval_part = split_training_digits(data_dir, holdout)
        super().__init__(*eval_part, noise_std=noise_std)
