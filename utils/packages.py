"""The packages a feature needs beyond the core: one missing is one error line naming the `pip install` to run."""

import importlib.util
import re
from pathlib import Path
from typing import Any

from utils.errors import UserError, pip_command

# The project's pins: the install line a refusal gives takes each package's version from here.
REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)
MLFLOW = {"mlflow": "mlflow-skinny"}
OPTUNA = {"optuna": "optuna", "optuna_integration": "optuna-integration"}
MATPLOTLIB = {"matplotlib": "matplotlib"}
# torch.onnx.export (the dynamo exporter) needs onnx and onnxscript; the check that the file gives the net's outputs
# runs it in onnxruntime.
ONNX = {"onnx": "onnx", "onnxscript": "onnxscript", "onnxruntime": "onnxruntime"}


def pip_install(distributions: list[str]) -> str:
    """`pip install` of the distributions (through this interpreter where a plain `pip` is another's), each at the
    version requirements.txt pins (unpinned if it has none)."""
    pins = dict(PIN.findall(REQUIREMENTS.read_text())) if REQUIREMENTS.is_file() else {}
    return f"{pip_command()} " + " ".join(f"{name}=={pins[name]}" if name in pins else name for name in distributions)


def require(feature: str, packages: dict[str, str], instead: str = "") -> None:
    """Refuse `feature` when a module of `packages` (module: pip name) cannot be imported here."""
    missing = [name for module, name in packages.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise UserError(f"{feature} needs {' and '.join(missing)}, which this Python does not have: "
                        f"{pip_install(missing)}{instead}")


def check_feature_packages(options: dict[str, Any], draws_confusion_images: bool) -> None:
    """The packages of the features the options ask for: MLflow, sweeps, confusion matrix images, ONNX export."""
    if "mlflow" in options["logger"]:
        require("--logger mlflow", MLFLOW)
    if options.get("sweep"):
        require("--sweep", OPTUNA)
    if draws_confusion_images:
        require("drawing confusion matrix images", MATPLOTLIB, " (or --confusion_images off)")
    if options.get("format") == "onnx":
        require("--format onnx", ONNX)
