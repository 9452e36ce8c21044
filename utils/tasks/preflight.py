"""One small batch through the net before any run folder exists, so mistakes surface as one clear line."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils.data import Dataset, default_collate

from utils.datasets.batches import collate_function, keep_batch, serves_batches, split_batch, underlying_dataset
from utils.errors import UserError
from utils.loading.constructor_parameters import constructor_parameters
from utils.run_lock import is_rank_zero
from utils.tasks.kinds import check_class_count, class_probabilities, shape_problem, task_kind
from utils.tasks.layout import class_axis, scores_and_targets
from utils.tasks.losses import check_targets
from utils.tasks.metrics import NO_METRICS
from utils.tasks.outputs import element_read, named_entries, prediction


def dataset_description(dataset: Dataset, label: str) -> str:
    """Name a dataset by its label and its class (the one under any train / val Subset)."""
    return f"dataset {label!r} ({type(underlying_dataset(dataset)).__name__})"


def check_last_item(dataset: Dataset, label: str) -> None:
    """Fetch the user's dataset's last item, so a `__len__` that counts more items than there are is caught now."""
    whole = underlying_dataset(dataset)
    last = len(whole) - 1
    try:
        whole.__getitems__([last]) if serves_batches(whole) else whole[last]
    except (IndexError, KeyError) as error:
        raise UserError(f"{dataset_description(dataset, label)} says it has {len(whole)} items, but item {last} "
                        f"fails ({type(error).__name__}: {error}): make __len__ return the number of items") from None


def sample_batch(dataset: Dataset, label: str) -> Any:
    """The first two items as a batch, made the way the loader will make it."""
    check_last_item(dataset, label)
    indices = list(range(min(2, len(dataset))))
    own = collate_function(dataset)
    try:
        items = dataset.__getitems__(indices) if serves_batches(dataset) else [dataset[index] for index in indices]
        return (own or default_collate)(items)
    except (TypeError, RuntimeError) as error:
        what = "its own collate_fn failed on two items" if own not in (None, keep_batch) else (
            "its items cannot be batched")
        raise UserError(f"{dataset_description(dataset, label)}: {what} ({str(error).splitlines()[0]}): give each "
                        f"item tensors of one shape and a target, or to predict on the inputs alone (PIL images: "
                        f"convert them with torchvision.transforms.ToTensor), or define collate_fn (a function in the "
                        f"dataset's file, or a @staticmethod of its class)") from None


def checked_batch(dataset: Dataset, label: str, input_key: str, target_key: str,
                  own_loss: bool = False) -> tuple[Any, Any, Any]:
    """(inputs, targets, batch) of a sample batch, checking the targets are a tensor unless the net has its own
    loss."""
    batch = sample_batch(dataset, label)
    inputs, targets = split_batch(batch, input_key, target_key)
    if isinstance(inputs, (tuple, list)) and inputs and isinstance(inputs[0], str):
        raise UserError(f"{dataset_description(dataset, label)} must give tensors (or numbers) as inputs, got "
                        f"batches of {type(inputs).__name__} of str: convert its items to torch tensors, or define a "
                        f"collate_fn that does")
    if not isinstance(targets, torch.Tensor) and not own_loss:
        raise UserError(f"{dataset_description(dataset, label)} must give tensor (or number) targets, got "
                        f"{type(targets).__name__}: convert its targets to torch tensors, or give the net a "
                        f"loss(outputs, targets) method that reads them as they are")
    return inputs, targets, batch


def net_outputs(net: torch.nn.Module, inputs: Any, description: str, keywords: dict[str, Any] | None = None) -> Any:
    """The net's outputs for a sample batch (`keywords`: the dict batch's entries its forward names); an error the net
    raises on it is one line naming the inputs."""
    try:
        return net(inputs, **(keywords or {}))
    except (RuntimeError, TypeError, ValueError) as error:
        shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
        hint = (" (the dataset gives float64 inputs, numpy's default: convert them with .float() or "
                "torch.as_tensor(x, dtype=torch.float32))"
                if isinstance(inputs, torch.Tensor) and inputs.dtype == torch.float64 else "")
        if isinstance(inputs, list):
            hint = (" (the batch's inputs are a list: torch's default collate turns each item's list of numbers into "
                    "one tensor per position; give each item's inputs as one tensor, torch.tensor(x))")
        if isinstance(inputs, dict):
            hint = (" (the batch's inputs are a dict, as a tokenizer gives them: give each item as one flat dict, the "
                    "target under --target_key, the entry forward takes first under --input_key (input_ids, say), "
                    "the others reaching forward by name)")
        if isinstance(error, TypeError) and "required positional argument" in str(error):
            hint = (" (forward is given the inputs and the entries of a dict batch it names, never the targets: "
                    "for a second input, give dict items, --input_key naming the first and the others reaching "
                    "forward by name; for a target it reads, give the parameter a default of None, and put a loss "
                    "of the net's own in a loss(outputs, targets) method)")
        raise UserError(f"{type(net).__name__} failed on a batch of {description}, inputs of shape {shape}: "
                        f"{str(error).splitlines()[0]}{hint}") from None


# What a net written for a loss on probabilities ends in (a function, and its layer), and the loss that squashes its
# outputs itself, which reads them as logits: those of a log-softmax or a log-sigmoid are never positive.
TWICE = "itself, so the outputs would be squashed twice"
NEVER_POSITIVE = "as logits, and none of these is ever positive"
SQUASHING = {"sigmoid": ("bce_with_logits", f"applies a sigmoid {TWICE}", "nn.Sigmoid", "torch.sigmoid"),
             "softmax": ("cross_entropy", f"applies a log-softmax {TWICE}", "nn.Softmax", "torch.softmax"),
             "log_softmax": ("bce_with_logits", f"reads them {NEVER_POSITIVE}", "nn.LogSoftmax", "F.log_softmax"),
             "log_sigmoid": ("bce_with_logits", f"reads them {NEVER_POSITIVE}", "nn.LogSigmoid", "F.logsigmoid")}


class SquashedOutputs(TorchFunctionMode):
    """Every result of a function SQUASHING names (or of its layer, such as nn.Sigmoid) while a net runs in this
    mode."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, torch.Tensor]] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        """Run `func`, noting its result when it squashes."""
        result = func(*args, **(kwargs or {}))
        name = getattr(func, "__name__", "")
        if name in SQUASHING and isinstance(result, torch.Tensor):
            self.seen.append((name, result))
        return result


def same_numbers(given: torch.Tensor, output: torch.Tensor) -> bool:
    """Whether `given` is `output` or a view of all of it (squeezed, reshaped, flattened)."""
    return (given.numel() == output.numel() > 0
            and given.untyped_storage().data_ptr() == output.untyped_storage().data_ptr())


def squashing_of(given: torch.Tensor, seen: list[tuple[str, torch.Tensor]]) -> str | None:
    """The SQUASHING function whose result `given` is (or a view of all of it), if the net computed one."""
    return next((name for name, output in seen if same_numbers(given, output)), None)


def check_not_squashed(net_name: str, loss: str, squashing: str | None) -> None:
    """Refuse outputs that are a sigmoid's (softmax's) result for a loss that applies one itself: trained and scored
    squashed twice, their metrics count every item on one side."""
    if squashing is None or SQUASHING[squashing][0] != loss:
        return
    _, reason, layer, function = SQUASHING[squashing]
    raise UserError(f"{net_name} returns the result of a {squashing} (an {layer} layer or {function}, on a batch in "
                    f"eval mode as validation runs it), and --loss {loss} {reason}: return what goes into that last "
                    f"{squashing}, the logits the loss expects")


def check_tensor_targets(model: Any, outputs: Any, targets: torch.Tensor, description: str,
                         squashed: list[tuple[str, torch.Tensor]] | None = None) -> int | None:
    """Check the outputs fit the targets under the task and run the loss; record the class axis, return the classes."""
    task, net_name = model.task, type(model.net).__name__
    given = prediction(outputs, task.output_key, net_name)
    squashing = squashing_of(given, squashed or [])
    if not model.own_loss:
        check_not_squashed(net_name, model.loss_function.loss, squashing)
    model.use_sigmoid_outputs(squashing == "sigmoid")
    model.use_class_axis(class_axis(task.task, given, targets, task.class_axis, net_name))
    predicted, scored = scores_and_targets(task.task, given, targets, model.task.class_axis)
    problem = shape_problem(task.task, predicted, scored)
    if problem and model.own_loss and task.metrics == [NO_METRICS]:  # only the metrics need the shapes to fit
        check_given_targets(model, outputs, targets, description)
        return task.num_classes
    if problem:
        read = (f" (element {element_read(outputs, task.output_key, net_name)} of the {type(outputs).__name__} it "
                f"returns, the one read: --output_key N reads element N)" if is_plain_sequence(outputs) else "")
        own = (" (its own loss reads them as they are: only the metrics need these shapes, and --metrics none logs "
               "the loss alone)" if model.own_loss else "")
        raise UserError(f"{net_name} outputs shape {tuple(given.shape)}{read} for targets of shape "
                        f"{tuple(targets.shape)}, but {problem}{own}: change the net's output or --task")
    counted = check_class_count(task.task, task.num_classes, predicted, net_name)
    if not isinstance(outputs, torch.Tensor):
        check_scores_read(model, outputs, counted, tuple(given.shape))
    probabilities = class_probabilities(task.task, predicted, scored)
    check_targets(task.task, counted, scored, description, net_name, task.ignore_index, probabilities)
    if probabilities and is_rank_zero():
        print(f"note: {description} gives float targets of the class scores' shape, read as class probabilities "
              f"(soft targets: the loss takes them as they are, the metrics score the likeliest class); for real "
              f"values pass --task regression")
    model.loss_function(outputs if model.own_loss else predicted, targets if model.own_loss else scored)
    return counted


def is_plain_sequence(outputs: Any) -> bool:
    """Whether outputs are a tuple or list whose elements have no names (not a NamedTuple)."""
    return isinstance(outputs, (tuple, list)) and not hasattr(outputs, "_fields")


def check_scores_read(model: Any, outputs: Any, counted: int | None, shape: tuple[int, ...]) -> None:
    """Refuse outputs whose part the loss and metrics read (a tuple's element, a named entry) has another number of
    classes than the net was built for: the scores are most likely another part (features first, logits second)."""
    net_class, key = type(model.net), model.task.output_key
    try:
        parameter = next((found for found in constructor_parameters(net_class) if found.name == "num_classes"), None)
    except (TypeError, ValueError):  # a class whose signature Python cannot read
        parameter = None
    built = model.hparams["model_kwargs"].get("num_classes", parameter.default if parameter else None)
    if not isinstance(built, int) or counted is None or counted == built:
        return
    if is_plain_sequence(outputs):
        index = element_read(outputs, key, net_class.__name__)
        read, fix = f"a {type(outputs).__name__} whose element {index}", "pass --output_key N to read element N"
    else:
        read, fix = f"outputs whose entry {key!r}", "set --output_key to the entry of the class scores"
    raise UserError(f"{net_class.__name__} returns {read}, the one the loss and metrics read, has shape {shape} "
                    f"({counted} classes), but the net was built with num_classes={built}: return the class scores "
                    f"there, or {fix}")


def check_given_targets(model: Any, outputs: Any, targets: Any, description: str) -> None:
    """Run the net's own loss on targets that are not tensors (or whose shape no metric could read, under `--metrics
    none`), which then meet only that loss and its metrics()."""
    if model.task.metrics and model.task.metrics != [NO_METRICS]:
        raise UserError(f"--metrics needs tensor targets, but {description} gives {type(targets).__name__}: drop "
                        f"--metrics and let the net's metrics() method name metrics that read these targets")
    model.use_targets_as_given()
    model.loss_function(outputs, targets)


def preflight(model: Any, datasets: dict[str, Dataset]) -> int | None:
    """Run the net and the loss on two items of each dataset, recording on the model where the outputs keep their
    class scores (or that the targets are not tensors); return the number of classes the outputs score."""
    task = model.task
    counted = task.num_classes
    with evaluating(model):
        for index, (label, dataset) in enumerate(datasets.items()):
            inputs, targets, batch = checked_batch(dataset, label, task.input_key, task.target_key, model.own_loss)
            description = dataset_description(dataset, label)
            if index == 0:
                note_target_parameter(model, batch)
            with SquashedOutputs() as squashed:
                outputs = net_outputs(model.net, inputs, description, model.keywords_of(batch))
            if isinstance(targets, torch.Tensor):
                counted = check_tensor_targets(model, outputs, targets, description, squashed.seen)
                if index == 0:
                    note_metrics_of_own_loss(model, outputs, counted)
            else:
                check_given_targets(model, outputs, targets, description)
    return counted


@contextmanager
def evaluating(model: Any) -> Iterator[None]:
    """The model in eval mode without gradients for the block, then back in the mode it was in: the pre-run checks
    change nothing of it."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def note_metrics_of_own_loss(model: Any, outputs: Any, counted: int | None) -> None:
    """Say once that the task's default metrics score one part of several outputs of a net with its own loss (a
    siamese net's two embeddings): only the net knows whether that part holds class scores."""
    task, net_name = model.task, type(model.net).__name__
    parts = outputs if is_plain_sequence(outputs) else named_entries(outputs)
    if not model.own_loss or task.metrics or not parts or len(parts) < 2 or not is_rank_zero():
        return
    classes = f" of {counted} classes" if counted else ""
    print(f"note: {net_name} has its own loss and returns {len(parts)} outputs; the task's default metrics "
          f"({', '.join(task_kind(task.task).default_metrics)}) score the one --output_key reads as scores{classes} "
          f"against the targets: pass --metrics none if it holds no such scores (embeddings, say)")


def note_target_parameter(model: Any, batch: Any) -> None:
    """Say once that a forward taking the target (a Hugging Face model's `labels`) is never given it, so a loss it
    would compute with them is not the one the run trains on."""
    key, net_name = model.task.target_key, type(model.net).__name__
    if isinstance(batch, dict) and key in batch and key in model.forward_keywords and is_rank_zero():
        trained_on = "the net's own loss(outputs, targets)" if model.own_loss else (
            f"--loss {model.loss_function.loss}, which a loss(outputs, targets) method of the net would replace")
        print(f"note: {net_name}.forward takes {key}, which the run never gives it (the targets go to the loss): "
              f"the run trains on {trained_on}")


def check_batches(datasets: dict[str, Dataset]) -> None:
    """Make a sample batch of each dataset the way the loaders will, for a module whose step the template leaves be."""
    for label, dataset in datasets.items():
        sample_batch(dataset, label)


def check_trainable(net: torch.nn.Module) -> None:
    """Refuse to train a net with nothing to train: the run would save the net it started with."""
    if not any(parameter.requires_grad for parameter in net.parameters()):
        raise UserError(f"{type(net).__name__} has no trainable parameters (none, or all with requires_grad=False): "
                        f"training would change nothing; give it a layer to train, or evaluate it with --mode test "
                        f"--ckpt PATH")
