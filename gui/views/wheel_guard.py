"""The mouse wheel scrolls long forms instead of changing the combo box or number field under the pointer.

Without this, scrolling down the training form turned SGD into Adam. A field changes with the wheel only
after it was clicked or tabbed into (it has the focus); otherwise the wheel goes to the scroll area.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

_GUARDED = (QtWidgets.QComboBox, QtWidgets.QAbstractSpinBox)


class WheelGuard(QtCore.QObject):
    """An application-wide event filter: an unfocused combo box or spin box passes wheel events to its parent."""

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        """Return True when the event was redirected (the field does not see it)."""
        if not isinstance(obj, _GUARDED):
            return False
        kind = event.type()
        if kind == QtCore.QEvent.Type.Polish:
            obj.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)  # a wheel alone no longer gives it the focus
        elif kind == QtCore.QEvent.Type.Wheel and not obj.hasFocus():
            parent = obj.parentWidget()
            if parent is not None:
                QtCore.QCoreApplication.sendEvent(parent, event)
            return True
        return False


def install_wheel_guard(app: QtWidgets.QApplication) -> WheelGuard:
    """Install the guard on ``app`` once and return it."""
    guard = getattr(app, "_descent_lab_wheel_guard", None)
    if guard is None:
        guard = WheelGuard(app)
        app.installEventFilter(guard)
        app._descent_lab_wheel_guard = guard
    return guard
