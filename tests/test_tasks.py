"""Any task through main.py: segmentation, multi-label, a net's own loss, dict items with a collate_fn, images out.

The nets and datasets are the README's worked examples, kept in tests/examples/ and copied into a project copy.
"""

import json
from pathlib import Path

import pytest
import torch
from conftest import error_line, linear_net_with_metrics
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

EXAMPLES = Path(__file__).parent / "examples"
QUICK = ("--max_epochs", "2", "--batch_size", "16", "--log_every_n_steps", "1")


def add_examples(project, *names: str) -> None:
    """Copy worked examples into the project's model/ or data/ folder by their suffix."""
    for name in names:
        folder = "model" if name.endswith("_net") else "data"
        project.write(f"{folder}/{name}.py", (EXAMPLES / f"{name}.py").read_text())


def last_scalars(run_dir: Path) -> dict[str, float]:
    """The last value of every scalar in a run's TensorBoard events."""
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return {tag: events.Scalars(tag)[-1].value for tag in events.Tags()["scalars"]}


def trained(project, *arguments: str) -> tuple[dict[str, float], dict]:
    """Run main.py to the end; return the last TensorBoard scalars and results.json."""
    process = project.run(*arguments)
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()[-1:]
    return last_scalars(run_dir), json.loads((run_dir / "results.json").read_text())


def test_segmentation_scores_pixels_with_iou_above_chance(project):
    add_examples(project, "seg_net", "seg_data")
    scalars, results = trained(project, "--model_name", "seg_net", "--dataset", "seg_data", "--task", "segmentation",
                               "--num_samples", "256", "--lr", "0.05", *QUICK)
    assert {"val/seg_data/iou", "val/seg_data/accuracy", "train/iou", "test/seg_data/iou"} <= scalars.keys()
    assert scalars["val/seg_data/iou"] > 0.5  # three classes: chance is about 0.2
    assert results["test"]["seg_data"]["accuracy"] > 0.6


def test_multilabel_reports_auroc_per_dataset(project):
    add_examples(project, "tags_data")
    scalars, _ = trained(project, "--model_name", "standard_net", "--dataset", "tags_data", "--task", "multilabel",
                         "--num_classes", "4", "--metrics", "auroc", "f1", "--lr", "0.01", *QUICK)
    assert {"val/tags_data/auroc", "val/tags_data/f1", "val/auroc"} <= scalars.keys()
    assert scalars["val/tags_data/auroc"] > 0.8


def first_step_loss(run_dir: Path) -> float:
    """The first logged training step's loss of a run."""
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return events.Scalars("train/loss_step")[0].value


def test_a_net_with_its_own_loss_and_tuple_outputs_trains_on_it(project):
    add_examples(project, "focal_net")
    losses = []
    # gamma 0 is plain cross-entropy; more gamma, a smaller loss on the same step. Only the second run's accuracy
    # is read: the first trains no further than its first steps.
    for gamma, size in (("0.0", ("--limit_train_batches", "2", "--limit_val_batches", "2")), ("3.0", ())):
        # The net owns the plain --gamma; a step scheduler's would be --scheduler.gamma.
        process = project.run("--model_name", "focal_net", "--dataset", "standard_data", "--gamma", gamma,
                              "--scheduler", "step", "--scheduler.gamma", "0.5", *QUICK, *size)
        assert process.returncode == 0, process.stderr[-3000:]
        run_dir = project.run_dirs()[-1]
        config = (run_dir / "config.yaml").read_text()
        assert f"gamma: {gamma}" in config and "scheduler.gamma: 0.5" in config
        losses.append(first_step_loss(run_dir))
    assert losses[1] < 0.85 * losses[0]  # (1 - p) ** 3 with p about 0.1 at the first step
    assert last_scalars(project.run_dirs()[-1])["val/standard_data/accuracy"] > 0.5  # ten classes


CRITERION_NET = """from torch import nn


class CriterionNet(nn.Module):
    def __init__(self, num_features: int = 16, num_classes: int = 10):
        super().__init__()
        self.layers = nn.Linear(num_features, num_classes)
        self.loss = nn.CrossEntropyLoss()  # a criterion kept as an attribute: the net's own loss too

    def forward(self, x):
        return self.layers(x)
"""


@pytest.mark.parametrize(("arguments", "words"), [
    (("--model_name", "focal_net", "--loss", "mse"), ("FocalNet has its own loss", "--loss mse would do nothing")),
    (("--model_name", "focal_net", "--label_smoothing", "0.1"), ("--label_smoothing 0.1 would do nothing",)),
    (("--model_name", "criterion_net", "--label_smoothing", "0.1"), ("CriterionNet has its own loss",)),
    (("--model_name", "standard_net", "--loss", "mse", "--label_smoothing", "0.1"),
     ("--label_smoothing 0.1 smooths the class targets of cross_entropy", "loss of this run is mse")),
])
def test_loss_options_a_run_would_not_use_are_one_error_line(project, arguments, words):
    add_examples(project, "focal_net")
    project.write("model/criterion_net.py", CRITERION_NET)
    line = error_line(project.run(*arguments, "--dataset", "standard_data", *QUICK))
    assert all(word in line for word in words), line
    assert not project.run_dirs()


def test_a_run_of_a_net_with_its_own_loss_reruns_from_its_config(project):
    add_examples(project, "focal_net")
    first = project.run("--model_name", "focal_net", "--dataset", "standard_data", *QUICK, "--max_epochs", "1")
    assert first.returncode == 0, first.stderr[-3000:]
    rerun = project.run("--config", str(project.run_dirs()[0] / "config.yaml"))
    assert rerun.returncode == 0, rerun.stderr[-3000:]


RARE_LENGTHS_DATA = """import torch
from torch.utils.data import Dataset


class RareLengthsData(Dataset):
    def __len__(self):
        return 200

    def __getitem__(self, index):
        sequence = torch.randn(9 if index % 50 == 49 else 5, generator=torch.Generator().manual_seed(index))
        return sequence, int(sequence.sum() > 0)
"""
PADDING = """

def collate_fn(items):
    sequences, labels = zip(*items)
    return torch.nn.utils.rnn.pad_sequence(sequences, batch_first=True), torch.tensor(labels)
"""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_items_of_a_rare_other_shape_are_one_error_line_and_a_collate_fn_in_the_file_batches_them(project, workers):
    add_examples(project, "sum_net")
    project.write("data/rare_lengths_data.py", RARE_LENGTHS_DATA)
    arguments = ("--model_name", "sum_net", "--dataset", "rare_lengths_data", "--num_workers", workers, "--lr", "0.05",
                 *QUICK)
    process = project.run(*arguments)  # the first two items have one length: the run starts
    assert process.returncode == 2 and "Traceback" not in process.stderr, process.stderr[-3000:]
    line = process.stderr.strip().splitlines()[-1]
    assert line.startswith("error: a batch of RareLengthsData's items cannot be made") and "collate_fn" in line, line
    project.write("data/rare_lengths_data.py", RARE_LENGTHS_DATA + PADDING)
    _, results = trained(project, *arguments)
    assert results["val"]["rare_lengths_data"]["accuracy"] > 0.5


SQUASHING_NET = """import torch
from torch import nn


class Gate(nn.Sigmoid):
    pass


class SquashingNet(nn.Module):
    def __init__(self, num_features: int = 16, num_classes: int = 10, last: str = "softmax_layer"):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(num_features, 8), nn.ReLU(), nn.Linear(8, num_classes))
        self.gate, self.softmax, self.sigmoid, self.last = Gate(), nn.Softmax(dim=1), nn.Sigmoid(), last

    def forward(self, x):
        logits = self.layers(x * self.gate(x))  # a sigmoid inside the net (a subclass of nn.Sigmoid) is no last one
        if self.last == "softmax_layer":
            return self.softmax(logits)
        if self.last == "sigmoid_layer_squeezed":
            return self.sigmoid(logits).squeeze(1)
        if self.last == "sigmoid_function":
            return torch.sigmoid(logits).flatten()
        return logits
"""


@pytest.mark.parametrize(("last", "arguments", "words"), [
    ("softmax_layer", (), ("returns the result of a softmax", "--loss cross_entropy applies a log-softmax")),
    ("sigmoid_layer_squeezed", ("--num_classes", "1", "--task", "binary"),
     ("returns the result of a sigmoid", "--loss bce_with_logits applies a sigmoid itself")),
    ("sigmoid_function", ("--num_classes", "1", "--task", "binary"), ("returns the result of a sigmoid",)),
])
def test_a_net_ending_in_the_squashing_its_loss_applies_itself_is_one_error_line(project, last, arguments, words):
    project.write("model/squashing_net.py", SQUASHING_NET)
    line = error_line(project.run("--model_name", "squashing_net", "--dataset", "standard_data", "--last", last,
                                  *arguments, *QUICK))
    assert "SquashingNet" in line and all(word in line for word in words), line


def test_a_squashing_the_loss_does_not_apply_or_inside_the_net_is_left_be(project):
    project.write("model/squashing_net.py", SQUASHING_NET)
    arguments = ("--model_name", "squashing_net", "--dataset", "standard_data", *QUICK, "--max_epochs", "1")
    assert project.run(*arguments, "--loss", "mse").returncode == 0  # a softmax under a loss on probabilities
    assert project.run(*arguments, "--last", "logits").returncode == 0


OWN_LOSS_BINARY_NET = """import torch
import torch.nn.functional as F
from torch import nn


class OwnLossBinaryNet(nn.Module):
    def __init__(self, squash: bool = False):
        super().__init__()
        self.unused, self.squash = nn.Linear(1, 1), squash

    def forward(self, x):
        scores = 0.25 + 0.5 * (x[:, 0] > 0).float() + 0.0 * self.unused.weight.sum()  # 0.25 or 0.75
        return torch.sigmoid(8 * (scores - 0.5)) if self.squash else scores

    def loss(self, outputs, target):
        if self.squash:
            return F.binary_cross_entropy(outputs, target.float())
        return F.binary_cross_entropy_with_logits(outputs, target.float())
"""


def test_a_net_with_its_own_loss_is_scored_as_logits_unless_it_returns_a_sigmoids_result(project):
    project.write("data/items_data.py", ITEMS_DATA)  # targets: whether the first feature is positive
    project.write("model/own_loss_binary_net.py", OWN_LOSS_BINARY_NET)
    arguments = ("--model_name", "own_loss_binary_net", "--dataset", "items_data", "--task", "binary", *QUICK,
                 "--max_epochs", "1")
    # Logits of 0.25 and 0.75 are both positive: the accuracy is the share of positives (torchmetrics alone would
    # read them as probabilities, all right: 1.0).
    _, logits = trained(project, *arguments)
    assert 0.3 < logits["val"]["items_data"]["accuracy"] < 0.7, logits
    _, probabilities = trained(project, *arguments, "--squash")
    assert probabilities["val"]["items_data"]["accuracy"] == 1.0


ITEMS_DATA = """import torch
from torch.utils.data import Dataset


class ItemsData(Dataset):
    def __init__(self):
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(200, 16, generator=generator)
        self.y = (self.x[:, 0] > 0).long()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return self.x[index], self.y[index]

    def __getitems__(self, indices):  # torch's meaning: a list of items, which the loader then collates
        return [self[index] for index in indices]
"""


def test_a_getitems_that_returns_a_list_of_items_trains_as_torch_reads_it(project):
    project.write("data/items_data.py", ITEMS_DATA)
    _, results = trained(project, "--model_name", "standard_net", "--dataset", "items_data", "--num_classes", "2",
                         "--lr", "0.01", *QUICK)
    assert results["val"]["items_data"]["accuracy"] > 0.8


def test_float64_inputs_from_numpy_are_one_error_line_saying_how_to_convert_them(project):
    project.write("data/items_data.py", ITEMS_DATA.replace("self.x[index], self.y[index]",
                                                           "self.x[index].double().numpy(), self.y[index]"))
    line = error_line(project.run("--model_name", "standard_net", "--dataset", "items_data", *QUICK))
    assert "StandardNet failed on a batch" in line and "float64 inputs" in line and ".float()" in line, line


def test_tokenizer_style_items_of_a_dict_and_a_target_are_one_error_line_saying_how_to_give_them(project):
    # ({"input_ids": ..., "attention_mask": ...}, label), as a tokenizer's output beside its label is often given.
    project.write("data/items_data.py", ITEMS_DATA.replace("self.x[index], self.y[index]",
                                                           '{"features": self.x[index]}, self.y[index]'))
    line = error_line(project.run("--model_name", "standard_net", "--dataset", "items_data", *QUICK))
    assert "StandardNet failed on a batch" in line and "one flat dict" in line and "--input_key" in line, line


TWO_EMBEDDINGS_NET = """import torch.nn.functional as F
from torch import nn


class TwoEmbeddingsNet(nn.Module):
    \"\"\"A siamese-style net: two embeddings and its own loss on their distance.\"\"\"

    def __init__(self):
        super().__init__()
        self.first, self.second = nn.Linear(16, 8), nn.Linear(16, 8)

    def forward(self, x):
        return self.first(x), self.second(x)

    def loss(self, outputs, target):
        return (F.pairwise_distance(*outputs) - target.float()).pow(2).mean()
"""


def test_a_net_of_its_own_loss_and_several_outputs_is_told_what_the_default_metrics_score(project):
    project.write("model/two_embeddings_net.py", TWO_EMBEDDINGS_NET)
    arguments = ("--model_name", "two_embeddings_net", "--dataset", "standard_data:num_classes=2", "--max_epochs", "1")
    process = project.run(*arguments)
    assert process.returncode == 0, process.stderr[-3000:]
    [note] = [line for line in process.stdout.splitlines() if line.startswith("note: TwoEmbeddingsNet")]
    assert "returns 2 outputs" in note and "(accuracy, f1)" in note and "8 classes" in note, note
    assert "--metrics none" in note, note
    quiet = project.run(*arguments, "--metrics", "none")
    assert quiet.returncode == 0 and "note: TwoEmbeddingsNet" not in quiet.stdout, quiet.stderr[-3000:]


FEATURES_FIRST_NET = """import torch
from torch import nn


class FeaturesFirstNet(nn.Module):
    def __init__(self, num_features: int = 16, num_classes: int = 10):
        super().__init__()
        self.body, self.head = nn.Linear(num_features, 32), nn.Linear(32, num_classes)

    def forward(self, x):
        features = torch.relu(self.body(x))
        return features, self.head(features)
"""


def test_a_tuple_whose_first_element_is_not_the_class_scores_is_one_error_line(project):
    project.write("model/features_first_net.py", FEATURES_FIRST_NET)
    arguments = ("--model_name", "features_first_net", "--dataset", "standard_data", *QUICK)
    line = error_line(project.run(*arguments))
    assert "FeaturesFirstNet returns a tuple whose element 0, the one the loss and metrics read" in line, line
    assert "(32 classes)" in line and "num_classes=10" in line and "return the class scores there" in line, line
    assert "or pass --output_key N to read element N" in line, line
    # --output_key 1 reads the scores where they are; a name reads nothing in a tuple, and an index past its end.
    scalars, results = trained(project, *arguments, "--output_key", "1")
    assert scalars["val/standard_data/accuracy"] > 0.5 and results["val"]["standard_data"]["accuracy"] > 0.5
    line = error_line(project.run(*arguments, "--output_key", "scores"))
    assert "--output_key scores names an entry, but FeaturesFirstNet returns a plain tuple" in line, line
    assert "--output_key 0 to 1" in error_line(project.run(*arguments, "--output_key", "2"))
    project.write("model/features_first_net.py", FEATURES_FIRST_NET.replace("features, self.head(features)",
                                                                            "self.head(features), features"))
    assert project.run(*arguments, "--max_epochs", "1").returncode == 0
    # Whatever part is read: element 1 is now the 32 features, and a dict's entry the same.
    assert "whose element 1, the one the loss and metrics read, has shape (2, 32)" in error_line(
        project.run(*arguments, "--output_key", "1"))
    project.write("model/features_first_net.py", FEATURES_FIRST_NET.replace(
        "features, self.head(features)", '{"features": features, "logits": self.head(features)}'))
    line = error_line(project.run(*arguments, "--output_key", "features"))
    assert "returns outputs whose entry 'features', the one the loss and metrics read, has shape (2, 32)" in line, line


LOSS_FIRST_NET = """import torch.nn.functional as F
from torch import nn


class LossFirstNet(nn.Module):
    def __init__(self, num_features: int = 16, num_classes: int = 10):
        super().__init__()
        self.layer = nn.Linear(num_features, num_classes)

    def forward(self, x):
        logits = self.layer(x)
        return logits.square().mean(), logits  # a paper's auxiliary loss, then the scores
"""


def test_a_tuple_whose_element_0_has_the_wrong_shape_says_which_element_it_read(project):
    project.write("model/loss_first_net.py", LOSS_FIRST_NET)
    arguments = ("--model_name", "loss_first_net", "--dataset", "standard_data", *QUICK)
    line = error_line(project.run(*arguments))
    assert "LossFirstNet outputs shape () (element 0 of the tuple it returns, the one read: --output_key N reads " \
           "element N) for targets of shape" in line, line
    assert project.run(*arguments, "--output_key", "1", "--max_epochs", "1").returncode == 0
    # Written to be called with the labels, as paper code often is: forward never gets the targets.
    project.write("model/loss_first_net.py", LOSS_FIRST_NET.replace("def forward(self, x):", "def forward(self, x, "
                                                                    "labels):"))
    line = error_line(project.run(*arguments))
    assert "missing 1 required positional argument: 'labels' (forward is given the inputs and the entries of a " \
           "dict batch it names, never the targets: for a second input, give dict items, --input_key naming the " \
           "first" in line, line
    assert "for a target it reads, give the parameter a default of None" in line, line


def test_dict_items_of_different_lengths_use_the_dataset_s_collate_fn(project):
    add_examples(project, "sum_net", "sequence_data")
    scalars, _ = trained(project, "--model_name", "sum_net", "--dataset", "sequence_data", "--input_key", "tokens",
                         "--target_key", "label", "--lr", "0.05", *QUICK)
    assert scalars["val/sequence_data/accuracy"] > 0.8


def test_an_image_to_image_net_is_scored_with_psnr_and_ssim(project):
    add_examples(project, "denoise_net", "noisy_images_data")
    scalars, results = trained(project, "--model_name", "denoise_net", "--dataset", "noisy_images_data", "--task",
                               "regression", "--metrics", "psnr:data_range=1.0", "ssim:data_range=1.0", "mae",
                               "--monitor", "val/psnr", "--monitor_mode", "max", "--lr", "0.01", *QUICK)
    assert {"val/noisy_images_data/psnr", "val/noisy_images_data/ssim", "val/noisy_images_data/mae"} <= scalars.keys()
    assert results["monitor"] == "val/psnr" and results["val"]["noisy_images_data"]["psnr"] > 14  # noise alone: 14


FIXED_NET = """
from torch import nn


class FixedNet(nn.Module):
    def __init__(self, num_features: int = 16):
        super().__init__()
        self.layer = nn.Linear(num_features, 3)

    def forward(self, x):
        return self.layer(x)
"""


def test_the_number_of_classes_comes_from_the_net_and_a_contradiction_is_refused(project):
    project.write("model/fixed_net.py", FIXED_NET)
    three = ("--model_name", "fixed_net", "--dataset", "standard_data", "--num_samples", "100")
    line = error_line(project.run(*three, "--num_classes", "5"))
    assert "--num_classes 5" in line and "FixedNet" in line and "3 classes" in line
    process = project.run(*three, "--data_seed", "1", "--max_epochs", "1", "--limit_train_batches", "1")
    assert "(StandardData) has the target" in error_line(process) and "--num_classes 3" in error_line(process)
    _, results = trained(project, *three, "--num_classes", "3", "--max_epochs", "1", "--limit_train_batches", "1")
    assert "f1" in results["val"]["standard_data"]


@pytest.mark.parametrize(("data", "arguments", "words"), [
    ("import torch\nfrom torch.utils.data import Dataset\n\n\nclass ListsData(Dataset):\n    def __len__(self):\n"
     "        return 8\n\n    def __getitem__(self, index):\n        return torch.zeros(index + 1), 0\n",
     (), ("ListsData", "cannot be batched", "collate_fn")),
    ("import torch\nfrom torch.utils.data import Dataset\n\n\nclass ListsData(Dataset):\n    def __len__(self):\n"
     "        return 8\n\n    def __getitem__(self, index):\n        return torch.zeros(16), None\n",
     (), ("ListsData", "a target")),
    ("import torch\nfrom torch.utils.data import Dataset\n\n\nclass ListsData(Dataset):\n    def __len__(self):\n"
     "        return 8\n\n    def __getitem__(self, index):\n        return {'x': torch.zeros(16), 'y': 0}\n",
     (), ("'inputs'", "--input_key", "x, y")),
    ("import torch\nfrom torch.utils.data import Dataset\n\n\nclass ListsData(Dataset):\n    def __len__(self):\n"
     "        return 8\n\n    def __getitem__(self, index):\n        return torch.zeros(16), 0\n",
     ("--metrics", "acuracy"), ("acuracy", "did you mean 'accuracy'")),
    ("from PIL import Image\nfrom torch.utils.data import Dataset\n\n\nclass ListsData(Dataset):\n"
     "    def __len__(self):\n        return 8\n\n    def __getitem__(self, index):\n"
     "        return Image.new('L', (4, 4)), 0\n", (), ("ListsData", "PIL images", "ToTensor")),
    ("import torch\nfrom torch.utils.data import Dataset\n\n\nclass ListsData(Dataset):\n    def __init__(self):\n"
     "        self.items = [torch.zeros(16)] * 50\n\n    def __len__(self):\n        return 100\n\n"
     "    def __getitem__(self, index):\n        return self.items[index], 0\n",
     (), ("ListsData", "says it has 100 items", "item 99", "__len__")),
])
def test_items_the_template_cannot_batch_are_one_error_line(project, data, arguments, words):
    project.write("data/lists_data.py", data)
    line = error_line(project.run("--model_name", "standard_net", "--dataset", "lists_data", *arguments))
    assert all(word in line for word in words), line
    assert not project.logs.exists()


def test_a_dict_output_without_the_output_key_names_its_keys(project):
    add_examples(project, "sum_net", "sequence_data")
    line = error_line(project.run("--model_name", "sum_net", "--dataset", "sequence_data", "--input_key", "tokens",
                                  "--target_key", "label", "--output_key", "scores"))
    assert "'scores'" in line and "logits, length" in line and "--output_key" in line


SHY_NET = """
import torch
from torch import nn


class ShyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.logit = nn.Parameter(torch.tensor(0.3))  # a probability of 0.57: a positive, if a shy one

    def forward(self, x):
        return self.logit.expand(len(x))
"""

POSITIVES_DATA = """
import torch
from torch.utils.data import Dataset


class PositivesData(Dataset):
    def __len__(self):
        return 40

    def __getitem__(self, index):
        return torch.zeros(4), 1
"""


def test_binary_logits_between_zero_and_one_are_scored_as_the_positives_they_are(project):
    project.write("model/shy_net.py", SHY_NET)
    project.write("data/positives_data.py", POSITIVES_DATA)
    _, results = trained(project, "--model_name", "shy_net", "--dataset", "positives_data", "--task", "binary",
                         "--max_epochs", "1", "--batch_size", "8", "--limit_train_batches", "2")
    # torchmetrics reads outputs all within [0, 1] as probabilities: the logit must reach it as one.
    assert results["test"]["positives_data"]["accuracy"] == 1.0
    assert results["val"]["positives_data"]["f1"] == 1.0


NAMED_OUTPUTS_NET = """
import dataclasses
from typing import NamedTuple

import torch
from torch import nn


class Output(NamedTuple):
    hidden: torch.Tensor
    logits: torch.Tensor


@dataclasses.dataclass
class ModelOutput:
    hidden: torch.Tensor
    logits: torch.Tensor


class NamedOutputsNet(nn.Module):
    def __init__(self, num_features: int = 16, num_classes: int = 10, as_dataclass: bool = False):
        super().__init__()
        self.body, self.head = nn.Linear(num_features, 32), nn.Linear(32, num_classes)
        self.kind = ModelOutput if as_dataclass else Output

    def forward(self, x):
        hidden = self.body(x).relu()
        return self.kind(hidden, self.head(hidden))
"""


@pytest.mark.parametrize("kind", ["--no-as_dataclass", "--as_dataclass"])
def test_named_outputs_feed_the_loss_and_metrics_their_output_key_entry_not_their_first(project, kind):
    project.write("model/named_outputs_net.py", NAMED_OUTPUTS_NET)
    arguments = ("--model_name", "named_outputs_net", "--dataset", "standard_data", "--num_samples", "200", kind)
    _, results = trained(project, *arguments, "--max_epochs", "1")
    [run_dir] = project.run_dirs()
    task = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["hyper_parameters"]["task"]
    assert task["num_classes"] == 10  # the 10 logits, not the 32 hidden features that come first
    assert "accuracy" in results["test"]["standard_data"]
    line = error_line(project.run(*arguments, "--output_key", "scores"))
    assert f"NamedOutputsNet returns a {'ModelOutput' if kind == '--as_dataclass' else 'Output'} without the entry " \
           "'scores' (its entries: hidden, logits): set --output_key" in line


TOP3_NET = linear_net_with_metrics("Top3Net", "from torchmetrics.classification import MulticlassAccuracy",
                                   "{'top3': MulticlassAccuracy(num_classes=10, top_k=3)}")


def test_a_net_names_its_own_torchmetrics_metrics_and_they_are_logged_per_dataset(project):
    project.write("model/top3_net.py", TOP3_NET)
    scalars, results = trained(project, "--model_name", "top3_net", "--dataset", "standard_data", "--monitor",
                               "val/top3", "--monitor_mode", "max", *QUICK)
    assert {"val/standard_data/top3", "val/standard_data/accuracy", "train/top3", "test/standard_data/top3"} <= set(
        scalars)
    values = results["val"]["standard_data"]
    assert values["top3"] >= values["accuracy"]  # the right class among the top three at least as often as first


@pytest.mark.parametrize("marker", [-100, 255])
def test_a_padding_or_void_target_out_of_range_suggests_ignore_index_and_is_left_out_with_it(marker):
    # The module's own UserError: a test that re-imports the project's modules may leave two of the class about.
    from utils.tasks.losses import UserError, check_targets

    targets = torch.tensor([[0, 1, 2], [2, marker, marker]])
    with pytest.raises(UserError, match=rf"\(if {marker} marks padding or void pixels, pass --ignore_index {marker}\)"):
        check_targets("segmentation", 3, targets, "dataset 'train' (SegData)", "SegNet")
    check_targets("segmentation", 3, targets, "dataset 'train' (SegData)", "SegNet", ignore_index=marker)


RARE_TARGET_DATA = '''
import torch
from torch.utils.data import Dataset


class RareTargetData(Dataset):
    """Four classes, but for its last item, whose target 4 is beyond what a four-class net scores."""

    def __init__(self, num_features: int = 16):
        self.inputs = torch.randn(300, num_features)
        self.targets = torch.cat([torch.arange(299) % 4, torch.tensor([4])])

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return self.inputs[index], self.targets[index]
'''


def test_a_bad_target_found_only_when_its_batch_comes_is_one_line_and_leaves_no_run_folder(project):
    project.write("data/rare_target_data.py", RARE_TARGET_DATA)
    process = project.run("--model_name", "standard_net", "--dataset", "rare_target_data", "--num_classes", "4",
                          "--max_epochs", "1", "--batch_size", "16", "--confusion_images", "off")
    assert process.returncode == 2 and "Traceback" not in process.stderr, process.stderr[-3000:]
    # Found at a step of the first epoch: the run had started, so its summary and progress bar came first.
    [line] = [line[line.index("error: "):] for line in process.stderr.splitlines() if "error: " in line]
    assert line.startswith("error: a target outside the class indices 0 to 3 reached the loss")
    assert not project.logs.exists() or not project.run_dirs()


IGNORED_DATA = '''
import torch
from torch.utils.data import Dataset


class IgnoredData(Dataset):
    """Points whose every target is the padding -100: nothing to score."""

    def __init__(self, num_features: int = 16):
        self.inputs = torch.randn(40, num_features)

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, index):
        return self.inputs[index], torch.tensor(-100)
'''


def test_a_val_set_with_nothing_to_score_reports_no_numbers_and_stays_out_of_the_means(project):
    project.write("data/ignored_data.py", IGNORED_DATA)
    process = project.run("--model_name", "standard_net", "--train_dataset", "standard_data", "--val_datasets",
                          "kept=standard_data", "none=ignored_data", "--test_datasets", "kept=standard_data",
                          "--ignore_index", "-100", "--num_samples", "200", "--max_epochs", "1",
                          "--confusion_images", "off")
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    val = json.loads((run_dir / "results.json").read_text())["val"]
    assert val["none"] == {"loss": None, "accuracy": None, "f1": None}
    assert val["mean"] == pytest.approx(val["kept"]) and val["kept"]["accuracy"] > 0


MASKED_NET = '''
import torch
from torch import nn


class MaskedNet(nn.Module):
    """Scores points from their features that the mask keeps; masked ones hold noise."""

    def __init__(self, num_features: int = 16, num_classes: int = 4):
        super().__init__()
        self.layer = nn.Linear(num_features, num_classes)

    def forward(self, features, mask):
        features = features * mask
        return self.layer(features)
'''
MASKED_DATA = '''
import torch
from torch.utils.data import Dataset


class MaskedData(Dataset):
    """Dict items: features whose second half is loud noise, a mask that keeps the first half, and a label."""

    def __init__(self, num_features: int = 16, size: int = 400):
        generator = torch.Generator().manual_seed(0)
        self.labels = torch.randint(4, (size,), generator=generator)
        centres = 3.0 * torch.randn(4, num_features, generator=generator)
        self.features = centres[self.labels] + torch.randn(size, num_features, generator=generator)
        self.features[:, num_features // 2:] = 100.0 * torch.randn(size, num_features - num_features // 2,
                                                                   generator=generator)
        self.mask = torch.cat([torch.ones(num_features // 2), torch.zeros(num_features - num_features // 2)])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return {"features": self.features[index], "mask": self.mask, "label": self.labels[index]}
'''


def test_a_dict_batchs_entries_that_forward_names_reach_it_as_keywords_in_every_mode(project):
    project.write("model/masked_net.py", MASKED_NET)
    project.write("data/masked_data.py", MASKED_DATA)
    keys = ("--input_key", "features", "--target_key", "label", "--confusion_images", "off")
    process = project.run("--model_name", "masked_net", "--dataset", "masked_data", *keys, "--max_epochs", "8",
                          "--optimizer.lr", "0.05")
    assert process.returncode == 0, process.stderr[-3000:]
    [run_dir] = project.run_dirs()
    results = json.loads((run_dir / "results.json").read_text())
    # The noise the mask hides would leave the net near chance (0.25) were the mask not handed to forward.
    assert results["test"]["masked_data"]["accuracy"] > 0.9
    predicted = project.run("--mode", "predict", "--ckpt", results["best_checkpoint"], "--confusion_images", "off")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert "note:" not in process.stdout
    # A forward that also takes the target, as a Hugging Face model takes labels, is said to never get it.
    project.write("model/masked_net.py", MASKED_NET.replace("def forward(self, features, mask):",
                                                            "def forward(self, features, mask, label=None):"))
    process = project.run("--model_name", "masked_net", "--dataset", "masked_data", *keys, "--max_epochs", "1")
    assert process.returncode == 0, process.stderr[-3000:]
    assert "note: MaskedNet.forward takes label, which the run never gives it (the targets go to the loss): the run " \
           "trains on --loss cross_entropy, which a loss(outputs, targets) method of the net would replace" \
           in process.stdout


def test_a_real_valued_target_under_a_classification_task_suggests_regression():
    # The module's own UserError: a test that re-imports the project's modules may leave two of the class about.
    from utils.tasks.losses import UserError, check_targets

    with pytest.raises(UserError, match=r"has the target 0.25, which is no class index .* pass --task regression"):
        check_targets("classification", 2, torch.tensor([0.0, 0.25, 1.0]), "dataset 'train' (Scores)", "Head")


def test_a_forward_python_cannot_read_the_signature_of_takes_no_batch_entries():
    from utils.datasets.batches import forward_keywords

    class Opaque(torch.nn.Module):
        forward = torch.relu  # a builtin: inspect.signature cannot read it

    assert forward_keywords(Opaque()) == frozenset()
    assert forward_keywords(torch.nn.Linear(2, 2)) == frozenset()


def test_an_output_key_whose_entry_is_none_names_the_entries_that_hold_tensors():
    from utils.tasks.outputs import UserError, prediction  # the module's own class, as above

    outputs = {"loss": None, "logits": torch.zeros(2, 3), "hidden_states": None}
    expected = (r"HfTagger's output entry 'loss' \(--output_key\) is NoneType, not a tensor, on this batch: set "
                r"--output_key to an entry that holds the scores \(logits\)")
    with pytest.raises(UserError, match=expected):
        prediction(outputs, "loss", "HfTagger")


def test_one_output_under_classification_points_to_the_task_its_targets_fit():
    from utils.tasks.kinds import shape_problem

    one = torch.zeros(4, 1)
    assert "--task regression" in shape_problem("classification", one, torch.tensor([0.5, 2.0, -1.0, 3.0]))
    assert "--task binary" in shape_problem("classification", one, torch.tensor([0, 1, 1, 0]))
    assert "--task binary" in shape_problem("classification", one, torch.tensor([0.0, 1.0, 1.0, 0.0]))


def test_label_smoothing_a_run_took_from_its_checkpoint_is_refused_saying_so():
    from utils.tasks.losses import UserError, check_loss_fits_task  # the module's own class

    with pytest.raises(UserError, match=r"pass --label_smoothing 0 \(the value of the run this one starts from\)"):
        check_loss_fits_task("mse", "classification", 0.1, smoothing_stated=False)
    with pytest.raises(UserError, match="drop --label_smoothing"):
        check_loss_fits_task("bce_with_logits", "binary", 0.1)
    check_loss_fits_task("cross_entropy", "classification", 0.1)
