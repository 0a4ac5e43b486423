"""What several runs views say about a run: its colour, its key settings, its numbers, in words."""
import html
import json
import math
import pathlib

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from engine.core.errors import EngineError
from engine.runs.records import run_settings
from workbench.state.keeping import run_color


def color(run_id, alpha=255):
    c = QColor(run_color(run_id))
    c.setAlpha(alpha)
    return c


def swatch(run_id, size=12):
    """A small square of the run's colour (the table's check column, the diff's header)."""
    pm = QPixmap(size, size)
    pm.fill(Qt.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.Antialiasing)
    p.setBrush(color(run_id))
    p.setPen(Qt.NoPen)
    p.drawRoundedRect(0, 0, size, size, 3, 3)
    p.end()
    return QIcon(pm)


def settings_of(record):
    """The run's settings (``engine.runs.run_settings``: changes made while it ran applied),
    or {} when its experiment cannot be read."""
    try:
        return run_settings(record)
    except (EngineError, KeyError, TypeError):
        return {}


def value_text(v):
    """A setting's value for people: numbers short, None as a dash, lists as JSON."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


def data_of(record):
    """``(name, path)`` of the data the run trained on: its file's or folder's name ("MNIST" for
    the bundled digits, path None)."""
    data = (record.get("experiment") or {}).get("data")
    if not isinstance(data, str) or not data.strip():
        return "MNIST", None
    p = pathlib.PurePath(data.split(",")[0].rstrip("/\\"))
    name = p.name
    for suffix in (".gz", ".npz", ".csv"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[:-len(suffix)]
    return name or data, data


def key_settings(record):
    """The settings that matter most and the network, in one short line
    (``sgd 0.01 m0.9 · batch 20 · L2 0.001 · cosine · ConvNetJS MNIST demo``)."""
    f = settings_of(record)
    name = (record.get("experiment") or {}).get("name") or ""
    if not f:
        return name
    method = f.get("method", "?")
    trainer = method if method == "adadelta" else f"{method} {value_text(f.get('learning_rate'))}"
    if method in ("sgd", "nesterov") and f.get("momentum"):
        trainer += f" m{value_text(f['momentum'])}"
    parts = [trainer, f"batch {f.get('batch_size')}"]
    if f.get("l2_decay"):
        parts.append(f"L2 {value_text(f['l2_decay'])}")
    if f.get("schedule.kind") not in (None, "constant"):
        parts.append(str(f["schedule.kind"]))
    if f.get("augment.shift"):
        parts.append(f"shift {f['augment.shift']}")
    if name:
        parts.append(name)
    return " · ".join(parts)


def percent(v):
    return "–" if v is None or not math.isfinite(v) else f"{v:.2%}"


def accuracy_of(record, which="test"):
    """A run's final accuracy (``test``, ``validation``, ``train``), or None."""
    m = record.get("metrics") or {}
    return m.get(f"{which}_accuracy")


def column(record, curve, key):
    """A curve column of a record as floats (None as NaN)."""
    import numpy as np
    c = (record.get("curves") or {}).get(curve) or {}
    return np.array([math.nan if v is None else float(v) for v in c.get(key, [])], dtype=float)


def plain_tip(text):
    """A tooltip that shows ``text`` as it is: Qt renders a tooltip that looks like HTML as
    HTML, and names and notes come from files."""
    return "" if not text else "<p style='white-space:pre-wrap'>" + html.escape(str(text)) + "</p>"


class DrawnWhenShown:
    """A mixin for a QWidget that draws (``draw``) only while it is on screen: ``refresh``
    while hidden marks it stale, and showing it draws then (the runs' views are refreshed
    on every change of the runs, most of them while another page is in front)."""

    _stale = True

    def showEvent(self, e):
        super().showEvent(e)
        if self._stale:
            self.refresh()

    def refresh(self):
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        self.draw()

    def draw(self):
        raise NotImplementedError
