"""An ArgumentParser whose errors are UserErrors and which knows the options it was given."""

import argparse
import difflib
import re
from typing import Any

from utils.errors import UserError


class OptionGroup:
    """A titled group of options in --help, recording each option it adds on its parser."""

    def __init__(self, parser: "UserArgumentParser", group: Any) -> None:
        self.parser, self.group = parser, group

    def add_argument(self, *names: str, **settings: Any) -> argparse.Action:
        """Add an option to the group, as argparse's add_argument does."""
        action = self.group.add_argument(*names, **settings)
        self.parser.options.append(action)
        return action


class UserArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are UserErrors, shown by main as one line."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.options: list[argparse.Action] = []
        self.hints: dict[str, str] = {}  # what the error for an unknown option says, where more than a close match

    def option_group(self, title: str, description: str | None = None) -> OptionGroup:
        """An argument group whose options this parser records (for suggestions and for knowing who owns a name)."""
        return OptionGroup(self, self.add_argument_group(title, description))

    def destinations(self) -> set[str]:
        """The names of every option added through this parser's groups."""
        return {action.dest for action in self.options}

    def option_strings(self) -> set[str]:
        """Every name, such as --lr, of the options added through this parser's groups."""
        return {name for action in self.options for name in action.option_strings}

    def plain_names(self) -> set[str]:
        """Every name a config file may use as a key: each option's destination and its long names without --."""
        names = self.destinations()
        for action in self.options:
            switch = isinstance(action, argparse.BooleanOptionalAction)
            names.update(name[2:] for name in action.option_strings
                         if name.startswith("--") and not (switch and name.startswith("--no-")))
        return names

    def given_destinations(self, words: list[str]) -> frozenset[str]:
        """The destinations of the options that `words` name, as --NAME VALUE or --NAME=VALUE."""
        destinations = {name: action.dest for action in self.options for name in action.option_strings}
        return frozenset(destinations[word.partition("=")[0]] for word in words
                         if word.partition("=")[0] in destinations)

    def error(self, message: str) -> None:  # type: ignore[override]
        """Raise instead of printing usage and exiting, suggesting the closest option for an unknown one."""
        hint = ""
        unknown = re.match(r"unrecognized arguments: (--[^\s=]+)", message)
        if unknown:
            names = [name for action in self.options for name in action.option_strings]
            close = difflib.get_close_matches(unknown.group(1), names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            hint = f" ({self.hints[unknown.group(1)]})" if unknown.group(1) in self.hints else hint
        raise UserError(f"{message}{hint} (see python main.py --help)")
