"""Runs' curves laid over each other: loss and accuracy of the checked runs, each in its colour,
against examples seen or training wall time, with a marker where a setting was changed
while a run trained (hover it for what changed).

``draw_run`` puts one record's curve on any pyqtgraph plot (the Train plots use it too);
``RunCurvesView`` is the Runs place's pair of plots.
"""
import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.views.theme import plain_axes

from ..train.plots import thin
from .common import DrawnWhenShown, color, column, plain_tip, value_text

#: What a run's curve may show: (curve, column, title).
WHAT = {"loss": ("progress", "cost_loss", "training loss"),
        "train": ("progress", "train_accuracy", "training accuracy"),
        "validation": ("eval", "validation_accuracy", "validation accuracy"),
        "test": ("eval", "test_accuracy", "test accuracy")}
X_AXES = {"examples_seen": "examples seen", "seconds": "training time (s)"}


def smooth(y, alpha=0.2):
    """A debiased exponential moving average (NaN kept out)."""
    out = np.empty_like(y)
    m, w = 0.0, 0.0
    for i, v in enumerate(y):
        if np.isfinite(v):
            m = (1 - alpha) * m + alpha * v
            w = (1 - alpha) * w + alpha
        out[i] = m / w if w else np.nan
    return out


def changes_of(record):
    """The settings changed while a run trained (the epochs, which every stretch sets, aside)."""
    return [c for c in record.get("changes") or [] if c.get("setting") != "epochs"]


def change_text(record, c):
    return (f"{record.get('name') or record['id']}: {c['setting']} {value_text(c.get('from'))} → "
            f"{value_text(c.get('to'))} at {c['examples_seen']:,} examples")


def curve_xy(record, what, x_key="examples_seen"):
    """``(x, y)`` of one curve of a record, points without a value dropped."""
    curve, key, _ = WHAT[what]
    x = column(record, curve, x_key)
    y = column(record, curve, key)
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if what in ("loss", "train") and len(y):
        y = smooth(y)
    return x, y


def marker_xy(record, what, x_key="examples_seen"):
    """Where the markers of a run's setting changes sit on its curve ``what``: ``(x, y, changes)``."""
    changes = changes_of(record)
    if not changes:
        return np.zeros(0), np.zeros(0), []
    ex = np.array([c["examples_seen"] for c in changes], dtype=float)
    if x_key == "seconds":
        px, ps = column(record, "progress", "examples_seen"), column(record, "progress", "seconds")
        n = min(len(px), len(ps))
        xs = np.interp(ex, px[:n], ps[:n]) if n else ex * 0
    else:
        xs = ex
    cx, cy = curve_xy(record, what, x_key)
    ys = np.interp(xs, cx, cy) if len(cx) else np.full(len(xs), np.nan)
    ok = np.isfinite(ys)
    if len(cx):  # on the curve, not before or after it (an accuracy measured now and then)
        ok &= (xs >= cx[0]) & (xs <= cx[-1])
    return xs[ok], ys[ok], [c for c, k in zip(changes, ok) if k]


def draw_run(plot, record, what, x_key="examples_seen", width=1.8, style=Qt.SolidLine, name=None,
             markers=True):
    """Add a record's curve ``what`` (and its change markers) to ``plot`` in the run's colour;
    returns the items added (the markers' ScatterPlotItem last, when there are any)."""
    x, y = curve_xy(record, what, x_key)
    items = []
    pen = pg.mkPen(color(record["id"]), width=width, style=style)
    if len(x):
        xs, ys = thin(x, y)
        item = plot.plot(xs, ys, pen=pen, name=name, skipFiniteCheck=True)
        if WHAT[what][0] == "eval":
            item.setSymbol("o")
            item.setSymbolSize(5)
            item.setSymbolBrush(color(record["id"]))
            item.setSymbolPen(None)
        items.append(item)
    if markers:
        mx, my, changes = marker_xy(record, what, x_key)
        if len(mx):
            texts = [plain_tip(change_text(record, c)) for c in changes]
            sc = pg.ScatterPlotItem(x=mx, y=my, symbol="t1", size=13, brush=color(record["id"]),
                                    pen=pg.mkPen(pg.getConfigOption("foreground"), width=1),
                                    data=texts, hoverable=True,
                                    tip=lambda x, y, data: data)
            sc.setZValue(10)
            plot.addItem(sc)
            items.append(sc)
    return items


class RunCurvesView(DrawnWhenShown, QWidget):
    """The checked runs' loss and accuracy (the Runs place's "Curves")."""

    REFRESH_MS = 1000  # a live run checked: its curves grow this often

    def __init__(self, keeper, session=None, parent=None):
        super().__init__(parent)
        self.setObjectName("runCurves")
        self.keeper = keeper
        self.x_axis = QComboBox()
        self.x_axis.setObjectName("runsXAxis")
        for key, text in X_AXES.items():
            self.x_axis.addItem(text, key)
        self.x_axis.setToolTip("Compare runs at the same examples seen, or at the same training time.")
        self.accuracy = QComboBox()
        self.accuracy.setObjectName("runsAccuracyKind")
        for key in ("train", "validation", "test"):
            self.accuracy.addItem(WHAT[key][2], key)
        self.hint = QLabel("Check runs in the table to lay their curves over each other. "
                           "A triangle marks a setting changed while a run trained.")
        self.hint.setWordWrap(True)
        self.hint.setObjectName("runsCurvesHint")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("against"))
        bar.addWidget(self.x_axis)
        bar.addSpacing(12)
        bar.addWidget(QLabel("accuracy"))
        bar.addWidget(self.accuracy)
        bar.addSpacing(12)
        bar.addWidget(self.hint, 1)
        bar.addStretch(0)
        self.loss = self._plot("runsLossPlot", "Loss (smoothed)", "loss")
        self.acc = self._plot("runsAccuracyPlot", "Accuracy", "accuracy")
        plots = QHBoxLayout()
        plots.setContentsMargins(0, 0, 0, 0)
        plots.addWidget(self.loss, 1)
        plots.addWidget(self.acc, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addLayout(plots, 1)
        self.items = {}     # run id -> items drawn
        self.markers = {}   # run id -> the loss plot's marker item
        self.x_axis.currentIndexChanged.connect(lambda _: self.refresh())
        self.accuracy.currentIndexChanged.connect(lambda _: self.refresh())
        keeper.checkedChanged.connect(self.refresh)
        keeper.runsChanged.connect(self.refresh)
        self._timer = QTimer(self, interval=self.REFRESH_MS)
        self._timer.timeout.connect(self._live)
        if session is not None:
            self.session = session
            session.training.runningChanged.connect(lambda on: self._timer.start() if on else self._timer.stop())
        else:
            self.session = None

    def _plot(self, name, title, ylabel):
        p = pg.PlotWidget()
        p.setObjectName(name)
        pi = p.getPlotItem()
        pi.setTitle(title)
        pi.setLabel("left", ylabel)
        pi.setLabel("bottom", "examples seen")
        pi.showGrid(x=True, y=True, alpha=0.15)
        pi.addLegend(offset=(-10, 10))
        plain_axes(pi)  # accuracy as 0.95, not 950 x0.001
        p.setMinimumHeight(140)
        return p

    def _live(self):
        s = self.session
        if s is not None and s.training.running and s.training.current is not None and s.training.current.run_id in self.keeper.checked:
            self.refresh()

    def draw(self):
        x_key = self.x_axis.currentData()
        for p in (self.loss, self.acc):
            p.clear()
            p.getPlotItem().legend.clear()
            p.getPlotItem().setLabel("bottom", X_AXES[x_key])
        self.items, self.markers = {}, {}
        runs = self.keeper.checked_runs()
        self.hint.setVisible(not runs)
        acc = self.accuracy.currentData()
        for rec in runs:
            name = html.escape(rec.get("name") or rec["id"])  # the legend renders HTML
            a = draw_run(self.loss, rec, "loss", x_key, name=name)
            b = draw_run(self.acc, rec, acc, x_key, name=name)
            self.items[rec["id"]] = a + b
            if a and isinstance(a[-1], pg.ScatterPlotItem):
                self.markers[rec["id"]] = a[-1]
        for p in (self.loss, self.acc):
            p.getPlotItem().enableAutoRange()
