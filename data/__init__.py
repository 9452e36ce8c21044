"""Datasets: one file per dataset, `data/<snake_name>.py` defining `<CamelName>`."""


def __getattr__(name: str) -> object:
    # Imported on first use, so `--help` and `--list` never pay for importing Lightning.
    if name == "DInterface":
        from data.data_interface import DInterface

        return DInterface
    raise AttributeError(name)
