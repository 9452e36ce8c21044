"""Words of the command line that cannot be written as UTF-8: refused before any file is written with them."""

from utils.errors import UserError


def check_utf8_words(argv: list[str]) -> None:
    """Refuse a word holding bytes that are not UTF-8 text (Python keeps them as lone surrogates)."""
    for word in argv:
        try:
            word.encode("utf-8")
        except UnicodeEncodeError:
            shown = word.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise UserError(f"'{shown}' is not UTF-8 text (the shell passed bytes that no UTF-8 text has), so no "
                            f"config.yaml, log or folder name could hold it: type it again as UTF-8 text") from None
