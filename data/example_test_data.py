"""The MNIST test digits."""

from data._mnist_files import MnistImages, load_mnist


class ExampleTestData(MnistImages):
    """The 10,000 MNIST test digits, with optional fixed Gaussian noise of std `noise_std`."""

    def __init__(self, data_dir: str = "example_Minist_data", noise_std: float = 0.0) -> None:
        images, labels = load_mnist(data_dir, "test")
        super().__init__(images, labels, noise_std=noise_std)
