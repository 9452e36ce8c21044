"""Find, name-check and import the user's classes: `model/<snake_name>.py` defines `<CamelName>`."""

import difflib
import importlib
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType

from utils.errors import UserError
from utils.loading.torchvision_nets import is_torchvision_name, torchvision_net_class

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


def class_name_for(file_name: str) -> str:
    """Return the class a file must define: `res_net_18` -> `ResNet18`."""
    return "".join(part[:1].upper() + part[1:] for part in file_name.split("_"))


def available_names(package: str) -> list[str]:
    """List the loadable file names in `package`, leaving out `__init__`, interfaces and `_private` files."""
    folder = PROJECT_ROOT / package
    names = []
    for path in folder.glob("*.py"):
        stem = path.stem
        if stem.startswith("_") or stem.endswith("_interface"):
            continue
        names.append(stem)
    return sorted(names)


def check_name(package: str, name: str) -> None:
    """Refuse a malformed or unknown name before anything is imported."""
    kind = "model" if package == "model" else "dataset"
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise UserError(
            f"{kind} name {name!r} is malformed: use the file name in {package}/ without '.py' "
            f"(lower case letters, digits and '_', starting with a letter; no path, dot or dash)"
        )
    names = available_names(package)
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UserError(f"unknown {kind} {name!r}: {hint}available in {package}/: {', '.join(names) or 'none'}")


def import_user_file(package: str, name: str) -> ModuleType:
    """Import `package/name.py` after checking its name; an exception its import raises is that file's error."""
    check_name(package, name)
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    try:
        return importlib.import_module(f"{package}.{name}")
    except UserError:
        raise
    except Exception as error:  # the user's own file failed to import: report it as that file's error
        raise UserError(f"{package}/{name}.py failed to import: {type(error).__name__}: {error}") from error


def expected_class(package: str, name: str, module: ModuleType) -> type | None:
    """The file's CamelCase class, or the one class whose name differs from it only in case (`MNISTLitModule`)."""
    expected = class_name_for(name)
    found = getattr(module, expected, None)
    if inspect.isclass(found):
        return found
    same_but_case = [
        member for member_name, member in vars(module).items()
        if inspect.isclass(member) and member_name.lower() == expected.lower()
    ]
    if len(same_but_case) > 1:
        names = ", ".join(member.__name__ for member in same_but_case)
        raise UserError(f"{package}/{name}.py defines {names}, which differ only in case: rename all but one, "
                        f"or name the one to use {expected}")
    return same_but_case[0] if same_but_case else None


def load_class(package: str, name: str) -> type:
    """Import `package/name.py` and return its CamelCase class, with a clear error for each way it can fail; a net
    named `torchvision:NAME` is torchvision's builder NAME."""
    if package == "model" and is_torchvision_name(name):
        return torchvision_net_class(name)
    module = import_user_file(package, name)
    found = expected_class(package, name, module)
    if found is not None:
        return found
    expected = class_name_for(name)
    defined = [
        member_name
        for member_name, member in vars(module).items()
        if inspect.isclass(member) and member.__module__ == module.__name__
    ]
    raise UserError(
        f"{package}/{name}.py has no class {expected}: rename the class to {expected} or the file to match it "
        f"(classes found: {', '.join(defined) or 'none'})"
    )


def listing() -> str:
    """The available nets and datasets, each with the first line of its docstring; helper files are left out."""
    lines = []
    for package, title in (("model", "nets (--model_name)"), ("data", "datasets (--dataset, entries)")):
        lines.append(f"{title}:")
        for name in available_names(package):
            try:
                found = expected_class(package, name, import_user_file(package, name))
            except UserError as error:
                lines.append(f"  {name:<24} (cannot load: {error})")
                continue
            if found is not None:
                own = found.__dict__.get("__doc__")  # never the docstring inherited from nn.Module
                doc = inspect.cleandoc(own).splitlines() if isinstance(own, str) and own.strip() else [""]
                lines.append(f"  {name:<24} {doc[0]}")
        if package == "model":
            lines.append(f"  {'torchvision:NAME':<24} a net of torchvision.models.list_models() but a detector, "
                         f"such as torchvision:resnet18")
    return "\n".join(lines)
