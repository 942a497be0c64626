"""`main.py train` and `main.py compare` (filled in by the training engine)."""


def add_parsers(sub) -> None:
    """Register the `train` and `compare` sub-commands."""
