"""Undo and Redo by keyboard wherever the focus is.

A text field takes Ctrl+Z for its own text undo (Qt's ``ShortcutOverride``), so with a
property field focused the window's Edit > Undo never saw the key: the network edit just
made could not be undone by keyboard. Here a field keeps the keys only while its text is
being edited (typed into since it was focused or its edit was done); otherwise they go to
the window's Undo and Redo, which undo the last edit of the network.

``UndoKeys`` follows the focus (``QApplication.focusChanged``) and watches only the field
that has it: no filter on every event of the application.
"""
import logging

from PySide6.QtCore import QEvent, QObject, Qt, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit

log = logging.getLogger(__name__)


def text_field(widget):
    """The line edit that holds ``widget``'s text (itself, a spin box's), or None."""
    if isinstance(widget, QLineEdit):
        return widget
    if isinstance(widget, QAbstractSpinBox):
        return widget.lineEdit()
    return None


def being_edited(field):
    """The user has typed into ``field`` since it was focused or since its edit was done."""
    return field.isModified() and (field.isUndoAvailable() or field.isRedoAvailable())


class UndoKeys(QObject):
    """Sends ``undo_keys``/``redo_keys`` (lists of QKeySequence) to the window's actions
    unless the focused field's text is being edited."""

    def __init__(self, undo_keys, redo_keys, parent=None):
        super().__init__(parent)
        self.keys = {k.toString() for k in list(undo_keys) + list(redo_keys) if not k.isEmpty()}
        self._watched = None
        app = QApplication.instance()
        app.focusChanged.connect(self.watch)
        self.watch(None, app.focusWidget())

    @Slot(object, object)
    def watch(self, old, new):
        if self._watched is not None:
            try:
                self._watched.removeEventFilter(self)
            except RuntimeError:  # deleted since
                pass
            self._watched = None
        field = text_field(new)
        if field is None:
            return
        field.setModified(False)  # just focused: nothing typed yet
        new.installEventFilter(self)
        self._watched = new

    def _is_undo_key(self, event):
        combo = QKeySequence(event.keyCombination()).toString()
        return combo in self.keys

    def eventFilter(self, obj, event):
        kind = event.type()
        if kind == QEvent.ShortcutOverride:
            field = text_field(obj)
            if field is not None and self._is_undo_key(event) and not being_edited(field):
                return True  # not taken by the field: the window's Undo / Redo shortcut runs
        elif kind == QEvent.KeyPress and event.key() in (Qt.Key_Return, Qt.Key_Enter):
            field = text_field(obj)
            if field is not None:
                field.setModified(False)  # the edit is done: its value was applied
        return False
