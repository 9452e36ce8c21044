"""Options from constructor signatures, config files, --list and the environment record."""

import json
import shutil
import subprocess

import torch
import yaml
from conftest import FAST, PROJECT, error_line
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

TYPED_NET = '''
from typing import Literal, Optional

from torch import nn


class TypedNet(nn.Module):
    """A net with one parameter of each supported type."""

    def __init__(self, num_features: int = 16, num_classes: int = 10, width: int = 8, scale: float = 1.0,
                 tag: str = "plain", use_bias: bool = True, activation: Literal["relu", "tanh"] = "relu",
                 sizes: list[int] = [4, 4], pair: tuple[int, int] = (1, 2), limit: Optional[float] = None):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(num_features, width, bias=use_bias),
                                    nn.ReLU() if activation == "relu" else nn.Tanh(), nn.Linear(width, num_classes))

    def forward(self, x):
        return self.layers(x)
'''
STANDARD_DATA = ("--dataset", "standard_data", "--num_samples", "300")

TYPES_NET = '''
from collections.abc import Callable

from torch import nn


class TypesNet(nn.Module):
    """A net with dict and union parameters, and one the command line cannot give."""

    def __init__(self, class_weights: dict[str, float] = {"a": 1.0}, extra: dict = {}, size: int | float = 1,
                 key: int | str = 0, transform: Callable | None = None, num_classes: int = 10):
        super().__init__()
        for name, value, kinds in (("class_weights", class_weights, dict), ("size", size, (int, float)),
                                   ("key", key, (int, str))):
            if not isinstance(value, kinds) or isinstance(value, bool):
                raise TypeError(f"{name} reached the net as {type(value).__name__}")
        if not all(isinstance(value, float) for value in class_weights.values()) or transform is not None:
            raise TypeError("class_weights' values must be floats and transform its default")
        self.layer = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.layer(x)
'''
FOCAL_NET = '''
from torch import nn


class FocalNet(nn.Module):
    """A net with its own gamma and its own lr, both also parameters of torch's optimizers and schedulers."""

    def __init__(self, gamma: float = 2.0, lr: float = 0.1, num_classes: int = 10):
        super().__init__()
        self.layer = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.layer(x)
'''


def stored_model_arguments(run_dir) -> dict:
    """The net's constructor arguments as the checkpoint hyperparameters store them."""
    return yaml.safe_load((run_dir / "hparams.yaml").read_text())["model_kwargs"]


def test_help_lists_the_parameters_of_the_chosen_net_and_dataset(project):
    project.write("model/typed_net.py", TYPED_NET)
    process = project.run("--model_name", "typed_net", *STANDARD_DATA, "--help")
    assert process.returncode == 0
    help_text = process.stdout
    net_part = help_text[help_text.index("TypedNet options"):help_text.index("StandardData options")]
    for expected in ("--width INT", "default: 8", "--scale FLOAT", "--tag STR", "--use_bias, --no-use_bias",
                     "relu|tanh", "--sizes INT [INT ...]", "--pair INT INT", "--limit FLOAT OR NONE",
                     "shared by TypedNet, StandardData"):
        assert expected in net_part, expected
    assert "--num_samples INT" in help_text[help_text.index("StandardData options"):]
    assert "--max_epochs" in help_text and "--lr" in help_text  # the framework's own options beside them
    adam_part = help_text[help_text.index("Adam options (torch.optim.Adam"):]
    assert option_names(adam_part, "--optimizer.betas") == "--optimizer.betas FLOAT FLOAT, --betas FLOAT FLOAT"
    assert option_names(adam_part, "--optimizer.lr") == "--optimizer.lr FLOAT, --lr FLOAT"


def test_typed_options_reach_the_constructor(project):
    project.write("model/typed_net.py", TYPED_NET)
    process = project.run("--model_name", "typed_net", *STANDARD_DATA, *FAST, "--width", "12", "--scale", "0.5",
                          "--tag", "x", "--no-use_bias", "--activation", "tanh", "--sizes", "1", "2", "3",
                          "--pair", "5", "6", "--limit", "2.5", "--num_features", "16")
    assert process.returncode == 0, process.stderr[-3000:]
    arguments = stored_model_arguments(process_run_dir(project))
    # num_classes not given: the net keeps its own default, so it is not among the arguments the run passed.
    assert arguments == {"num_features": 16, "width": 12, "scale": 0.5, "tag": "x",
                         "use_bias": False, "activation": "tanh", "sizes": [1, 2, 3], "pair": [5, 6], "limit": 2.5}


def test_a_batch_size_parameter_is_handed_the_runs_batch_size(project):
    # Lightning's GAN example records its batch_size as a hyperparameter: the run's own, not a second option.
    project.write("model/batch_net.py", "from torch import nn\n\n\nclass BatchNet(nn.Linear):\n"
                                        "    def __init__(self, batch_size: int = 64):\n"
                                        "        super().__init__(16, 10)\n")
    process = project.run("--model_name", "batch_net", *STANDARD_DATA, *FAST, "--batch_size", "8")
    assert process.returncode == 0, process.stderr[-3000:]
    assert stored_model_arguments(process_run_dir(project)) == {"batch_size": 8}


SPLIT_DATA = """import torch
from torch.utils.data import Dataset


class SplitData(Dataset):
    \"\"\"16 features, 10 classes; notes the split it is built with in splits.txt.\"\"\"

    def __init__(self, split: str = "train"):
        with open("splits.txt", "a") as notes:
            notes.write(split + "\\n")
        generator = torch.Generator().manual_seed(len(split))
        self.inputs, self.targets = torch.randn(64, 16, generator=generator), torch.arange(64) % 10

    def __len__(self):
        return 64

    def __getitem__(self, index):
        return self.inputs[index], self.targets[index]
"""


def test_a_dataset_entrys_own_split_wins_over_the_stages(project):
    """A class with a `split` parameter is built with each stage's split, unless an entry names one itself."""
    project.write("data/split_data.py", SPLIT_DATA)
    process = project.run("--model_name", "standard_net", "--dataset", "split_data", *FAST,
                          "--test_datasets", "test=split_data", "val_again=split_data:split=val")
    assert process.returncode == 0, process.stderr[-3000:]
    assert sorted((project.root / "splits.txt").read_text().split()) == ["test", "train", "val", "val"]
    results = json.loads((process_run_dir(project) / "results.json").read_text())
    # The same checkpoint on the same items: the val split tested scores exactly what it scored in validation.
    assert results["test"]["val_again"] == results["val"]["split_data"] != results["test"]["test"]


def process_run_dir(project):
    """The only run folder of a project copy."""
    [run_dir] = project.run_dirs()
    return run_dir


def test_a_value_that_does_not_parse_names_option_class_and_type(project):
    project.write("model/typed_net.py", TYPED_NET)
    line = error_line(project.run("--model_name", "typed_net", *STANDARD_DATA, "--activation", "sigmoid"))
    assert "--activation" in line and "TypedNet(activation)" in line and "relu, tanh" in line
    line = error_line(project.run("--model_name", "typed_net", *STANDARD_DATA, "--scale", "big"))
    assert "--scale" in line and "TypedNet(scale)" in line and "float" in line


def test_config_file_gives_defaults_and_the_command_line_wins(project):
    project.write("my.yaml", "model_name: standard_net\ndataset: standard_data\nhidden: 24\nmax_epochs: 1\n"
                             "limit_train_batches: 2\nlr: 0.01\n")
    process = project.run("--config", "my.yaml", "--lr", "0.02")
    assert process.returncode == 0, process.stderr[-3000:]
    config = yaml.safe_load((process_run_dir(project) / "config.yaml").read_text())
    assert (config["hidden"], config["optimizer.lr"], config["max_epochs"]) == (24, 0.02, 1)
    assert stored_model_arguments(process_run_dir(project))["hidden"] == 24


def test_unknown_config_key_names_the_key_and_the_file(project):
    project.write("my.yaml", "model_name: standard_net\nhiden: 24\n")
    line = error_line(project.run("--config", "my.yaml", "--dataset", "standard_data"))
    assert "'hiden'" in line and "my.yaml" in line


def test_dict_and_union_options_reach_the_class_with_their_types_and_rerun(project):
    project.write("model/types_net.py", TYPES_NET)
    help_text = project.run("--model_name", "types_net", *STANDARD_DATA, "--help").stdout
    for expected in ("--class_weights YAML", "YAML mapping of str: float", "--size INT|FLOAT", "--key INT|STR",
                     "not options, they keep their defaults: transform"):
        assert expected in help_text, expected
    first = project.run("--model_name", "types_net", *STANDARD_DATA, *FAST, "--class_weights", "{a: 2, b: 0.5}",
                        "--extra", "{layers: [1, 2], name: x}", "--size", "2.5", "--key", "abc")
    assert first.returncode == 0, first.stderr[-3000:]
    second = project.run("--model_name", "types_net", *STANDARD_DATA, *FAST, "--size", "3", "--key", "7")
    assert second.returncode == 0, second.stderr[-3000:]
    rerun = project.run("--config", str(project.run_dirs()[0] / "config.yaml"))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    first_arguments, second_arguments, rerun_arguments = map(stored_model_arguments, project.run_dirs())
    assert first_arguments == {"class_weights": {"a": 2.0, "b": 0.5}, "extra": {"layers": [1, 2], "name": "x"},
                               "size": 2.5, "key": "abc"}
    assert type(first_arguments["class_weights"]["a"]) is float
    assert (second_arguments["size"], second_arguments["key"]) == (3, 7)
    assert type(second_arguments["size"]) is int and type(second_arguments["key"]) is int
    assert rerun_arguments == first_arguments


def run_checkpoint(run_dir) -> dict:
    """The last checkpoint of a run."""
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)


def option_names(help_text: str, name: str) -> str:
    """The names and metavars --help shows for the option `name`, without its help text."""
    [line] = [line.strip() for line in help_text.splitlines() if line.strip().startswith(f"{name} ")]
    return line.split("  ")[0]


def test_the_users_class_owns_a_plain_name_and_the_scheduler_keeps_its_prefix(project):
    project.write("model/focal_net.py", FOCAL_NET)
    arguments = ("--model_name", "focal_net", *STANDARD_DATA, "--optimizer", "sgd", "--scheduler", "step")
    help_text = project.run(*arguments, "--help").stdout
    step_part = help_text[help_text.index("StepLR options"):]
    assert option_names(step_part, "--scheduler.gamma") == "--scheduler.gamma FLOAT"
    assert option_names(help_text, "--optimizer.lr") == "--optimizer.lr FLOAT"
    assert "plain --gamma reaches FocalNet" in step_part and "plain --lr reaches FocalNet" in help_text
    assert option_names(step_part, "--scheduler.step_size") == "--scheduler.step_size INT, --step_size INT"
    process = project.run(*arguments, *FAST, "--gamma", "3.0", "--scheduler.gamma", "0.5", "--lr", "0.7",
                          "--optimizer.lr", "0.02", "--momentum", "0.3")
    assert process.returncode == 0, process.stderr[-3000:]
    run_dir = process_run_dir(project)
    assert stored_model_arguments(run_dir) == {"gamma": 3.0, "lr": 0.7}
    checkpoint = run_checkpoint(run_dir)
    assert checkpoint["lr_schedulers"][0]["gamma"] == 0.5
    group = checkpoint["optimizer_states"][0]["param_groups"][0]
    assert (group["initial_lr"], group["momentum"]) == (0.02, 0.3)
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert (config["gamma"], config["scheduler.gamma"], config["lr"], config["optimizer.lr"]) == (3.0, 0.5, 0.7, 0.02)


def test_a_config_yaml_of_the_former_option_names_still_reruns_its_run(project):
    project.write("old.yaml", "model_name: standard_net\ndataset: standard_data\nnum_samples: 200\nmax_epochs: 1\n"
                              "limit_train_batches: 2\noptimizer: sgd\nlr: 0.05\nmomentum: 0.5\nnesterov: true\n"
                              "weight_decay: 0.0\nbetas: [0.9, 0.999]\nscheduler: cosine_restarts\nstep_size: 10\n"
                              "milestones: [30, 60]\ngamma: 0.1\nt_0: 3\nt_mult: 2\nmin_lr: 0.001\n"
                              "plateau_patience: 2\nplateau_factor: 0.1\nwarmup_steps: 0\n")
    process = project.run("--config", "old.yaml")
    assert process.returncode == 0, process.stderr[-3000:]
    run_dir = process_run_dir(project)
    checkpoint = run_checkpoint(run_dir)
    group = checkpoint["optimizer_states"][0]["param_groups"][0]
    assert (group["initial_lr"], group["momentum"], group["nesterov"]) == (0.05, 0.5, True)
    scheduler = checkpoint["lr_schedulers"][0]
    assert (scheduler["T_0"], scheduler["T_mult"], scheduler["eta_min"]) == (3, 2, 0.001)
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["scheduler.T_0"] == 3 and "t_0" not in config and "step_size" not in config


def val_curves(run_dir) -> dict:
    """Every per-epoch val scalar of a run."""
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return {tag: [(event.step, event.value) for event in events.Scalars(tag)]
            for tag in events.Tags()["scalars"] if tag.startswith("val/")}


def test_rerun_from_config_yaml_repeats_the_experiment_exactly(project):
    first = project.run("--model_name", "standard_net", "--dataset", "standard_data", "--max_epochs", "3",
                        "--deterministic", "--val_datasets", "a=standard_data", "b=standard_data:noise=2.0",
                        "--hidden", "40", "--scheduler", "cosine", "--optimizer", "sgd", "--lr", "0.05")
    assert first.returncode == 0, first.stderr[-3000:]
    first_dir = process_run_dir(project)
    second = project.run("--config", str(first_dir / "config.yaml"))
    assert second.returncode == 0, second.stderr[-3000:]
    second_dir = project.run_dirs()[1]
    assert second_dir.parent == first_dir.parent and second_dir.name == "version_1"
    first_curves, second_curves = val_curves(first_dir), val_curves(second_dir)
    assert "val/b/accuracy" in first_curves and len(first_curves["val/a/loss"]) == 3
    assert first_curves == second_curves
    assert yaml.safe_load((second_dir / "config.yaml").read_text()) == yaml.safe_load(
        (first_dir / "config.yaml").read_text())


def test_list_prints_nets_and_datasets_with_their_docstrings(project):
    process = project.run("--list")
    assert process.returncode == 0
    assert "standard_net" in process.stdout and "A two-layer perceptron" in process.stdout
    assert "example_test_data" in process.stdout and "10,000 MNIST test digits" in process.stdout
    assert "model_interface" not in process.stdout and "_mnist_files" not in process.stdout


def test_help_and_list_do_not_import_lightning(project):
    for flag in ("--help", "--list"):
        process = project.run(flag, env={"PYTHONPROFILEIMPORTTIME": "1"})
        assert process.returncode == 0
        assert "torch" in process.stderr and "lightning" not in process.stderr.lower(), flag


def test_run_folder_records_the_environment_and_the_git_state(project):
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    shutil.copy(PROJECT / ".gitignore", project.root)
    subprocess.run([*git, "init", "-q"], cwd=project.root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project.root, check=True)
    subprocess.run([*git, "commit", "-qm", "start"], cwd=project.root, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project.root, capture_output=True, text=True).stdout
    arguments = ("--dataset", "standard_data", *FAST)
    assert project.run("--model_name", "standard_net", *arguments).returncode == 0
    (project.root / "model" / "my_net.py").write_text(standard_net_source(project).replace("StandardNet", "MyNet"))
    assert project.run("--model_name", "my_net", *arguments).returncode == 0  # a new file, not yet committed
    (project.root / "model" / "standard_net.py").write_text("# edited\n" + standard_net_source(project))
    assert project.run("--model_name", "standard_net", *arguments).returncode == 0
    runs = ("standard_net-standard_data/version_0", "my_net-standard_data/version_0",
            "standard_net-standard_data/version_1")
    clean, new, edited = (yaml.safe_load((project.logs / run / "environment.yaml").read_text()) for run in runs)
    assert clean["git_commit"] == commit.strip() and clean["git_uncommitted_changes"] is False
    assert new["git_uncommitted_changes"] is True and edited["git_uncommitted_changes"] is True
    assert clean["python"].count(".") == 2
    for package in ("torch", "pytorch-lightning", "torchmetrics"):
        assert clean["packages"][package]


def standard_net_source(project) -> str:
    """The current text of the copy's standard_net.py."""
    return (project.root / "model" / "standard_net.py").read_text()
