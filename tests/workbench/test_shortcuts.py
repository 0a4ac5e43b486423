"""Keyboard shortcuts: no key bound twice on any platform, and Undo/Redo work by keyboard.

On X11 the platform's Redo key *is* Ctrl+Shift+Z; binding it a second time made Qt log
"Ambiguous shortcut overload" and neither binding fired, which offscreen tests (whose
platform has other bindings) never saw. So the bindings of every platform are checked
here, and the keys themselves are pressed on this one.
"""
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut

from workbench.window.main_window import redo_shortcuts, undo_shortcuts

# QKeySequence.keyBindings(Undo / Redo) as Qt's platform themes give them
PLATFORMS = {
    "x11": (["Ctrl+Z", "F14", "Undo"], ["Ctrl+Shift+Z", "Redo"]),  # xcb under Xvfb, as measured
    "gnome": (["Ctrl+Z"], ["Ctrl+Shift+Z"]),
    "kde": (["Ctrl+Z"], ["Ctrl+Shift+Z", "Ctrl+Y"]),
    "windows": (["Ctrl+Z", "Alt+Backspace"], ["Ctrl+Y", "Ctrl+Shift+Z", "Alt+Shift+Backspace"]),
    "macos": (["Ctrl+Z"], ["Ctrl+Shift+Z"]),
    "this platform": None,
}


def bindings(platform):
    if PLATFORMS[platform] is None:
        return QKeySequence.keyBindings(QKeySequence.Undo), QKeySequence.keyBindings(QKeySequence.Redo)
    undo, redo = PLATFORMS[platform]
    return [QKeySequence(k) for k in undo], [QKeySequence(k) for k in redo]


def names(keys):
    return [k.toString() for k in keys]


def window_keys(window, undo=None, redo=None):
    """Every key sequence the window's actions answer to while it is active (with the
    platform's undo/redo keys when given), and the widget shortcuts."""
    actions, widget_shortcuts = [], []
    for a in window.findChildren(QAction):
        if a is window.undo_action and undo is not None:
            keys = undo
        elif a is window.redo_action and redo is not None:
            keys = redo
        else:
            keys = a.shortcuts()
        if a.shortcutContext() in (Qt.WindowShortcut, Qt.ApplicationShortcut):
            actions += [(k.toString(), a.text()) for k in keys if not k.isEmpty()]
    for s in window.findChildren(QShortcut):
        widget_shortcuts += [(k.toString(), s.parent().objectName()) for k in s.keys() if not k.isEmpty()]
    return actions, widget_shortcuts


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_no_key_is_bound_twice(window, platform):
    undo_b, redo_b = bindings(platform)
    undo, redo = undo_shortcuts(undo_b), redo_shortcuts(redo_b, undo_b)
    assert "Ctrl+Z" in names(undo) and set(names(undo_b)) <= set(names(undo))
    assert {"Ctrl+Shift+Z", "Ctrl+Y"} <= set(names(redo))
    assert set(names(redo_b)) - set(names(undo)) <= set(names(redo))
    assert len(set(names(undo + redo))) == len(undo + redo)
    actions, widget_shortcuts = window_keys(window, undo, redo)
    keys = [k for k, _ in actions]
    twice = {k: [t for kk, t in actions if kk == k] for k in keys if keys.count(k) > 1}
    assert not twice
    clash = [(k, where) for k, where in widget_shortcuts if k in keys]
    assert not clash


@pytest.mark.qt_log_ignore("keyToAscii Unhandled key code")  # QTest's word for the Undo/Redo keys
def test_undo_and_redo_by_keyboard(window, qtbot):
    """Ctrl+Z undoes; Ctrl+Y, Ctrl+Shift+Z and each of the platform's Redo keys redo
    (and Qt logs no "Ambiguous shortcut overload": a warning fails the test)."""
    w = window
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)  # shortcuts go to the active window
    w.doc.select(1)
    filters = w.build_tab.properties.editors["filters"][1]
    filters.setValue(5)
    w.build_tab.stack.setFocus()
    redo_keys = [QKeySequence("Ctrl+Y"), QKeySequence("Ctrl+Shift+Z")] + list(w.redo_action.shortcuts())
    for key in redo_keys + [QKeySequence("Ctrl+Y")]:
        qtbot.keyClick(w, Qt.Key_Z, Qt.ControlModifier)
        assert w.doc.layers[1]["filters"] == 8, "Ctrl+Z did not undo"
        combo = key[0]
        qtbot.keyClick(w, combo.key(), combo.keyboardModifiers())
        assert w.doc.layers[1]["filters"] == 5, f"{key.toString()} did not redo"
    for key in w.undo_action.shortcuts():
        combo = key[0]
        qtbot.keyClick(w, combo.key(), combo.keyboardModifiers())
        assert w.doc.layers[1]["filters"] == 8, f"{key.toString()} did not undo"
        qtbot.keyClick(w, Qt.Key_Y, Qt.ControlModifier)


@pytest.mark.qt_log_ignore("keyToAscii Unhandled key code")
def test_undo_keys_with_a_property_field_focused_undo_the_network_edit(window, qtbot):
    """With a property field focused, Ctrl+Z / Ctrl+Shift+Z undo and redo the last network edit;
    the field has its own text undo only while its text is being edited; Edit > Undo says
    what the properties panel calls the setting."""
    from PySide6.QtTest import QTest
    w = window
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    w.tabs.setCurrentWidget(w.build_tab)
    w.doc.select(1)
    filters = w.build_tab.properties.editors["filters"][1]
    filters.setFocus()
    qtbot.waitUntil(filters.hasFocus, timeout=5000)
    filters.lineEdit().selectAll()
    QTest.keyClicks(filters, "5")
    assert w.doc.layers[1]["filters"] == 8  # being typed: not an edit yet
    QTest.keyClick(filters, Qt.Key_Z, Qt.ControlModifier)  # the field's own text undo
    assert filters.lineEdit().text() == "8" and w.doc.layers[1]["filters"] == 8
    filters.lineEdit().selectAll()
    QTest.keyClicks(filters, "5")
    QTest.keyClick(filters, Qt.Key_Return)
    assert w.doc.layers[1]["filters"] == 5 and filters.hasFocus()
    assert w.undo_action.text() == "&Undo Set Convolution filters"
    QTest.keyClick(filters, Qt.Key_Z, Qt.ControlModifier)
    assert w.doc.layers[1]["filters"] == 8, "Ctrl+Z in the field did not undo the edit"
    assert filters.value() == 8
    QTest.keyClick(filters, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert w.doc.layers[1]["filters"] == 5, "Ctrl+Shift+Z in the field did not redo the edit"
    assert filters.hasFocus()
