"""DInterface: the LightningDataModule that builds one train set, several val and test sets, and their loaders."""

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler

from utils.config.dataset_entries import DatasetEntry
from utils.config.experiment_options import FOLD_LABEL
from utils.config.settings import DataSettings
from utils.config.signature_options import entry_arguments
from utils.datasets.batches import loader_collate
from utils.datasets.folds import fold_split
from utils.datasets.resumable import ResumableOrder
from utils.datasets.splits import held_out_count, seeded_split
from utils.errors import UserError
from utils.lightning_package import pl
from utils.loading.constructor_parameters import constructor_parameters
from utils.loading.instances import build_instance, instance_arguments
from utils.trainer.run_state import train_position
from utils.trainer.speedups import pins_memory


class EvaluationShare(Sampler[int]):
    """One process's share of a val or test set: every `num_replicas`-th item from `rank`, none padded or repeated."""

    # Lightning's UnrepeatedDistributedSampler splits the same way but asserts that every process gets an item,
    # which refuses any set smaller than the number of processes.
    def __init__(self, size: int, num_replicas: int, rank: int) -> None:
        self.indices = range(rank, size, num_replicas)

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)


class DInterface(pl.LightningDataModule):
    """Builds each stage's datasets from their entries and serves them, val and test sets each under its label."""

    def __init__(self, train_entry: DatasetEntry, val_entries: list[DatasetEntry], test_entries: list[DatasetEntry],
                 dataset_classes: dict[str, type], class_values: dict[str, Any], settings: DataSettings) -> None:
        super().__init__()
        # A val or test set smaller than the number of processes leaves some of them without a batch: fine, as each
        # set's metrics are synced across processes (Lightning issue #9785 added this switch for that case).
        self.allow_zero_length_dataloader_with_multiple_devices = True
        self.dataset_classes, self.class_values, self.settings = dataset_classes, class_values, settings
        self._built: dict[tuple, Dataset] = {}
        self._held_out: tuple[Dataset, Dataset] | None = None  # (train part, held-out part), one for every stage
        self.train_resume: tuple[int, int] | None = None  # (epoch, items) a resumed checkpoint's epoch had trained
        # Part of the train set is held out only when a val or test set would be built as the train set is.
        self._train_arguments = self._arguments(train_entry, "train")
        self.holds_out = any(self._arguments(entry, stage) == self._train_arguments
                             for stage, entries in (("val", val_entries), ("test", test_entries)) for entry in entries)
        self.train_set = self._dataset(train_entry, "train", train_entry if self.holds_out else None)
        self.val_sets = {entry.label: self._dataset(entry, "val", train_entry) for entry in val_entries}
        self.test_sets = {entry.label: self._dataset(entry, "test", train_entry) for entry in test_entries}
        if settings.folds:
            # A cross-validation trains on the other folds and validates on its own fold first (label `fold`).
            self.train_set, held_out_fold = fold_split(self.train_set, settings.folds, settings.fold or 0,
                                                       settings.seed, stratify=settings.task != "regression",
                                                       target_key=settings.target_key)
            self.val_sets = {FOLD_LABEL: held_out_fold, **self.val_sets}

    def _split(self, entry: DatasetEntry, stage: str) -> dict[str, str]:
        # The entry's own split wins: `--test_datasets NAME:split=val` tests on the val split.
        cls = self.dataset_classes[entry.name]
        has_split = "split" in {parameter.name for parameter in constructor_parameters(cls)}
        return {"split": stage} if has_split and "split" not in entry.overrides else {}

    def _arguments(self, entry: DatasetEntry, stage: str) -> tuple[str, dict[str, Any]]:
        cls = self.dataset_classes[entry.name]
        given = entry_arguments(cls, entry.overrides)
        return entry.name, instance_arguments(cls, self.class_values, given, **self._split(entry, stage))

    def _dataset(self, entry: DatasetEntry, stage: str, train_entry: DatasetEntry | None) -> Dataset:
        if train_entry is None or self._arguments(entry, stage) != self._train_arguments:
            return self._instance(entry, stage)
        # Built with the train set's class and arguments (its split included): a seeded held-out part of it.
        if self._held_out is None:
            fraction = self.settings.val_fraction
            whole = self._instance(train_entry, "train")
            if held_out_count(len(whole), fraction) >= len(whole):
                raise UserError(f"{entry.label}: {type(whole).__name__} has {len(whole)} items, too few to hold out "
                                f"--val_fraction {fraction} for validation: use more items or --val_datasets")
            self._held_out = seeded_split(whole, fraction, self.settings.seed)
        train_part, val_part = self._held_out
        return train_part if stage == "train" else val_part

    def _instance(self, entry: DatasetEntry, stage: str) -> Dataset:
        fixed = self._split(entry, stage)
        key = (entry.name, tuple(sorted(entry.overrides.items())), fixed.get("split"))
        if key not in self._built:
            cls = self.dataset_classes[entry.name]
            try:
                dataset = build_instance(cls, self.class_values, entry_arguments(cls, entry.overrides), **fixed)
            except (FileNotFoundError, ValueError) as error:
                hint = (f" (the template gave it split={fixed['split']!r}: for a dataset with other splits, name "
                        f"them, --val_datasets {entry.name}:split=test for one)" if fixed.get("split") == "val" else "")
                raise UserError(f"dataset {entry.label!r}: {cls.__name__} could not be built: {error}{hint}") from None
            if isinstance(dataset, IterableDataset):
                raise UserError(f"dataset {entry.label!r}: {cls.__name__} is an IterableDataset: the template splits, "
                                f"shuffles and shards datasets by index, so give it __len__ and __getitem__")
            if len(dataset) == 0:
                raise UserError(f"dataset {entry.label!r}: {cls.__name__} has no items: check its files or arguments")
            self._built[key] = dataset
        return self._built[key]

    def _loader(self, dataset: Dataset, train: bool) -> DataLoader:
        # The train order is a function of (seed, epoch) alone, in one process or many, so a resumed run
        # sees the same batches as an uninterrupted one, from where its checkpoint's epoch stood. Val and test
        # sets are split between processes without padding, so each item is counted exactly once.
        world_size, rank = (self.trainer.world_size, self.trainer.global_rank) if self.trainer else (1, 0)
        # A private generator: creating an iterator draws a worker seed, and drawing it from the global
        # generator would shift the random numbers the net's dropout sees after a resume.
        generator = torch.Generator().manual_seed(self.settings.seed + rank)
        pinned = self.trainer is not None and pins_memory(self.trainer.strategy.root_device.type)
        settings = {"batch_size": self.settings.batch_size, "num_workers": self.settings.num_workers,
                    "pin_memory": pinned, "persistent_workers": self.settings.num_workers > 0,
                    "generator": generator, "collate_fn": loader_collate(dataset)}
        if not train:
            return DataLoader(dataset, sampler=EvaluationShare(len(dataset), num_replicas=world_size, rank=rank),
                              **settings)
        order = ResumableOrder(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=self.settings.seed)
        if self.train_resume is not None:
            order.resume(*self.train_resume)
            self.train_resume = None
        return DataLoader(dataset, sampler=order, drop_last=self.settings.drop_last, **settings)

    def order_settings(self) -> dict[str, Any]:
        """The options that decide which items each train batch holds, beside the seeded order."""
        settings = self.settings
        return {"batch_size": settings.batch_size, "seed": settings.seed, "drop_last": settings.drop_last}

    def state_dict(self) -> dict[str, Any]:
        """For a checkpoint: the epoch it resumes in, the items of that epoch trained (each process's share) and the
        options that ordered them. Lightning saves it as the datamodule's state."""
        if self.trainer is None:
            return {}
        epoch, done = train_position(self.trainer)
        return {"epoch": epoch, "items": done * self.settings.batch_size, **self.order_settings()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take up a checkpoint's train position: the train loader built next goes on after the items it trained."""
        self.train_resume = (state["epoch"], state["items"]) if "items" in state else None

    def check_resume_position(self, stored: dict[str, Any], checkpoint: str) -> None:
        """Refuse to resume a checkpoint taken mid-epoch with options that change which items the epoch's rest holds."""
        state = stored.get(type(self).__qualname__)  # where Lightning keeps a datamodule's state
        if not state or not state.get("items"):
            return
        for name, value in self.order_settings().items():
            if state.get(name, value) != value:
                raise UserError(f"checkpoint {checkpoint} was taken {state['items']} items into epoch "
                                f"{state['epoch']}, with --{name} {state[name]}: with {value} the rest of that epoch "
                                f"would hold other items; resume with --{name} {state[name]}, or from a checkpoint at "
                                f"an epoch's end")

    def train_dataloader(self) -> DataLoader:
        """The shuffled train loader."""
        return self._loader(self.train_set, train=True)

    def _check_every_process_validates(self) -> None:
        # DDP syncs the net's buffers at each process's first val batch during fit, so a process without any val
        # item would leave the others waiting. The last process gets the fewest items: none when every set is short.
        world_size = self.trainer.world_size if self.trainer else 1
        if world_size > 1 and self.val_sets and all(len(dataset) < world_size for dataset in self.val_sets.values()):
            sizes = ", ".join(f"{label} has {len(dataset)}" for label, dataset in self.val_sets.items())
            raise UserError(f"every val set has fewer items than the {world_size} processes ({sizes}), so some "
                            f"process would validate nothing: use a larger val set or fewer --devices/--num_nodes")

    def val_dataloader(self) -> list[DataLoader]:
        """One loader per val set, in the order of their labels."""
        self._check_every_process_validates()
        return [self._loader(dataset, train=False) for dataset in self.val_sets.values()]

    def test_dataloader(self) -> list[DataLoader]:
        """One loader per test set, in the order of their labels."""
        return [self._loader(dataset, train=False) for dataset in self.test_sets.values()]

    def predict_dataloader(self) -> list[DataLoader]:
        """The test sets, for predictions."""
        return self.test_dataloader()
