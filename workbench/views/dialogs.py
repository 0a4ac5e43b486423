"""Dialogs: messages that show text from files literally, and file dialogs that start in
the last folder used.

Names and messages come from files (a network's name, a dataset's folder, an engine
error that quotes a layer), and Qt shows any text that looks like HTML as rich text:
``plain`` keeps them literal. Every open and save dialog of the app starts in the folder
the user last opened from or saved to (remembered in the window's settings), not in
the working directory the app happened to start in.
"""
import pathlib

from PySide6.QtGui import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

import engine

_settings = None  # the window's QSettings, where the last folder persists


def plain(text):
    """``text`` as a message box or label with automatic format must get it to show it
    literally: unchanged unless Qt would take it for rich text, else escaped HTML."""
    text = str(text)
    return Qt.convertFromPlainText(text) if Qt.mightBeRichText(text) else text


def menu_text(text):
    """``text`` for a menu item: a file's ``&`` is a letter, not a shortcut marker."""
    return str(text).replace("&", "&&")


def failure_message(error, what):
    """One line for anything that went wrong reading or writing ``what``."""
    if isinstance(error, engine.EngineError):
        return str(error)
    if isinstance(error, MemoryError):
        return f"{what}: there is not enough memory to read it"
    if isinstance(error, RecursionError):
        return f"{what}: nested too deeply to be a network or a snapshot"
    if isinstance(error, OSError):
        text = error.strerror or str(error)
        return text if str(what) in text else f"{what}: {text}"
    return f"{what}: {type(error).__name__}: {error}"  # a bug, but said, not lost


def warn(parent, title, text):
    """A warning with one clear message (shown literally)."""
    QMessageBox.warning(parent, title, plain(text))


def ask_action(parent, title, text, action):
    """A warning that offers to act on it: True when the user chose the button ``action``
    (Cancel beside it)."""
    box = QMessageBox(QMessageBox.Warning, title, plain(text), QMessageBox.Cancel, parent)
    do = box.addButton(action, QMessageBox.AcceptRole)
    box.setDefaultButton(do)
    box.exec()
    return box.clickedButton() is do


def ask_save_discard_cancel(parent, title, text, can_save=True):
    """``"save"``, ``"discard"`` or ``"cancel"`` (without ``can_save``, no Save button)."""
    buttons = QMessageBox.Discard | QMessageBox.Cancel
    if can_save:
        buttons |= QMessageBox.Save
    answer = QMessageBox.question(parent, title, plain(text), buttons,
                                  QMessageBox.Save if can_save else QMessageBox.Cancel)
    return {QMessageBox.Save: "save", QMessageBox.Discard: "discard"}.get(answer, "cancel")


# -- the last folder -----------------------------------------------------------------------
def use_settings(settings):
    """Remember folders in ``settings`` (a QSettings) from now on."""
    global _settings
    _settings = settings


def last_folder():
    """The folder the user last opened a file from or saved one to (else the home folder)."""
    folder = str(_settings.value("lastFolder", "") or "") if _settings is not None else ""
    if folder and pathlib.Path(folder).is_dir():
        return folder
    return str(pathlib.Path.home())


def last_save_folder():
    """The folder the user last saved something to (else the home folder): where a file
    the app names by itself goes by default, never the folder a dataset was opened from."""
    folder = str(_settings.value("lastSaveFolder", "") or "") if _settings is not None else ""
    if folder and pathlib.Path(folder).is_dir():
        return folder
    return str(pathlib.Path.home())


def remember(path, saved=False):
    """``path`` (a file, or a folder that was chosen) was used: its folder is the next start.
    ``saved``: something was written there (``last_save_folder``)."""
    if _settings is None or not path:
        return
    p = pathlib.Path(path).expanduser()
    try:
        p = p.resolve()
    except OSError:
        return
    folder = p if p.is_dir() else p.parent
    _settings.setValue("lastFolder", str(folder))
    if saved:
        _settings.setValue("lastSaveFolder", str(folder))


def ask_open(parent, title, filter_):
    """A file to open, from a dialog that starts in the last folder; None if cancelled."""
    path, _ = QFileDialog.getOpenFileName(parent, title, last_folder(), filter_)
    if path:
        remember(path)
    return path or None


def ask_save(parent, title, name, filter_, folder=None):
    """Where to save ``name``, from a dialog that starts in ``folder`` (default: the last
    folder); None if cancelled."""
    path, _ = QFileDialog.getSaveFileName(parent, title, str(pathlib.Path(folder or last_folder()) / name),
                                          filter_)
    if path:
        remember(path, saved=True)
    return path or None
