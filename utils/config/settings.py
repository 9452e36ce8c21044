"""Typed settings: one small frozen dataclass per group of options, its fields those the registry assigns the group."""

from dataclasses import dataclass, field, fields, make_dataclass
from typing import Any, Self

from utils.config.framework_options import OPTIONS, Option


class FromOptions:
    """Builds a settings dataclass from the options dict, taking exactly the fields it declares."""

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Self:
        """The settings of this group, read from the parsed options."""
        return cls(**{item.name: options[item.name] for item in fields(cls) if item.name in options},
                   **cls.derived(options))

    @staticmethod
    def derived(options: dict[str, Any]) -> dict[str, Any]:
        """The fields made from several options rather than read from one."""
        return {}


def prefixed(options: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The options named `<prefix>.<name>`, by name."""
    return {key.removeprefix(f"{prefix}."): value for key, value in options.items() if key.startswith(f"{prefix}.")}


class OptimizationFields(FromOptions):
    """The optimizer's and the scheduler's keyword arguments, the values of their --optimizer.X and --scheduler.X."""

    @staticmethod
    def derived(options: dict[str, Any]) -> dict[str, Any]:
        """The optimizer's and the scheduler's keyword arguments."""
        return {"optimizer_arguments": prefixed(options, "optimizer"),
                "scheduler_arguments": prefixed(options, "scheduler")}

    @property
    def lr(self) -> float:
        """The optimizer's learning rate."""
        return self.optimizer_arguments["lr"]

    @property
    def changes_learning_rate(self) -> bool:
        """Whether a scheduler or a warm-up changes the learning rate during training."""
        return self.scheduler != "none" or self.warmup_steps > 0


def _field(option: Option) -> tuple[str, Any, Any]:
    # Every field has its option's default, so checkpoints saved before an option existed still load.
    default = option.default
    return option.name, option.annotation, field(default_factory=lambda: list(default)) if isinstance(default, list) \
        else field(default=default)


def settings_class(group: str, doc: str, base: type = FromOptions, extra: tuple = ()) -> type:
    """A frozen dataclass of the options the registry assigns to `group` (a Trainer option is a trainer setting)."""
    chosen = [_field(option) for option in OPTIONS
              if group in option.settings or (option.trainer and group == "trainer")]
    return make_dataclass(f"{group.title()}Settings", [*chosen, *extra], bases=(base,), frozen=True,
                          namespace={"__doc__": doc, "__module__": __name__})


DataSettings = settings_class("data", "What DInterface reads: batching, loading, the seeded hold-out split and the "
                                      "folds of a cross-validation.")
TaskSettings = settings_class("task", "What the task means for the loss and the metrics, and where batches and "
                                      "outputs keep their parts.")
OptimizationSettings = settings_class(
    "optimization", "The optimizer and the scheduler, each a torch.optim name and its keyword arguments, and the "
                    "warm-up.", OptimizationFields,
    (("optimizer_arguments", dict[str, Any], field(default_factory=dict)),
     ("scheduler_arguments", dict[str, Any], field(default_factory=dict))))
TrainerSettings = settings_class("trainer", "What the Trainer and its callbacks read: hardware, loop lengths, "
                                            "checkpoints, early stopping, monitors.")
RunSettings = settings_class("run", "Which mode runs, on which checkpoint, with which seed, and where its folder goes.")


@dataclass(frozen=True)
class Settings:
    """Every group of settings of one run."""

    data: DataSettings
    task: TaskSettings
    optimization: OptimizationSettings
    trainer: TrainerSettings
    run: RunSettings

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "Settings":
        """Build each group from the parsed options."""
        return cls(*(item.type.from_options(options) for item in fields(cls)))
