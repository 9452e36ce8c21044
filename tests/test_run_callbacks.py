"""The template's own callbacks reach Lightning as one, each hook handed on in their order; Lightning's keep theirs;
what Lightning calls at every step costs no more than the run needs."""

from pytorch_lightning import Callback, Trainer
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.demos.boring_classes import BoringModel
from pytorch_lightning.profilers import SimpleProfiler

from utils.config.command_line import parse_command_line
from utils.trainer.build import build_trainer
from utils.trainer.callbacks import checkpoint_callbacks
from utils.trainer.divergence import OwnModuleLossWatch
from utils.trainer.movable_checkpoint import MovableModelCheckpoint
from utils.trainer.run_callbacks import RunCallbacks, as_one_callback, template_callbacks
from utils.trainer.state_keys import KeyedEarlyStopping

STANDARD = ["--model_name", "standard_net", "--dataset", "standard_data", "--accelerator", "cpu"]


class Recorder(Callback):
    """Notes each hook it is given, under its name."""

    def __init__(self, name: str, calls: list) -> None:
        self.name, self.calls = name, calls

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.calls.append((self.name, "on_train_batch_end", outputs, batch_idx))

    def on_validation_end(self, trainer, pl_module) -> None:
        self.calls.append((self.name, "on_validation_end"))


class Stateful(Callback):
    """Keeps a state in checkpoints."""

    def state_dict(self) -> dict:
        return {"kept": 1}


def test_a_run_has_one_template_callback_after_the_progress_bar_and_lightnings_own(tmp_path):
    settings = parse_command_line([*STANDARD, "--patience", "2"]).settings.trainer
    trainer = build_trainer(settings, tmp_path / "exp" / "version_0")
    kinds = [type(callback) for callback in trainer.callbacks]
    assert issubclass(kinds[0], TQDMProgressBar) and kinds[1] is RunCallbacks  # the bar is a TQDMProgressBar subclass
    assert sum(kind is RunCallbacks for kind in kinds) == 1
    assert all(issubclass(kind, (TQDMProgressBar, RunCallbacks, EarlyStopping, ModelCheckpoint)) for kind in kinds)
    parts = template_callbacks(trainer)
    assert len(parts) > len(trainer.callbacks)
    assert not any(isinstance(part, RunCallbacks) for part in parts)


def test_each_hook_reaches_the_parts_that_define_it_in_their_order():
    calls: list = []
    first, plain, second = Recorder("first", calls), Callback(), Recorder("second", calls)
    (one,) = as_one_callback([first, plain, second])
    one.on_train_batch_end(None, None, {"loss": 1}, batch=None, batch_idx=3)
    one.on_validation_end(None, None)
    one.on_train_start(None, None)
    assert calls == [("first", "on_train_batch_end", {"loss": 1}, 3), ("second", "on_train_batch_end", {"loss": 1}, 3),
                     ("first", "on_validation_end"), ("second", "on_validation_end")]


def test_a_callback_that_reduces_across_processes_keeps_its_place_before_the_bar():
    watch, bar, plain = OwnModuleLossWatch(), TQDMProgressBar(), Recorder("plain", [])
    assert as_one_callback([watch, bar, plain])[:2] == [watch, bar]


def test_a_callback_with_a_state_of_its_own_stays_a_callback_of_its_own():
    stateful, plain = Stateful(), Callback()
    one, separate = as_one_callback([stateful, plain])
    assert isinstance(one, RunCallbacks) and one.parts == [plain]
    assert separate is stateful


def test_state_keys_are_lightnings_own_and_follow_a_monitor_chosen_later(tmp_path):
    settings = parse_command_line([*STANDARD, "--monitor", "val/accuracy", "--monitor_mode", "max"]).settings.trainer
    best, last = checkpoint_callbacks(settings, tmp_path)
    stopping = KeyedEarlyStopping(monitor="val/accuracy", mode="max")
    lightning_best = ModelCheckpoint(dirpath=tmp_path, monitor="val/accuracy", mode="max")
    assert best.state_key == lightning_best.state_key
    assert last.state_key == ModelCheckpoint(dirpath=tmp_path).state_key
    assert stopping.state_key == EarlyStopping(monitor="val/accuracy", mode="max").state_key
    for callback in (best, stopping):  # as an own module's monitor is chosen at its first validation
        callback.monitor = "val/f1"
    assert "'monitor': 'val/f1'" in best.state_key and best.state_key.startswith("ModelCheckpoint{")
    assert stopping.state_key == EarlyStopping(monitor="val/f1", mode="max").state_key


def test_a_run_without_profiler_enters_one_shared_context_that_records_nothing(tmp_path):
    settings = parse_command_line(STANDARD).settings.trainer
    profiler = build_trainer(settings, tmp_path / "exp" / "version_0").profiler
    assert profiler.profile("[Callback]ModelCheckpoint.on_train_batch_end") is profiler.profile("training_step")
    with profiler.profile("training_step"), profiler.profile("nested"):
        pass
    assert profiler.summary() == "" and profiler.dirpath is None
    chosen = parse_command_line([*STANDARD, "--profiler", "simple"]).settings.trainer
    assert isinstance(build_trainer(chosen, tmp_path / "exp" / "version_1").profiler, SimpleProfiler)


def test_a_checkpoint_looks_for_saves_within_an_epoch_only_when_it_makes_them(tmp_path, monkeypatch):
    checks = []
    lightning_check = ModelCheckpoint.on_train_batch_end
    monkeypatch.setattr(ModelCheckpoint, "on_train_batch_end",
                        lambda self, *arguments: checks.append(self) or lightning_check(self, *arguments))
    per_epoch = MovableModelCheckpoint(dirpath=tmp_path / "epochs")
    every_two = MovableModelCheckpoint(dirpath=tmp_path / "steps", every_n_train_steps=2, save_top_k=-1,
                                       filename="{step}")
    trainer = Trainer(max_epochs=1, limit_train_batches=4, limit_val_batches=0, callbacks=[per_epoch, every_two],
                      logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(BoringModel())
    assert sorted(path.name for path in (tmp_path / "steps").iterdir()) == ["step=2.ckpt", "step=4.ckpt"]
    assert [path.name for path in (tmp_path / "epochs").iterdir()] == ["epoch=0-step=4.ckpt"]
    assert checks == [every_two] * 4
