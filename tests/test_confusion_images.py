"""Confusion matrices per val and test set in TensorBoard's images tab, read back from the event files."""

import io
from pathlib import Path

from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import FAST_WITH_IMAGES
from utils.trainer.confusion_images import class_names

EXAMPLES = Path(__file__).parent / "examples"
NAMED_DATA = '''
import torch
from torch.utils.data import Dataset


class NamedData(Dataset):
    """Three named classes, told apart by the sign of two features."""

    classes = ["cat", "dog", "bird"]

    def __init__(self, num_samples: int = 90, data_seed: int = 0):
        self.x = torch.randn(num_samples, 16, generator=torch.Generator().manual_seed(data_seed))
        self.y = (self.x[:, 0] > 0).long() + (self.x[:, 1] > 0).long()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return self.x[index], self.y[index]
'''


def images(run_dir: Path) -> dict[str, list]:
    """Every image TensorBoard reads from the run folder, by tag."""
    accumulator = EventAccumulator(str(run_dir), size_guidance={"images": 0})
    accumulator.Reload()
    return {tag: accumulator.Images(tag) for tag in accumulator.Tags()["images"]}


def test_a_confusion_matrix_per_val_set_at_each_validation_and_per_test_set(project):
    project.write("data/named_data.py", NAMED_DATA)
    process = project.run("--model_name", "standard_net", "--train_dataset", "named_data", "--val_datasets",
                          "a=named_data:data_seed=1", "b=named_data:data_seed=2", "--test_datasets", "named_data",
                          "--num_classes", "3", *FAST_WITH_IMAGES, "--max_epochs", "2", "--confusion_images", "every")
    assert process.returncode == 0, process.stderr[-3000:]
    (run_dir,) = project.run_dirs()
    found = images(run_dir)
    assert set(found) == {"confusion/val/a", "confusion/val/b", "confusion/test/named_data"}
    assert [image.step for image in found["confusion/val/a"]] == [1, 2]  # one batch an epoch
    picture = Image.open(io.BytesIO(found["confusion/val/b"][-1].encoded_image_string))
    assert picture.format == "PNG" and picture.width > 200 and picture.height > 200


def test_by_default_only_the_last_validation_is_drawn_and_off_draws_none(project):
    project.write("data/named_data.py", NAMED_DATA)
    common = ("--model_name", "standard_net", "--dataset", "named_data", "--num_classes", "3", *FAST_WITH_IMAGES,
              "--max_epochs", "3")
    assert project.run(*common).returncode == 0
    assert project.run(*common, "--confusion_images", "off").returncode == 0
    last, off = project.run_dirs()
    found = images(last)
    assert [image.step for image in found["confusion/val/named_data"]] == [3]
    assert len(found["confusion/test/named_data"]) == 1
    assert images(off) == {}


def test_a_binary_task_gets_its_two_by_two_matrix(project):
    project.write("data/named_data.py", NAMED_DATA.replace("(self.x[:, 1] > 0).long()", "0"))
    process = project.run("--model_name", "standard_net", "--dataset", "named_data", "--task", "binary",
                          "--num_classes", "1", *FAST_WITH_IMAGES)
    assert process.returncode == 0, process.stderr[-3000:]
    (run_dir,) = project.run_dirs()
    assert {"confusion/val/named_data", "confusion/test/named_data"} <= set(images(run_dir))


def test_segmentation_gets_its_pixels_confusion_matrix(project):
    for folder, name in (("model", "seg_net"), ("data", "seg_data")):
        project.write(f"{folder}/{name}.py", (EXAMPLES / f"{name}.py").read_text())
    process = project.run("--model_name", "seg_net", "--dataset", "seg_data", "--task", "segmentation",
                          *FAST_WITH_IMAGES)
    assert process.returncode == 0, process.stderr[-3000:]
    (run_dir,) = project.run_dirs()
    assert {"confusion/val/seg_data", "confusion/test/seg_data"} <= set(images(run_dir))


def test_class_names_come_from_the_dataset_or_the_one_it_was_cut_from():
    class Named:
        classes = ("cat", "dog")

    class Part:
        dataset = Named()

    assert class_names(Named(), 2) == ["cat", "dog"] and class_names(Part(), 2) == ["cat", "dog"]
    assert class_names(Named(), 3) is None and class_names(object(), 2) is None
