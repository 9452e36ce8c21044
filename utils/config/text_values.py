"""Words of the command line refused before anything is written: those not UTF-8 text, and an option given twice."""

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


def check_given_once(argv: list[str]) -> None:
    """Refuse an option given twice (`--no-x` is `--x` too): argparse would keep the last and drop the first unsaid."""
    seen: dict[str, str] = {}
    for word in argv:
        if not word.startswith("--") or word == "--":
            continue
        name = word.partition("=")[0]
        option = f"--{name[5:]}" if name.startswith("--no-") else name
        if option in seen:
            spelled = f" ({seen[option]}, then {word})" if seen[option] != word else ""
            raise UserError(f"{option} is given twice{spelled}, and only the last would count: give it once; several "
                            f"values of one option go after it together, such as --val_datasets a b")
        seen[option] = word
