"""An ArgumentParser whose errors are UserErrors and which knows the options it was given."""

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from typing import Any

from utils.config.annotation_readers import FALSE_WORDS, TRUE_WORDS
from utils.errors import UserError, main_command

# Every option starts with this when parsing for what was given: argparse sets a default only where the namespace
# has no value yet, so the marker survives where an option is absent.
NOT_GIVEN = object()


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

    def given(self, tokens: list[str]) -> frozenset[str]:
        """The destinations of the options `tokens` give, whatever their values (equal to the default or not)."""
        parsed = self.parse_args(tokens, argparse.Namespace(**{action.dest: NOT_GIVEN for action in self.options}))
        return frozenset(dest for dest, value in vars(parsed).items() if value is not NOT_GIVEN)

    def spellings(self, tokens: list[str]) -> dict[str, str]:
        """The name each destination was given by in `tokens`, as typed (`--lr` for optimizer.lr)."""
        by_name = {name: action.dest for action in self.options for name in action.option_strings}
        return {by_name[name]: name for name in (token.partition("=")[0] for token in tokens) if name in by_name}

    def plain_names(self) -> set[str]:
        """Every name a config file may use as a key: each option's destination and its long names without --."""
        names = self.destinations()
        for action in self.options:
            switch = isinstance(action, argparse.BooleanOptionalAction)
            names.update(name[2:] for name in action.option_strings
                         if name.startswith("--") and not (switch and name.startswith("--no-")))
        return names

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        """Parse as argparse does, reading `--x true` and `--x false` for a --x / --no-x switch, as commands written
        for other templates spell a bool, as `--x` and `--no-x`."""
        return super().parse_known_args(self.spelled_switches(list(sys.argv[1:] if args is None else args)), namespace)

    def spelled_switches(self, tokens: list[str]) -> list[str]:
        """`tokens` with each switch followed by true or false (or given as --x=false) written as --x or --no-x."""
        switches = {name for action in self.options if isinstance(action, argparse.BooleanOptionalAction)
                    for name in action.option_strings if not name.startswith("--no-")}
        spelled, index = [], 0
        while index < len(tokens):
            name, equals, word = tokens[index].partition("=")
            if not equals and index + 1 < len(tokens):
                word = tokens[index + 1]
            if name in switches and word.lower() in TRUE_WORDS | FALSE_WORDS:
                spelled.append(name if word.lower() in TRUE_WORDS else f"--no-{name[2:]}")
                index += 1 if equals else 2
            else:
                spelled.append(tokens[index])
                index += 1
        return spelled

    def error(self, message: str) -> None:  # type: ignore[override]
        """Raise instead of printing usage and exiting, suggesting the closest option for an unknown one."""
        hint = ""
        unknown = re.match(r"unrecognized arguments: (--[^\s=]+)", message)
        if unknown:
            names = [name for action in self.options for name in action.option_strings]
            close = difflib.get_close_matches(unknown.group(1), names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            hint = f" ({self.hints[unknown.group(1)]})" if unknown.group(1) in self.hints else hint
        raise UserError(f"{message}{hint} (see {main_command()} --help)")
