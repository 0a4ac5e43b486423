"""The network as JSON layer definitions, synced both ways with the stack."""
import json

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget


def _line_of_layer(text, index):
    """1-based line of the ``index``-th top-level layer object in the JSON text."""
    depth = 0
    count = -1
    line = 1
    in_str = esc = False
    for ch in text:
        if ch == "\n":
            line += 1
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if ch == "{" and depth == 2:
                count += 1
                if count == index:
                    return line
        elif ch in "]}":
            depth -= 1
    return None


class CodeView(QWidget):
    """JSON ``layer_defs`` editor: edits rebuild the stack when they parse."""

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.setObjectName("codeView")
        self.doc = doc
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("codeEditor")
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        self.editor.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.editor.setTabChangesFocus(False)
        self.status = QLabel()
        self.status.setObjectName("codeStatus")
        self.status.setWordWrap(True)
        self.status.setContentsMargins(8, 4, 8, 4)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.editor, 1)
        lay.addWidget(self.status)
        self._timer = QTimer(self, singleShot=True, interval=350)
        self._timer.timeout.connect(self.apply_text)
        self._applying = False
        self.editor.textChanged.connect(self._text_changed)
        doc.changed.connect(self._doc_changed)
        self._doc_changed()

    def _doc_changed(self):
        if self._applying:
            self._show_status()
            return
        text = self.doc.to_json_text()
        if self._parsed(self.editor.toPlainText()) != self.doc.layers:
            cursor = self.editor.textCursor().position()
            self.editor.blockSignals(True)
            self.editor.setPlainText(text)
            self.editor.blockSignals(False)
            c = self.editor.textCursor()
            c.setPosition(min(cursor, len(text)))
            self.editor.setTextCursor(c)
        self._show_status()

    @staticmethod
    def _parsed(text):
        try:
            return json.loads(text)
        except ValueError:
            return None

    def _text_changed(self):
        self._timer.start()

    def apply_text(self):
        """Parse the text now; rebuild the stack if it is a list of layer objects."""
        self._timer.stop()
        text = self.editor.toPlainText()
        try:
            layers = json.loads(text)
        except json.JSONDecodeError as e:
            self._set_status(f"JSON error at line {e.lineno}, column {e.colno}: {e.msg}. "
                             f"The stack keeps the last valid layers.", error=True)
            return False
        if not isinstance(layers, list) or not all(isinstance(d, dict) and isinstance(d.get("type"), str)
                                                   for d in layers):
            self._set_status("Expected a list of layer objects, each with a \"type\" "
                             "(e.g. [{\"type\": \"input\", ...}, ...]).", error=True)
            return False
        if layers != self.doc.layers:
            self._applying = True
            try:
                self.doc.replace_layers(layers, "Edit code")
            finally:
                self._applying = False
        self._show_status()
        return True

    def _show_status(self):
        err = self.doc.error
        if err is None:
            self._set_status(f"{len(self.doc.layers)} layers, {self.doc.total_params:,} parameters.")
        else:
            where = ""
            if err.layer_index is not None:
                line = _line_of_layer(self.editor.toPlainText(), err.layer_index)
                where = f"line {line}: " if line else ""
            self._set_status(f"{where}{err}", error=True)

    def _set_status(self, text, error=False):
        self.status.setText(text)
        self.status.setStyleSheet("color: #d64545" if error else "")
        self.status.setProperty("error", error)
