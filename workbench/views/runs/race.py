"""Race and repeat: the trainers of ConvNetJS's comparison demo on the session's network, each
over several seeds, as mean curves with a band (min-max or ±1 sd), so that a difference can
be told from luck (``engine.race``).

``RaceDialog`` picks the trainers, the seeds and the length; ``RaceView`` draws the
summary as it grows (an interleaved race's curves grow together) and a line per trainer
with its final mean, spread and diverged seeds.
"""
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.studies.race import DEMO_TRAINERS
from workbench.views.theme import plain_axes

from .common import DrawnWhenShown

#: One colour per trainer (the run colours are for runs).
METHOD_COLORS = {"sgd": "#9c755f", "momentum": "#4e79a7", "nesterov": "#76b7b2", "adagrad": "#edc948",
                 "windowgrad": "#b07aa1", "adadelta": "#e15759", "adam": "#59a14f"}
CURVES = {"validation_accuracy": "validation accuracy", "cost_loss": "training loss",
          "train_accuracy": "training accuracy"}
BANDS = {"minmax": "min-max", "sd": "±1 sd"}


def describe(name):
    t = DEMO_TRAINERS.get(name, {})
    rate = "" if t.get("method") == "adadelta" else f" at {t.get('learning_rate', 0):g}"
    return f"{name}{rate}"


class RaceDialog(QDialog):
    """Which trainers, how many seeds, how long."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("raceDialog")
        self.setWindowTitle("Compare trainers")
        self.boxes = {}
        grid = QGridLayout()
        for k, name in enumerate(DEMO_TRAINERS):
            b = QCheckBox(describe(name))
            b.setObjectName(f"race_{name}")
            b.setChecked(True)
            self.boxes[name] = b
            grid.addWidget(b, k // 2, k % 2)
        self.seeds = QSpinBox()
        self.seeds.setObjectName("raceSeeds")
        self.seeds.setRange(1, 20)
        self.seeds.setValue(3)
        self.epochs = QDoubleSpinBox()
        self.epochs.setObjectName("raceEpochs")
        self.epochs.setRange(0.005, 100)
        self.epochs.setDecimals(3)
        self.epochs.setValue(0.2)
        self.points = QSpinBox()
        self.points.setRange(2, 200)
        self.points.setValue(20)
        self.interleave = QCheckBox("interleaved (all curves grow together)")
        self.interleave.setChecked(True)
        form = QFormLayout()
        form.addRow("Seeds", self.seeds)
        form.addRow("Epochs each", self.epochs)
        form.addRow("Points", self.points)
        form.addRow("", self.interleave)
        note = QLabel("Each trainer with the settings of ConvNetJS's trainer comparison demo "
                      "(adam at 0.001); the network, batch size and decay are the experiment's. "
                      "A seed fixes the starting weights and the data order, the same for every trainer.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Start")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(grid)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addWidget(buttons)

    def methods(self):
        return [n for n, b in self.boxes.items() if b.isChecked()]


class RaceView(DrawnWhenShown, QWidget):
    """A race's mean curves with their bands (``show_summary``).

    A running race sends a summary after every stretch of every run: the view draws at most
    every ``REDRAW_MS`` and only while it is on screen, and moves the curves it has (their
    data) instead of making new ones. Remaking every curve, band and legend entry for each
    summary made the window's event loop up to 95 ms late (p99 53 ms) during a race.
    """

    REDRAW_MS = 300

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("raceView")
        self.curve = QComboBox()
        self.curve.setObjectName("raceCurve")
        for key, text in CURVES.items():
            self.curve.addItem(text, key)
        self.band = QComboBox()
        self.band.setObjectName("raceBand")
        for key, text in BANDS.items():
            self.band.addItem(text, key)
        self.band.setToolTip("The spread over the seeds: their lowest and highest, or one standard "
                             "deviation either side of the mean.")
        self.caption = QLabel("Compare trainers (the button above) races them here.")
        self.caption.setObjectName("raceCaption")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.PlainText)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("curve"))
        bar.addWidget(self.curve)
        bar.addWidget(QLabel("band"))
        bar.addWidget(self.band)
        bar.addStretch(1)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("racePlot")
        pi = self.plot.getPlotItem()
        pi.setLabel("bottom", "examples seen")
        plain_axes(pi)  # accuracy 0.9, not 900 on "validation accuracy (x0.001)"
        pi.showGrid(x=True, y=True, alpha=0.15)
        pi.addLegend(offset=(-10, 10))
        self.finals = QLabel()
        self.finals.setObjectName("raceFinals")
        self.finals.setWordWrap(True)
        self.finals.setTextFormat(Qt.PlainText)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.caption)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.finals)
        self.summary = None
        self.running = False
        self.means = {}   # method -> mean PlotDataItem
        self.bands = {}   # method -> FillBetweenItem
        self._edges = {}  # method -> (lower, upper) PlotDataItems of its band
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.refresh)
        self.curve.currentIndexChanged.connect(lambda _: self.refresh())
        self.band.currentIndexChanged.connect(lambda _: self.refresh())

    def show_summary(self, summary, running=False):
        self.summary, self.running = summary, running
        if running and self.isVisible():
            if not self._timer.isActive():
                self._timer.start(self.REDRAW_MS)
        else:  # the last summary: now (or when shown)
            self._timer.stop()
            self.refresh()

    def draw(self):
        self.redraw(self.running)

    def _clear(self):
        self.plot.clear()
        self.plot.getPlotItem().legend.clear()
        self.means, self.bands, self._edges = {}, {}, {}

    def bounds(self, method):
        """``(x, lower, upper, mean)`` of a trainer's band on the curve shown (points with a value)."""
        s = self.summary
        key = self.curve.currentData()
        bands = s["results"][method]["curves"][key]
        xs, lo, hi, mean = [], [], [], []
        for x, b in zip(s["examples_seen"], bands):
            if b["mean"] is None:
                continue
            xs.append(x)
            mean.append(b["mean"])
            if self.band.currentData() == "sd":
                lo.append(b["mean"] - b["sd"])
                hi.append(b["mean"] + b["sd"])
            else:
                lo.append(b["min"])
                hi.append(b["max"])
        return xs, lo, hi, mean

    def redraw(self, running=False):
        s = self.summary
        if s is None or set(self.means) - set(s["methods"]):  # another race: start over
            self._clear()
        if s is None:
            return
        key = self.curve.currentData()
        self.plot.getPlotItem().setLabel("left", CURVES[key])
        lines = []
        for m in s["methods"]:
            xs, lo, hi, mean = self.bounds(m)
            if not xs:
                continue
            if m in self.means:  # the curves it has, moved (the band follows its edges)
                lower, upper = self._edges[m]
                lower.setData(xs, lo)
                upper.setData(xs, hi)
                self.means[m].setData(xs, mean)
            else:
                c = QColor(METHOD_COLORS.get(m, "#888888"))
                fill = QColor(c)
                fill.setAlpha(55)
                lower = pg.PlotDataItem(xs, lo, pen=pg.mkPen(fill, width=0.5))
                upper = pg.PlotDataItem(xs, hi, pen=pg.mkPen(fill, width=0.5))
                band = pg.FillBetweenItem(lower, upper, brush=fill)
                for item in (lower, upper, band):
                    self.plot.addItem(item)
                self._edges[m] = (lower, upper)
                self.bands[m] = band
                self.means[m] = self.plot.plot(xs, mean, pen=pg.mkPen(c, width=2.2), name=describe(m))
            res = s["results"][m]
            final = res["final"][key]
            div = f", {res['diverged']} diverged" if res["diverged"] else ""
            if final["n"]:
                fmt = (lambda v: f"{v:.2%}") if "accuracy" in key else (lambda v: f"{v:.3g}")
                n = final["n"]
                lines.append(f"{describe(m)}: {fmt(final['mean'])} ± {fmt(final['sd'])} "
                             f"({fmt(final['min'])}-{fmt(final['max'])}, {n} seed{'s' * (n != 1)}{div})")
            elif div:
                lines.append(f"{describe(m)}: {res['diverged']} diverged")
        seeds = len(s["seeds"])
        state = "racing" if running else ("cancelled" if s.get("cancelled") else "done")
        trainers = len(s["methods"])
        self.caption.setText(f"{trainers} trainer{'s' * (trainers != 1)} × {seeds} seed{'s' * (seeds != 1)}, "
                             f"{s['examples_seen'][-1]:,} examples each: {state}. Mean curves, "
                             f"band {BANDS[self.band.currentData()]} over the seeds.")
        self.finals.setText("\n".join(lines))
        self.plot.getPlotItem().enableAutoRange()
