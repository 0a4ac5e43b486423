"""The network being worked on: its layer definitions, their shapes, and undoable edits.

The session owns one ``NetworkDocument``; every view shows it. Views change it only
through its methods, each of which pushes a command on its ``QUndoStack``; they
listen to ``changed``. The weights live in the session, not here.
"""
import copy
import json

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

import engine
from engine.core.spec import check
from workbench.state.layer_info import DEFAULTS, FIELDS, TITLES, layer_type


def _title(d):
    """A layer's name as the properties panel shows it ("Convolution", "Max pool")."""
    t = layer_type(d)
    return TITLES.get(t, t)


def _field_label(d, key):
    """An option's name as the properties panel shows it, in a sentence ("filter width",
    "L1 decay ×"), else its key."""
    for f in FIELDS.get(layer_type(d), []):
        if f.key == key:
            label = f.label
            return label[:1].lower() + label[1:] if label[1:2].islower() else label
    return key


class _Edit(QUndoCommand):
    """Replace the whole list of layer definitions (lists are small; snapshots are simple)."""

    def __init__(self, doc, before, after, text, merge_key=None, selection=None):
        super().__init__(text)
        self.doc, self.before, self.after = doc, before, after
        self.merge_key = merge_key
        self.selection = selection
        self._sel_before = doc.selected

    def redo(self):
        self.doc._set_layers(self.after, self.selection)

    def undo(self):
        self.doc._set_layers(self.before, self._sel_before)

    def id(self):
        return 1 if self.merge_key else -1

    def mergeWith(self, other):
        if other.merge_key != self.merge_key or self.merge_key is None:
            return False
        self.after = other.after
        return True


class NetworkDocument(QObject):
    """Layer definitions (ConvNetJS ``layer_defs``) with validation and undo.

    Signals
    -------
    changed : the layers changed (edit, undo, load)
    selectionChanged(int) : the selected layer (-1: none)
    """

    changed = Signal()
    selectionChanged = Signal(int)

    def __init__(self, layers=None, name="Untitled", parent=None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.name = name
        self.path = None            # spec file this came from / was saved to
        self.selected = -1
        self.layers = []
        self.rows, self.error = [], None
        self.edit_guard = None      # callable: may an edit go ahead? (e.g. stop training first)
        self._set_layers(layers or [], -1)
        self.undo_stack.setClean()

    # -- state ------------------------------------------------------------------
    @property
    def valid(self):
        return self.error is None and bool(self.layers)

    @property
    def total_params(self):
        return sum(r["params"] for r in self.rows if r)

    def error_for(self, index):
        """The engine's message if layer ``index`` is the invalid one, else None."""
        if self.error is not None and self.error.layer_index == index:
            return str(self.error)
        return None

    def _set_layers(self, layers, selection=None):
        self.layers = copy.deepcopy(layers)
        self.rows, self.error = check(self.layers)
        if not self.layers:
            self.error = engine.SpecError("the network is empty: add an input layer", None)
        self.changed.emit()
        if selection is not None:
            self.select(selection)
        elif self.selected >= len(self.layers):
            self.select(len(self.layers) - 1)

    def select(self, index):
        index = index if 0 <= index < len(self.layers) else -1
        if index != self.selected:
            self.selected = index
            self.selectionChanged.emit(index)

    def to_json_text(self):
        """The layer definitions as JSON, one layer per line."""
        if not self.layers:
            return "[]\n"
        return "[\n" + ",\n".join("  " + json.dumps(d) for d in self.layers) + "\n]\n"

    # -- edits (all undoable) ------------------------------------------------------
    def _push(self, layers, text, merge_key=None, selection=None):
        if layers == self.layers:
            return
        if self.edit_guard is not None and not self.edit_guard():
            self.changed.emit()  # views that showed the refused edit go back
            return
        self.undo_stack.push(_Edit(self, copy.deepcopy(self.layers), copy.deepcopy(layers),
                                   text, merge_key, selection))

    def insert_layer(self, index, layer_type_or_def):
        d = copy.deepcopy(DEFAULTS[layer_type_or_def] if isinstance(layer_type_or_def, str)
                          else layer_type_or_def)
        index = max(0, min(index, len(self.layers)))
        layers = self.layers[:index] + [d] + self.layers[index:]
        self._push(layers, f"Add {_title(d)}", selection=index)

    def remove_layer(self, index):
        if 0 <= index < len(self.layers):
            t = _title(self.layers[index])
            layers = self.layers[:index] + self.layers[index + 1:]
            self._push(layers, f"Delete {t}", selection=min(index, len(layers) - 1))

    def duplicate_layer(self, index):
        if 0 <= index < len(self.layers):
            d = copy.deepcopy(self.layers[index])
            layers = self.layers[:index + 1] + [d] + self.layers[index + 1:]
            self._push(layers, f"Duplicate {_title(d)}", selection=index + 1)

    def move_layer(self, src, dest):
        """Move layer ``src`` so that it lands before the layer now at ``dest``."""
        if not 0 <= src < len(self.layers):
            return
        dest = max(0, min(dest, len(self.layers)))
        if dest in (src, src + 1):
            return
        layers = list(self.layers)
        d = layers.pop(src)
        to = dest - 1 if dest > src else dest
        layers.insert(to, d)
        self._push(layers, f"Move {_title(d)}", selection=to)

    def set_property(self, index, key, value):
        """Set (or, with ``value`` None or "", remove) one option of one layer."""
        if not 0 <= index < len(self.layers):
            return
        d = copy.deepcopy(self.layers[index])
        if value is None or value == "":
            if key not in d:
                return
            del d[key]
        else:
            if d.get(key) == value and key in d:
                return
            d[key] = value
        layers = self.layers[:index] + [d] + self.layers[index + 1:]
        self._push(layers, f"Set {_title(d)} {_field_label(d, key)}", merge_key=(index, key),
                   selection=index)

    def replace_layers(self, layers, text="Edit network"):
        self._push(list(layers), text, selection=self.selected if self.selected < len(layers) else -1)

    def rename(self, name):
        """Call the network ``name`` (not an edit: nothing to undo)."""
        self.name = str(name)
        self.changed.emit()

    def load(self, layers, name, path=None):
        """Start over with these layers (a preset, a file): a new name, no undo history."""
        self.undo_stack.clear()
        self.name, self.path = name, path
        self._set_layers(layers, -1)
        self.undo_stack.setClean()
