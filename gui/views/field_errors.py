"""Engine errors in the window's words: the field's label before the message, and the field's control outlined."""

from __future__ import annotations

from PySide6 import QtWidgets

from engine.errors import UserError

HIGHLIGHT = "border: 2px solid #d00000; border-radius: 3px;"


class FieldErrors:
    """Shows one UserError in a label and outlines the control of its field; ``clear()`` undoes both.

    ``controls`` maps a field (``layers``, ``optimizer_params.lr``) to (words for the user, widget). A field
    is matched exactly, then by its longest known prefix, so ``training.layers`` finds ``layers`` when the
    view is given ``prefix="training"``.
    """

    def __init__(self, label: QtWidgets.QLabel, controls: dict[str, tuple[str, QtWidgets.QWidget | None]], prefix=""):
        self.label = label
        self.controls = controls
        self.prefix = prefix
        self.marked: QtWidgets.QWidget | None = None

    def lookup(self, field: str | None) -> tuple[str, QtWidgets.QWidget | None] | None:
        """Return (words, widget) for ``field``, or None when the view has no control for it."""
        if not field:
            return None
        if self.prefix and field.startswith(self.prefix + "."):
            field = field[len(self.prefix) + 1 :]
        parts = field.split(".")
        for n in range(len(parts), 0, -1):
            key = ".".join(parts[:n])
            if key in self.controls:
                return self.controls[key]
        return None

    def text(self, err: UserError) -> str:
        """Return the message in the window's words: 'Learning rate: 0 is not ...'."""
        found = self.lookup(getattr(err, "field", None))
        message = getattr(err, "message", str(err))
        return f"{found[0]}: {message}" if found else str(message)

    def show(self, err: UserError) -> None:
        """Show ``err`` in the label and outline its control."""
        self.clear_mark()
        self.label.setText(self.text(err))
        self.label.show()
        found = self.lookup(getattr(err, "field", None))
        if found and found[1] is not None:
            self.marked = found[1]
            self.marked.setStyleSheet(HIGHLIGHT)
            self.marked.setToolTip(self.label.text() + "\n\n" + (self.marked.toolTip() or ""))

    def show_text(self, text: str) -> None:
        """Show a message that belongs to no field."""
        self.clear_mark()
        self.label.setText(text)
        self.label.show()

    def clear_mark(self) -> None:
        """Remove the outline (the message stays)."""
        if self.marked is not None:
            self.marked.setStyleSheet("")
            tip = self.marked.toolTip()
            self.marked.setToolTip(tip.split("\n\n", 1)[1] if "\n\n" in tip else tip)
            self.marked = None

    def clear(self) -> None:
        """Hide the message and the outline."""
        self.clear_mark()
        self.label.hide()
