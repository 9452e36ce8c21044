"""Build a class from the values its constructor's parameters name, leaving out every other value."""

import inspect
from typing import Any

from utils.errors import UserError
from utils.loading.constructor_parameters import constructor_parameters


def needs_value(cls: type, name: str) -> str:
    """The error for a parameter without a default that nothing gives a value."""
    return f"{cls.__name__} needs a value for its parameter {name!r}, which has no default: pass --{name} VALUE"


def instance_arguments(cls: type, values: dict[str, Any], given: dict[str, Any] | None = None,
                       **fixed: Any) -> dict[str, Any]:
    """The arguments `cls` is called with for exactly the parameters its signature names: from `fixed`, else `given`,
    else `values`, else the parameter's default."""
    given = given or {}
    kwargs = {}
    for parameter in constructor_parameters(cls):
        name = parameter.name
        if name in fixed:
            kwargs[name] = fixed[name]
        elif name in given:
            kwargs[name] = given[name]
        elif values.get(name) is not None or (name in values and parameter.default is None):
            kwargs[name] = values[name]
        elif parameter.default is not inspect.Parameter.empty:
            kwargs[name] = parameter.default
        else:
            raise UserError(needs_value(cls, name))
    return kwargs


def build_instance(cls: type, values: dict[str, Any], given: dict[str, Any] | None = None, **fixed: Any) -> Any:
    """Call `cls` with the arguments `instance_arguments` gives it."""
    return cls(**instance_arguments(cls, values, given, **fixed))
