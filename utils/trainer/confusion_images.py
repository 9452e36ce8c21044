"""A confusion matrix image per val and test set in TensorBoard's images tab, drawn by torchmetrics' own plot."""

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from torch import Tensor, nn
from torch.utils.tensorboard import SummaryWriter

from utils.config.settings import Settings
from utils.lightning_package import Callback, LightningModule, TensorBoardLogger, Trainer, TrainerFn
from utils.tasks.metrics import CONFUSION_TASKS, StageMetrics


def draws_images(settings: Settings, own_module: bool) -> bool:
    """Whether the run draws confusion matrices: asked for, into TensorBoard, by MInterface, for a task of classes."""
    trainer = settings.trainer
    return (trainer.confusion_images != "off" and "tensorboard" in trainer.logger and not own_module
            and settings.run.mode in ("fit", "validate", "test") and settings.task.task in CONFUSION_TASKS)


def draw_in_memory() -> None:
    """Make matplotlib draw into memory only: no window, no display needed."""
    # Imported here: matplotlib is needed only by the runs that draw (main.py checks it is installed).
    import matplotlib

    matplotlib.use("Agg")


def class_names(dataset: Any, count: int) -> list[str] | None:
    """The dataset's `classes` (or those of the dataset a held-out part was cut from), when there is one per class."""
    for source in (dataset, getattr(dataset, "dataset", None)):
        names = getattr(source, "classes", None)
        if names is not None and len(names) == count:
            return [str(name) for name in names]
    return None


def draw_and_log(metric: Any, matrix: Tensor, names: list[str] | None, tag: str, title: str, step: int,
                 writers: list[SummaryWriter]) -> None:
    """Draw the matrix with the metric's own plot and add it to every writer as an image."""
    from matplotlib import pyplot

    count = len(matrix)
    # Room for each cell's value (torchmetrics writes it at 15 points) up to 20 classes; beyond, colours alone.
    side = min(16.0, max(6.0, 0.8 * count))
    figure, axes = pyplot.subplots(figsize=(side, side * 0.94), constrained_layout=True)
    metric.plot(val=matrix, ax=axes, labels=names, add_text=count <= 20)
    figure.suptitle(title)
    for writer in writers:
        writer.add_figure(tag, figure, global_step=step, close=False)
    pyplot.close(figure)


Drawing = tuple[Any, Tensor, list[str] | None, str, str, int, list[SummaryWriter]]


class ConfusionImages(Callback):
    """One normalised confusion matrix image per val set (after every validation or the last) and per test set.

    A background thread draws while training goes on; the images are all written before the loggers close.
    """

    def __init__(self, when: str, metrics: dict[str, nn.ModuleList], labels: dict[str, list[str]],
                 datasets: dict[str, dict[str, Any]]) -> None:
        """`metrics`, `labels` and `datasets` by stage (`val`, `test`): each dataset's metrics, label and dataset."""
        self.when, self.metrics, self.labels, self.datasets = when, metrics, labels, datasets
        # Started at the first drawing: ddp_spawn sends the callbacks to its processes, and a thread cannot go.
        self.drawer: ThreadPoolExecutor | None = None
        self.drawn: list[Future] = []
        self.last_validation: list[Drawing] = []

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Draw the val sets' matrices now, or in a fit by default keep them for the end of training."""
        if trainer.sanity_checking:
            return
        drawings = self.drawings(trainer, pl_module, "val")
        if self.when == "every" or trainer.state.fn != TrainerFn.FITTING:  # --mode validate validates once
            self.draw(drawings)
        else:
            self.last_validation = drawings

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Draw the last validation's matrices."""
        drawings, self.last_validation = self.last_validation, []
        self.draw(drawings)

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Draw the test sets' matrices."""
        self.draw(self.drawings(trainer, pl_module, "test"))

    def drawings(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> list[Drawing]:
        """What `confusion/<stage>/<label>` shows for each dataset whose metrics keep a confusion matrix."""
        writers = [logger.experiment for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]
        if not writers:
            return []
        drawings = []
        for label, metrics in zip(self.labels[stage], self.metrics[stage], strict=True):
            # Computed by every process (a synchronised metric), drawn by the first.
            matrix = metrics.confusion_matrix() if isinstance(metrics, StageMetrics) else None
            if matrix is None or not trainer.is_global_zero:
                continue
            title = f"{stage}/{label}, epoch {trainer.current_epoch}: each true class's row sums to 1"
            drawings.append((metrics.confusion, matrix.cpu(), class_names(self.datasets[stage].get(label), len(matrix)),
                             f"confusion/{stage}/{label}", title, trainer.global_step, writers))
        return drawings

    def draw(self, drawings: list[Drawing]) -> None:
        """Draw in the background thread."""
        for drawing in drawings:
            if self.drawer is None:
                draw_in_memory()
                self.drawer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="confusion-images")
            self.drawn.append(self.drawer.submit(draw_and_log, *drawing))

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Wait for the images still being drawn (raising any error of theirs) before the loggers close."""
        drawn, self.drawn = self.drawn, []
        for future in drawn:
            future.result()
