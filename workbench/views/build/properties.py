"""The properties editor: typed fields for the selected layer; changes apply at once."""
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QFrame, QLabel, QSpinBox, QVBoxLayout, QWidget

from workbench.state.layer_info import DESCRIPTIONS, FIELDS, TITLES, layer_type, volume
from workbench.views.undo_keys import being_edited


class LayerPropertiesView(QWidget):
    """Fields of the document's selected layer. Every edit is an undoable command."""

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.setObjectName("layerProperties")
        self.doc = doc
        self.editors = {}
        self._index = -1
        self._type = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        self.title = QLabel()
        f = self.title.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.title.setFont(f)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setForegroundRole(self.description.foregroundRole())
        self.shape = QLabel()
        self.shape.setWordWrap(True)
        self.error = QLabel()
        self.error.setTextFormat(Qt.PlainText)  # the engine's message may quote a file's text
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #d64545")
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setContentsMargins(0, 6, 0, 0)
        self.form.setLabelAlignment(Qt.AlignRight)
        line = QFrame()
        line.setFrameShape(QFrame.HLine)
        line.setFrameShadow(QFrame.Sunken)
        for w in (self.title, self.description, self.shape, self.error, line, self.form_host):
            lay.addWidget(w)
        lay.addStretch(1)
        self.setMinimumWidth(240)
        doc.selectionChanged.connect(lambda i: self._refresh())
        doc.changed.connect(self._refresh)
        self._refresh()

    def _refresh(self):
        i = self.doc.selected
        d = self.doc.layers[i] if 0 <= i < len(self.doc.layers) else None
        t = layer_type(d) if d else None
        if i != self._index or t != self._type:
            self._rebuild(i, d)
        elif d is not None:
            self._load_values(d)
        self._update_info(i, d)

    def _update_info(self, i, d):
        if d is None:
            self.title.setText("No layer selected")
            self.description.setText("Select a layer in the stack to edit it, or drag one in "
                                     "from the palette.")
            self.shape.setText("")
            self.error.setText("")
            return
        t = layer_type(d)
        self.title.setText(f"{i}. {TITLES.get(t, t)}")
        self.description.setText(DESCRIPTIONS.get(t, ""))
        row = self.doc.rows[i] if i < len(self.doc.rows) else None
        if row:
            chain = " → ".join(row["types"])
            self.shape.setText(f"Output <b>{volume(row)}</b> · {row['params']:,} parameters"
                               + (f"<br><small>expands to {chain}</small>" if len(row["types"]) > 1 else ""))
        else:
            self.shape.setText("Output: unknown until the layers above are valid")
        self.error.setText(self.doc.error_for(i) or "")

    def _rebuild(self, i, d):
        self._index, self._type = i, (layer_type(d) if d else None)
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors = {}
        if d is None:
            return
        for f in FIELDS.get(layer_type(d), []):
            w = self._make_editor(f)
            w.setToolTip(f.tooltip)
            w.setObjectName(f"prop_{f.key}")
            label = QLabel(f.label)
            label.setToolTip(f.tooltip)
            self.form.addRow(label, w)
            self.editors[f.key] = (f, w)
        self._load_values(d)

    def _make_editor(self, f):
        if f.kind in ("int", "optional_int"):
            w = QSpinBox()
            lo = int(f.minimum) - (1 if f.kind == "optional_int" else 0)
            w.setRange(lo, int(f.maximum))
            if f.kind == "optional_int":
                w.setSpecialValueText("same as width")
            if f.key == "n":
                w.setSingleStep(2)
            w.valueChanged.connect(lambda v, f=f: self._edited(f, v))
        elif f.kind == "float":
            w = QDoubleSpinBox()
            w.setDecimals(f.decimals)
            w.setRange(f.minimum, f.maximum)
            w.setSingleStep(10 ** -min(f.decimals, 2) if f.maximum <= 1 else 0.1)
            w.valueChanged.connect(lambda v, f=f: self._edited(f, v))
        else:
            w = QComboBox()
            for c in f.choices:
                w.addItem(c or "none", c)
            w.currentIndexChanged.connect(lambda k, f=f, w=w: self._edited(f, w.itemData(k)))
        if not isinstance(w, QComboBox):  # a typed value is one edit, when it is done (Enter,
            w.setKeyboardTracking(False)  # leaving the field, a step arrow), never per keystroke
        return w

    def _load_values(self, d):
        for key, (f, w) in self.editors.items():
            v = d.get(key, f.default)
            w.blockSignals(True)
            try:  # a value from a file may be anything: the field shows what it can
                if isinstance(w, QComboBox):
                    k = w.findData(v or "") if isinstance(v, (str, type(None))) else -1
                    w.setCurrentIndex(max(0, k))
                elif f.kind == "optional_int":
                    w.setValue(int(v) if v is not None else w.minimum())
                elif v is not None and not (w.hasFocus() and being_edited(w.lineEdit())):
                    w.setValue(v)  # (an undo shows in the focused field too; a text being typed stays)
            except (TypeError, ValueError, OverflowError):
                pass
            w.blockSignals(False)

    def _edited(self, f, value):
        i = self._index
        if not 0 <= i < len(self.doc.layers):
            return
        if f.kind == "optional_int" and value < f.minimum:
            value = None
        if f.kind == "choice" and not value:
            value = None
        if f.kind == "float" and f.key == "drop_prob" and value == 0 and self.doc.layers[i].get("type") != "dropout":
            value = None
        if f.kind == "float":
            value = round(float(value), f.decimals)
        self.doc.set_property(i, f.key, value)
