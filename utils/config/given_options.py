"""Which options a run was given (on the command line or in a --config file), as opposed to left at their defaults."""

import argparse

from utils.config.parser import UserArgumentParser


class _NotGiven:
    """The value every option starts with when parsing for what was given; argparse keeps it for absent options."""


NOT_GIVEN = _NotGiven()


def given_destinations(parser: UserArgumentParser, tokens: list[str]) -> frozenset[str]:
    """The destinations of the options `tokens` give, whatever their values (equal to the default or not)."""
    # argparse sets a default only where the namespace has no value yet, so a pre-filled marker survives where
    # an option is absent.
    namespace = argparse.Namespace(**{action.dest: NOT_GIVEN for action in parser.options})
    parsed = parser.parse_args(tokens, namespace)
    return frozenset(dest for dest, value in vars(parsed).items() if value is not NOT_GIVEN)
