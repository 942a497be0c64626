"""The one error type the engine raises for bad user input."""

from __future__ import annotations


class UserError(ValueError):
    """A problem with what the user asked for; its message is one line meant for the user.

    ``field`` names the setting at fault in the experiment's words (``layers``, ``optimizer_params.lr``,
    ``training.batch_size``), never a command-line flag or a widget: each front end words it its own way
    (the command line names the flag, the window highlights the control).
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def under(self, prefix: str) -> UserError:
        """Return the same error with its field placed under ``prefix`` (``layers`` -> ``training.layers``)."""
        field = f"{prefix}.{self.field}" if self.field else prefix
        return UserError(self.message, field)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def __reduce__(self):
        return (UserError, (self.message, self.field))
