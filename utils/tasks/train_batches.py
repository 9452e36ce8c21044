"""Checks of the train loader's batches made before the run: a last batch of one item, a --drop_last that drops all."""

import math
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

from utils.config.checks import train_items_per_process
from utils.datasets.batches import collate_function, serves_batches, split_batch
from utils.errors import UserError


def last_batch_items(options: dict[str, Any], train_items: int) -> int | None:
    """The items of the last train batch of an epoch in each process, or None when the epoch stops before it."""
    size, per_process = options["batch_size"], train_items_per_process(options, train_items)
    batches, limit = math.ceil(per_process / size), options["limit_train_batches"]
    reached = 1 if options["fast_dev_run"] else min(batches, limit) if isinstance(limit, int) else int(batches * limit)
    return per_process - (batches - 1) * size if reached >= batches else None


def one_item_batch(dataset: Dataset) -> Any:
    """A batch of the train set's first item, made the way the loader makes its batches."""
    items = dataset.__getitems__([0]) if serves_batches(dataset) else [dataset[0]]
    return (collate_function(dataset) or default_collate)(items)


def trains_on_one_item(net: nn.Module, inputs: Any) -> str | None:
    """Why `net` in training mode fails on a one-item batch (None when it does not), leaving its state as it was."""
    buffers = {name: buffer.clone() for name, buffer in net.named_buffers()}
    was_training = net.training
    net.train()
    # A BatchNorm layer's running statistics move and dropout draws random numbers: both are put back.
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        try:
            net(inputs)
        except (RuntimeError, ValueError) as error:
            return str(error).splitlines()[0]
        finally:
            net.train(was_training)
            for name, buffer in net.named_buffers():
                buffer.copy_(buffers[name])
    return None


def check_train_batches(options: dict[str, Any], train_set: Dataset, net: nn.Module | None, input_key: str,
                        target_key: str) -> None:
    """Refuse a --drop_last that leaves no train batch, and a last batch of one item that `net` cannot train on."""
    per_process, size = train_items_per_process(options, len(train_set)), options["batch_size"]
    if options["drop_last"]:
        if per_process < size:
            raise UserError(f"--drop_last drops every train batch: each training process has {per_process} train "
                            f"items, fewer than --batch_size {size}: lower --batch_size, or drop --drop_last")
        return
    if net is None or last_batch_items(options, len(train_set)) != 1:
        return
    problem = trains_on_one_item(net, split_batch(one_item_batch(train_set), input_key, target_key)[0])
    if problem:
        raise UserError(f"the last train batch of each epoch holds one item ({per_process} train items per process, "
                        f"--batch_size {size}), and {type(net).__name__} cannot train on one item ({problem}): pass "
                        f"--drop_last to skip that batch, or change --batch_size")
