"""Config files: YAML mappings of option defaults, turned into command-line words so they are checked alike."""

from typing import Any

from utils.config.framework_options import names_where
from utils.errors import UserError
from utils.loading.yaml_files import read_yaml_mapping

# Options that choose which file or run to read: a config file naming them would be read too late to act on them.
COMMAND_LINE_ONLY = names_where(config_file=False)


def load_config(path: str, kind: str = "config file") -> dict[str, Any]:
    """Read a YAML mapping of option defaults (or, as `kind` names it in errors, of a sweep's search space)."""
    config = read_yaml_mapping(path, kind)
    for key in COMMAND_LINE_ONLY:
        if key in config:
            raise UserError(f"{kind} {path} sets {key!r}, which only the command line can: remove it and pass "
                            f"--{key} {config[key]} instead")
    return config


# A command-line option that replaces config keys other than its own: --dataset sets every stage at once.
REPLACED_KEYS = {"dataset": ("train_dataset", "val_datasets", "test_datasets"), "train_dataset": ("dataset",),
                 "val_datasets": ("dataset",), "test_datasets": ("dataset",)}


def without_replaced_keys(config: dict[str, Any], argv: list[str]) -> dict[str, Any]:
    """The config without the keys an option on the command line replaces, so the command line wins whole."""
    given = {word[2:].partition("=")[0] for word in argv if word.startswith("--")}
    replaced = {key for option in given for key in REPLACED_KEYS.get(option, ())}
    return {key: value for key, value in config.items() if key not in replaced}


def config_tokens(config: dict[str, Any]) -> list[str]:
    """Turn config values into command-line words, so they are checked exactly as typed options are."""
    import yaml

    tokens: list[str] = []
    for key, value in config.items():
        if value is None:
            continue
        if isinstance(value, bool):
            tokens.append(f"--{key}" if value else f"--no-{key}")
        elif isinstance(value, list) and key == "devices":
            tokens += [f"--{key}", ",".join(map(str, value))]
        elif isinstance(value, list):
            tokens += [f"--{key}", *map(str, value)]
        elif isinstance(value, dict):
            tokens += [f"--{key}", yaml.safe_dump(value, default_flow_style=True, width=2**31).strip()]
        else:
            tokens += [f"--{key}", str(value)]
    return tokens


def rename_former_keys(config: dict[str, Any], known: set[str], former_names: dict[str, str]) -> dict[str, Any]:
    """Config keys of earlier versions under their names now; one for an optimizer or scheduler the run does not
    use is dropped, as the run that wrote it ignored it."""
    renamed = {}
    for key, value in config.items():
        if key in known or key not in former_names:
            renamed[key] = value
        elif former_names[key] in known and former_names[key] not in config:
            renamed[former_names[key]] = value
    return renamed
