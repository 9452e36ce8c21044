"""MNIST training digits, read from example_Minist_data/."""

from data._mnist_files import MnistImages, split_training_digits


class ExampleTrainData(MnistImages):
    """The MNIST training digits less the last `holdout`, which ExampleEvalData keeps for validation."""

    def __init__(self, data_dir: str = "example_Minist_data", holdout: int = 5000) -> None:
        train_part, _ = split_training_digits(data_dir, holdout)
        super().__init__(*train_part)
