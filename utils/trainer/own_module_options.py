"""Template options that a user's own LightningModule configures itself: refused when given, left out of config.yaml.

A LightningModule brings its own optimizers (`configure_optimizers`), loss, metrics and steps, so the template's
options for those would be silently ignored. The one exception is a module whose constructor takes what the option
configures (a parameter of that name, or one annotated as an optimizer or a scheduler, which is injected).
"""

from dataclasses import replace

from utils.config.command_line import Command
from utils.config.experiment_options import drives_several_runs
from utils.config.framework_options import OPTIONS
from utils.config.signature_options import class_parameter_names
from utils.errors import UserError
from utils.loading.constructor_parameters import injected_kinds
from utils.shared_names import TRAIN, metric_stage
from utils.trainer.module_hooks import defines_hook
from utils.trainer.own_modules import is_own_module

# The template options an own module ignores, by what they configure; `optimizer.*` and `scheduler.*` included.
CONFIGURES = {option.name: option.configures for option in OPTIONS if option.configures}


def what_option_configures(destination: str) -> str | None:
    """The part of training a template option configures (optimizer, scheduler, loss, ...), or None."""
    return CONFIGURES.get(destination.split(".")[0])


def module_takes(model_class: type, destination: str) -> bool:
    """Whether the own module's constructor takes what the template option configures, so it is not ignored."""
    return what_option_configures(destination) in set(injected_kinds(model_class).values())


def ignored_options(command: Command) -> set[str]:
    """The template options the chosen own module would ignore: neither it nor a dataset takes them."""
    taken = set(class_parameter_names([command.model_class, *command.dataset_classes.values()]))
    return {destination for destination in command.options
            if what_option_configures(destination) and destination not in taken
            and not module_takes(command.model_class, destination)}


def own_module_command(command: Command) -> Command:
    """Refuse template options an own module ignores; settle its monitor; leave out of config.yaml what it ignores."""
    if not is_own_module(command.model_class):
        return command
    ignored = ignored_options(command)
    name = command.model_class.__name__
    given = sorted(ignored & command.stated)  # a resumed run's config.yaml from before this refusal is kept
    if given:
        options = ", ".join(command.typed(destination) for destination in given)
        raise UserError(f"{options}: {name} is a LightningModule and configures its optimizer, scheduler, loss, "
                        f"metrics and task itself (configure_optimizers and its steps), so the template's would be "
                        f"ignored: drop {options}, or take them as parameters of {name}.__init__")
    options, left_out = dict(command.options), set(ignored) | command.left_out
    validates = defines_hook(command.model_class, "validation_step") and options["limit_val_batches"] != 0
    if "monitor" in command.given and options["monitor"] != "none" and not validates \
            and metric_stage(options["monitor"]) != TRAIN:
        raise UserError(f"--monitor {options['monitor']}: {name} runs no validation (it defines no validation_step, "
                        f"or --limit_val_batches is 0), so no val key is logged: drop --monitor to keep the last "
                        f"checkpoint only, or monitor a train/ key")
    if "monitor" not in command.given and drives_several_runs(options):
        raise UserError(f"--folds and --sweep compare runs by --monitor, and {name} is a LightningModule whose keys "
                        f"the template cannot know before it runs: pass --monitor val/<a key it logs> (with "
                        f"--monitor_mode where its name does not say whether higher is better)")
    if "monitor" not in command.given:
        # Chosen at the first validation (utils/trainer/module_monitor.py), which then writes it into config.yaml.
        options["monitor"] = "auto" if validates else "none"
        left_out.add("monitor")
    return replace(command, options=options, left_out=frozenset(left_out))
