"""The run's one Lightning package, `lightning.pytorch` or `pytorch_lightning`: every framework file takes Lightning
from here, so the Trainer, callbacks, loggers and datamodule are of the package of the module they train."""

import importlib
import os

from utils.loading.module_package import DEFAULT_PACKAGE, PACKAGE_VARIABLE, PACKAGES

PACKAGE = os.environ.get(PACKAGE_VARIABLE) or DEFAULT_PACKAGE
if PACKAGE not in PACKAGES:
    raise RuntimeError(f"{PACKAGE_VARIABLE}={PACKAGE!r} names no Lightning package: use one of {', '.join(PACKAGES)}")
FABRIC = "lightning.fabric" if PACKAGE == "lightning.pytorch" else "lightning_fabric"


def _part(name: str) -> object:
    return importlib.import_module(f"{PACKAGE}.{name}" if name else PACKAGE)


pl = _part("")
Callback, LightningDataModule, LightningModule, Trainer = (
    pl.Callback, pl.LightningDataModule, pl.LightningModule, pl.Trainer)
CPUAccelerator = _part("accelerators").CPUAccelerator
_callbacks = _part("callbacks")
DeviceStatsMonitor, EarlyStopping, LearningRateMonitor, ModelCheckpoint, ModelSummary, TQDMProgressBar = (
    _callbacks.DeviceStatsMonitor, _callbacks.EarlyStopping, _callbacks.LearningRateMonitor,
    _callbacks.ModelCheckpoint, _callbacks.ModelSummary, _callbacks.TQDMProgressBar)
_loggers = _part("loggers")
CSVLogger, Logger, MLFlowLogger, TensorBoardLogger = (
    _loggers.CSVLogger, _loggers.Logger, _loggers.MLFlowLogger, _loggers.TensorBoardLogger)
_profilers = _part("profilers")
AdvancedProfiler, PassThroughProfiler, Profiler, SimpleProfiler = (
    _profilers.AdvancedProfiler, _profilers.PassThroughProfiler, _profilers.Profiler, _profilers.SimpleProfiler)
_strategies = _part("strategies")
DDPStrategy, FSDPStrategy, Strategy = _strategies.DDPStrategy, _strategies.FSDPStrategy, _strategies.Strategy
SIGTERMException = _part("utilities.exceptions").SIGTERMException
_summaries = _part("utilities.model_summary")
get_human_readable_count, summarize = _summaries.get_human_readable_count, _summaries.summarize
TrainerFn = _part("trainer.states").TrainerFn
TorchCheckpointIO = importlib.import_module(f"{FABRIC}.plugins.io.torch_io").TorchCheckpointIO
