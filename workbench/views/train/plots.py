"""Live loss and accuracy plots (pyqtgraph): curves built once, then only setData.

Each plot takes the session's training reports as they come and redraws at most
four times a second, and only while it is on screen (its own rate limit).
"""

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QGraphicsItem, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from engine.core.errors import EngineError
from engine.core.io import atomic_write_bytes, atomic_write_text, csv_text
from workbench.views import dialogs
from workbench.views.theme import plain_axes, plot_colors


def thin(x, y, limit=300):
    """At most about ``limit`` points for drawing: means over runs of neighbours, the last kept.

    Lines wider than one pixel are stroked point by point, so a half-hour run's
    curves (thousands of points each) took 25 ms a frame to draw; a plot is a few
    hundred pixels wide, so a few hundred points show the same curve.
    """
    n = len(x)
    if n <= limit:
        return x, y
    k = -(-n // limit)
    m = n // k * k
    xs = np.concatenate([x[k - 1:m:k], x[m:]])
    ys = np.concatenate([y[:m].reshape(-1, k).mean(axis=1), y[m:]])
    return xs, ys


class Series:
    """A growing (x, y) buffer of at most ``max_points`` points, however long the run.

    When full, neighbouring points are averaged in pairs and later points are
    averaged over twice as many reports, so a plot costs the same to redraw, and
    holds the same memory, after thirty minutes as after one. With ``alpha`` it also
    keeps a debiased exponential moving average of ``y`` (TensorBoard's smoothing).
    """

    def __init__(self, alpha=None, max_points=2048):
        self.alpha = alpha
        self.max_points = max_points
        self.x = np.empty(max_points)
        self.y = np.empty(max_points)
        self.s = np.empty(max_points)
        self.n = 0
        self.stride = 1          # reports per point
        self._acc = [0.0, 0.0, 0.0, 0]
        self._m = 0.0
        self._seen = 0

    def append(self, x, y):
        if self.alpha:
            self._m = (1 - self.alpha) * self._m + self.alpha * y
            self._seen += 1
            sm = self._m / (1 - (1 - self.alpha) ** self._seen)
        else:
            sm = y
        acc = self._acc
        acc[0] = x               # a point sits at the last report it averages
        acc[1] += y
        acc[2] = sm              # the smoothed curve is already smooth: keep its last value
        acc[3] += 1
        if acc[3] < self.stride:
            return
        if self.n == self.max_points:
            half = self.n // 2
            self.x[:half] = self.x[1:self.n:2]
            self.y[:half] = 0.5 * (self.y[0:self.n:2] + self.y[1:self.n:2])
            self.s[:half] = self.s[1:self.n:2]
            self.n = half
            self.stride *= 2
            return  # the pending reports go on filling a point of the new, doubled size
        self.x[self.n], self.y[self.n], self.s[self.n] = acc[0], acc[1] / acc[3], acc[2]
        self.n += 1
        self._acc = [0.0, 0.0, 0.0, 0]

    def data(self):
        return self.x[:self.n], self.y[:self.n]

    def smoothed(self):
        return self.x[:self.n], (self.s if self.alpha else self.y)[:self.n]

    def clear(self):
        self.n = 0
        self.stride = 1
        self._acc = [0.0, 0.0, 0.0, 0]
        self._m = 0.0
        self._seen = 0


REFRESH_MS = 250  # new points reach the curves at most this often


class _PlotView(QWidget):
    """A titled plot with a small toolbar: log scale, clear, export PNG/CSV.

    With a session it follows the session's reports (``add``) and greys the
    curves of earlier runs when the weights are replaced (``retire_run``).
    """

    def __init__(self, object_name, title, ylabel, session=None, parent=None):
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName(object_name)
        self.setObjectName(object_name + "Panel")
        pi = self.plot.getPlotItem()
        pi.setTitle(title)
        pi.setLabel("bottom", "examples seen")
        pi.setLabel("left", ylabel)
        plain_axes(pi)  # a loss of 0.002 on "loss", not 2 on "loss (x0.001)"
        pi.showGrid(x=True, y=True, alpha=0.15)
        pi.setClipToView(True)
        pi.setDownsampling(auto=True, mode="peak")
        self.legend = pi.addLegend(offset=(-10, 10))
        self.log = QCheckBox("log scale")
        self.log.toggled.connect(lambda on: pi.setLogMode(y=on))
        clear = QPushButton("Clear")
        clear.setToolTip("Forget the curves of this session (the network keeps training).")
        clear.clicked.connect(self.clear)
        png = QPushButton("PNG…")
        png.setToolTip("Save the plot as a picture.")
        png.clicked.connect(self._export_png)
        csvb = QPushButton("CSV…")
        csvb.setToolTip("Save the curves' points as CSV.")
        csvb.clicked.connect(self._export_csv)
        self.other_data = QCheckBox()
        self.other_data.setObjectName(object_name + "OtherData")
        self.other_data.setToolTip("Greyed curves of earlier runs on another dataset. Its examples are other "
                                   "examples, so they are shown only when asked for, and the examples axis "
                                   "then stretches to their length.")
        self.other_data.hide()
        self.other_data.toggled.connect(self._show_other_data)
        self.readout = QLabel()
        self.readout.setObjectName(object_name + "Readout")
        self.crosshair = pg.InfiniteLine(angle=90, movable=False,
                                         pen=pg.mkPen(plot_colors()["old"], width=1, style=Qt.DashLine))
        self.crosshair.hide()
        pi.addItem(self.crosshair, ignoreBounds=True)
        self._mouse = pg.SignalProxy(self.plot.scene().sigMouseMoved, rateLimit=30, slot=self._hover)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.log)
        bar.addWidget(self.other_data)
        bar.addSpacing(12)
        bar.addWidget(self.readout)
        bar.addStretch(1)
        for b in (clear, png, csvb):
            b.setAutoDefault(False)
            bar.addWidget(b)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.plot, 1)
        self.old_curves = []
        self.other_data_curves = []  # greyed curves of runs on another dataset: shown on request
        self._dirty = False
        self._timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._timer.timeout.connect(self._refresh_if_dirty)
        if session is not None:
            session.training.report.connect(self.add)
            session.training.historyRestored.connect(self.show_history)
            session.runStarted.connect(self.retire_run)
            session.data.changed.connect(self._new_dataset)
        # The x range grows in steps, not with every point: a changing range makes
        # pyqtgraph rebuild the axes on every frame, most of the cost of a repaint.
        pi.enableAutoRange(x=False)
        self._xmax = 0.0
        pi.setXRange(0, 10000, padding=0)
        # Axes, title and legend change rarely: let Qt keep them as pixmaps between frames.
        for name in ("left", "bottom", "top", "right"):
            pi.getAxis(name).setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        pi.titleLabel.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.legend.setCacheMode(QGraphicsItem.DeviceCoordinateCache)

    def _changed(self):
        """New points: draw them soon (at most every REFRESH_MS), if the plot is on screen."""
        self._dirty = True
        if not self._timer.isActive() and self.isVisible():
            self._timer.start()

    def _refresh_if_dirty(self):
        if self._dirty and self.isVisible():
            self.refresh()

    def showEvent(self, e):
        super().showEvent(e)
        if self._dirty:
            self.refresh()

    def _grow_x(self, xmax):
        if xmax > self._xmax or self._xmax == 0:
            exp = 10 ** np.floor(np.log10(max(xmax * 1.3, 1000)))
            self._xmax = float(np.ceil(max(xmax * 1.3, 1000) / exp) * exp)
            self.plot.getPlotItem().setXRange(0, self._xmax, padding=0.01)

    def _new_dataset(self):
        """Curves of another dataset: greyed and put aside (shown only on request, "runs on other
        data"), and the examples axis starts again from the new run's: the old curves were
        squeezed into the new data's axis as diagonal lines, and a run of 40 examples was
        squashed at 0 of an axis that the old run made 70,000 long."""
        self.retire_run()
        for c in self.old_curves:
            c.hide()
        self.other_data_curves += self.old_curves
        self.old_curves = []
        self._update_other_data()
        self._xmax = 0.0
        self._grow_x(0.0)

    def _update_other_data(self):
        n = len(self.other_data_curves)
        self.other_data.blockSignals(True)
        self.other_data.setChecked(False)
        self.other_data.blockSignals(False)
        self.other_data.setText(f"runs on other data ({n})")
        self.other_data.setVisible(n > 0)

    def _show_other_data(self, on):
        for c in self.other_data_curves:
            c.setVisible(on)
        self._xmax = 0.0
        if on:
            self._grow_x(max((c.x_end for c in self.other_data_curves), default=0.0))
        self.refresh()

    def include_x(self, x):
        """Widen the examples axis to show ``x`` (curves of other runs laid over these)."""
        self._grow_x(x)

    def _hover(self, event):
        """Crosshair and the values of every series at the examples count under the mouse."""
        pos = event[0]
        vb = self.plot.getPlotItem().vb
        if not self.plot.sceneBoundingRect().contains(pos):
            return
        x = vb.mapSceneToView(pos).x()
        parts = []
        for name, series in self.series().items():
            xs, ys = series.smoothed() if series.alpha else series.data()
            if len(xs):
                i = int(np.clip(np.searchsorted(xs, x), 0, len(xs) - 1))
                parts.append(f"{name.replace('_', ' ')} {ys[i]:.4g}")
        if not parts:
            return
        self.crosshair.setPos(x)
        self.crosshair.show()
        self.readout.setText(f"{max(0, round(x)):,} examples: " + " · ".join(parts))

    def _curve(self, name, color, width=2.0, style=Qt.SolidLine):
        # only finite values are ever added, so pyqtgraph need not check each frame
        # and no more than about one point per pixel is drawn
        return self.plot.plot([], [], name=name, pen=pg.mkPen(color, width=width, style=style),
                              skipFiniteCheck=True, autoDownsampleFactor=1.0)

    def series(self):
        """``{name: Series}`` of the current run (for CSV)."""
        raise NotImplementedError

    def clear(self):
        for c in self.old_curves + self.other_data_curves:
            self.plot.removeItem(c)
        self.old_curves, self.other_data_curves = [], []
        self._update_other_data()
        for s in self.series().values():
            s.clear()
        self._xmax = 0.0
        self.refresh()

    def show_history(self, record):
        """The curves of a run restored from a session folder (``record``: ``engine.runs``'),
        in place of the current ones, as if it had just trained here."""
        for s in self.series().values():
            s.clear()
        self._history(record.get("curves") or {})
        self.refresh()

    def _history(self, curves):
        pass

    def retire_run(self):
        """Grey out the current run's curves (kept for comparison) and start empty ones."""
        colors = plot_colors()
        main = self.main_series()
        if main is not None and main.n:
            x, y = main.smoothed()
            old = self.plot.plot(*thin(x.copy(), y.copy()), pen=pg.mkPen(colors["old"], width=1.5),
                                 skipFiniteCheck=True, autoDownsampleFactor=1.0)
            old.x_end = float(x[-1])  # (what the curve draws is clipped to the view)
            self.old_curves.append(old)
        for s in self.series().values():
            s.clear()
        self.refresh()

    def main_series(self):
        return None

    def _export_png(self):
        path = dialogs.ask_save(self, "Save plot", "plot.png", "PNG images (*.png)")
        if path:
            self._saving(self.save_png, path)

    def save_png(self, path):
        """The plot as a PNG picture (written to a temporary file renamed into place)."""
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.WriteOnly)
        if not self.plot.grab().save(buffer, "PNG"):
            raise OSError(f"{path}: the picture could not be made")
        atomic_write_bytes(path, bytes(data))

    def _export_csv(self):
        path = dialogs.ask_save(self, "Save curves", "curves.csv", "CSV files (*.csv)")
        if path:
            self._saving(self.save_csv, path)

    def save_csv(self, path):
        """The curves' points as CSV (written to a temporary file renamed into place)."""
        rows = [[name, int(a), float(b)] for name, s in self.series().items() for a, b in zip(*s.data())]
        atomic_write_text(path, csv_text(["series", "examples_seen", "value"], rows))

    def _saving(self, save, path):
        try:
            save(path)
        except (OSError, EngineError) as e:
            dialogs.warn(self, "Cannot save", dialogs.failure_message(e, path))


class LossPlotView(_PlotView):
    """Cost loss (raw, faint, and smoothed) and decay loss against examples seen."""

    def __init__(self, session=None, parent=None):
        super().__init__("lossPlot", "Loss", "loss", session, parent)
        c = plot_colors()
        self.raw = self._curve("cost loss", c["loss_raw"], 1.0)
        self.smooth = self._curve("cost loss (smoothed)", c["loss"], 2.2)
        self.decay = self._curve("decay loss", c["decay"], 1.5, Qt.DashLine)
        self.cost_s, self.decay_s = Series(alpha=0.05), Series()

    def series(self):
        return {"cost_loss": self.cost_s, "decay_loss": self.decay_s}

    def main_series(self):
        return self.cost_s

    def _history(self, curves):
        p = curves.get("progress") or {}
        for x, y in zip(p.get("examples_seen", []), p.get("cost_loss", [])):
            if y is not None and np.isfinite(y):
                self.cost_s.append(x, y)

    def add(self, report):
        if report.get("tag") != "progress" or not np.isfinite(report.get("cost_loss", np.nan)):
            return
        self.cost_s.append(report["examples_seen"], report["cost_loss"])
        self.decay_s.append(report["examples_seen"], report["decay_loss"])
        self._changed()

    def refresh(self):
        x, y = self.cost_s.data()
        self.raw.setData(x, y)  # one pixel wide: cheap at full resolution
        self.smooth.setData(*thin(*self.cost_s.smoothed()))
        self.decay.setData(*thin(*self.decay_s.data()))
        self._grow_x(x[-1] if len(x) else 0.0)
        self._dirty = False


class AccuracyPlotView(_PlotView):
    """Training (smoothed), validation and test accuracy against examples seen."""

    def __init__(self, session=None, parent=None):
        super().__init__("accuracyPlot", "Accuracy", "accuracy", session, parent)
        c = plot_colors()
        self.train = self._curve("training", c["train"], 2.0)
        self.val = self._curve("validation", c["validation"], 2.0)
        self.test = self._curve("test", c["test"], 2.0)
        for curve, col in ((self.val, c["validation"]), (self.test, c["test"])):
            curve.setSymbol("o")
            curve.setSymbolSize(5)
            curve.setSymbolBrush(col)
            curve.setSymbolPen(None)
        self.train_s, self.val_s, self.test_s = Series(alpha=0.1), Series(), Series()
        self._ylo = 0.8
        self._set_y(0.8)

    TOP_MARGIN = 0.07  # of the range, above 1.0: a point at 1.0 (its dot) and the axis's "1" are whole

    def _set_y(self, lo):
        self.plot.getPlotItem().setYRange(lo - 0.02 * (1.0 - lo), 1.0 + self.TOP_MARGIN * (1.0 - lo), padding=0)

    def series(self):
        return {"train_accuracy": self.train_s, "validation_accuracy": self.val_s,
                "test_accuracy": self.test_s}

    def main_series(self):
        return self.val_s if self.val_s.n else self.train_s

    def _history(self, curves):
        for part, keys in (("progress", (("train_accuracy", self.train_s),)),
                           ("eval", (("validation_accuracy", self.val_s), ("test_accuracy", self.test_s)))):
            c = curves.get(part) or {}
            for key, series in keys:
                for x, y in zip(c.get("examples_seen", []), c.get(key, [])):
                    if y is not None and np.isfinite(y):
                        series.append(x, y)

    def add(self, report):
        tag = report.get("tag")
        x = report["examples_seen"]
        if tag == "progress" and np.isfinite(report.get("train_accuracy", np.nan)):
            self.train_s.append(x, report["train_accuracy"])
        elif tag == "eval":
            if "validation_accuracy" in report:
                self.val_s.append(x, report["validation_accuracy"])
            if "test_accuracy" in report:
                self.test_s.append(x, report["test_accuracy"])
        else:
            return
        self._changed()

    def refresh(self):
        x, y = self.train_s.smoothed()
        self.train.setData(*thin(x, y))
        self.val.setData(*thin(*self.val_s.data()))
        self.test.setData(*thin(*self.test_s.data()))
        lo = min([v.min() for v in (y, self.val_s.data()[1]) if len(v)] or [0.8])
        lo = min(0.8, np.floor(max(0.0, lo - 0.02) * 10) / 10)  # in steps of 0.1: a steady axis
        if lo != self._ylo:
            self._ylo = lo
            self._set_y(lo)
        self._grow_x(x[-1] if len(x) else 0.0)
        self._dirty = False
