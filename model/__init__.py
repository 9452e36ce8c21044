"""Nets: one file per net, `model/<snake_name>.py` defining `<CamelName>`."""


def __getattr__(name: str) -> object:
    # Imported on first use, so `--help` and `--list` never pay for importing Lightning.
    if name == "MInterface":
        from model.model_interface import MInterface

        return MInterface
    raise AttributeError(name)
