"""YAML files of option values read safely: size, encoding, aliases and syntax refused as one error line each."""

from pathlib import Path
from typing import Any

from utils.errors import UserError

# Options fill a few kilobytes; a file far larger is the wrong file, and parsing it would take minutes.
MAX_CONFIG_BYTES = 2**20


def _read_yaml(file: Path, kind: str) -> Any:
    """The file's YAML, refusing aliases: an alias bomb's few lines expand without bound."""
    import yaml

    text = file.read_text(encoding="utf-8")
    for event in yaml.parse(text):
        if isinstance(event, yaml.AliasEvent):
            raise UserError(f"{kind} {file} uses a YAML alias (*{event.anchor}): write each value out in full")
    return yaml.safe_load(text)


def read_yaml_mapping(path: str, kind: str) -> dict[str, Any]:
    """The YAML mapping in the file at `path`, which errors call `kind` (config file, sweep file, run config)."""
    import yaml

    file = Path(path)
    if file.is_dir():
        raise UserError(f"{kind} {path} is a folder: pass the path of a YAML file")
    if not file.is_file():
        raise UserError(f"{kind} {path} does not exist: pass the path of a YAML file")
    if file.stat().st_size > MAX_CONFIG_BYTES:
        raise UserError(f"{kind} {path} is {file.stat().st_size / 2**20:.1f} MiB, more than a file of options ever "
                        f"needs ({MAX_CONFIG_BYTES // 2**20} MiB at most): pass the right file")
    try:
        config = _read_yaml(file, kind) or {}
    except UnicodeDecodeError:
        raise UserError(f"{kind} {path} is not UTF-8 text: save it as a UTF-8 YAML file") from None
    except OSError as error:
        raise UserError(f"{kind} {path} cannot be read ({error.strerror}): check its permissions") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise UserError(f"{kind} {path} is not valid YAML{where}: {problem}") from None
    if not isinstance(config, dict):
        raise UserError(f"{kind} {path} must hold a mapping of option: value")
    return config
