"""The one error type the engine raises for bad user input."""


class UserError(ValueError):
    """A problem with what the user asked for; its message is one line meant for the user."""
