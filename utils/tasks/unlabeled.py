"""Items without targets, which --mode predict takes: a sample batch of each such set through the net."""

from typing import Any

from torch.utils.data import Dataset

from utils.datasets.batches import batch_inputs, carries_target
from utils.errors import UserError
from utils.tasks.preflight import dataset_description, evaluating, net_outputs, sample_batch


def labeled_sets(model: Any, datasets: dict[str, Dataset]) -> dict[str, Dataset]:
    """The datasets whose items carry targets, for the checks of every mode; the others (inputs alone, which
    --mode predict takes) are checked to give inputs the net runs on."""
    task, labeled = model.task, {}
    for label, dataset in datasets.items():
        batch = sample_batch(dataset, label)
        if carries_target(batch, task.target_key):
            labeled[label] = dataset
            continue
        if isinstance(batch, dict) and task.input_key not in batch:
            raise UserError(f"{dataset_description(dataset, label)} gives dict items without the key "
                            f"{task.input_key!r} (their keys: {', '.join(map(str, batch))}): set --input_key to the "
                            f"key of the inputs")
        with evaluating(model):
            net_outputs(model.net, batch_inputs(batch, task.input_key), dataset_description(dataset, label),
                        model.keywords_of(batch))
    return labeled
