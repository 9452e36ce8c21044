"""The one exception type for mistakes the user can fix."""


class UserError(Exception):
    """A wrong input: the message says what was wrong and how to fix it."""
