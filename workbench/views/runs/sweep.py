"""Sweeps in the app: the dialog that plans one, and the plots that compare its runs.

``SweepDialog`` plans a grid (every combination) or a random search (``engine.sweep``'s
ranges: ``LOW:HIGH`` drawn log-uniformly across decades, ``a,b,c`` a choice) over any
setting ``engine.settings`` names: the learning rate, batch size, method, L2 decay and
any layer option (``layers.1.filters``). ``ParallelCoordinates`` draws the checked runs
as lines across one axis per setting that differs between them and their accuracy;
``CostScatter`` their accuracy against the network's cost (multiply-adds per example, or
parameters: ``engine.infer_shapes``). Each run in its colour, as everywhere.
"""
import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import EngineError
from engine.core.spec import infer_shapes
from engine.runs.records import diff_settings
from engine.studies.sweep import grid_settings, parse_ranges, parse_settings, random_settings
from workbench.views.theme import plain_axes

from .common import DrawnWhenShown, accuracy_of, color, plain_tip, settings_of, value_text

COMMON = ("learning_rate", "batch_size", "method", "momentum", "l2_decay", "l1_decay",
          "augment.shift", "schedule.kind")
LAYER_OPTIONS = {"conv": ("filters", "sx", "stride", "pad", "activation", "drop_prob"),
                 "fc": ("num_neurons", "activation", "drop_prob"), "pool": ("sx", "stride"),
                 "dropout": ("drop_prob",), "lrn": ("n", "k", "alpha", "beta")}
#: Which trainer settings each method uses (the others change nothing: a sweep over them
#: repeats its runs).
USES = {"learning_rate": lambda m: m != "adadelta", "momentum": lambda m: m in ("sgd", "nesterov")}


def default_rows(trainer):
    """The dialog's first grid (four runs), of settings the trainer's method uses: adadelta has no
    learning rate (crossing rates with it gave identical runs), only sgd and nesterov use momentum."""
    method = trainer.get("method", "sgd")
    if method == "adadelta":
        return [("batch_size", "10, 20"), ("l2_decay", "0.0001, 0.001")]
    rate = float(trainer.get("learning_rate") or 0.01)
    rates = ("learning_rate", f"{rate / 3:.2g}, {rate:.2g}")
    if method in ("sgd", "nesterov"):
        return [rates, ("momentum", "0.5, 0.9")]
    return [rates, ("batch_size", "10, 20")]


def repeats(plan, trainer):
    """``(count, why)``: how many runs of ``plan`` repeat another's settings because their method
    ignores a setting swept (0, None when none do; runs a random search drew twice are not
    counted: they differ in nothing swept either way)."""
    whole, kept, why = set(), set(), None
    for run in plan:
        method = run.get("method", trainer.get("method"))
        used = {}
        for key, value in run.items():
            uses = USES.get(key)
            if uses is not None and not uses(method):
                why = why or f"{method} does not use {key.replace('_', ' ')}"
            else:
                used[key] = value
        whole.add(tuple(sorted((k, repr(v)) for k, v in run.items())))
        kept.add(tuple(sorted((k, repr(v)) for k, v in used.items())))
    count = len(whole) - len(kept)
    return count, (why if count else None)


def setting_names(layer_defs):
    """Settings worth offering in the dialog: the trainer's, then each layer's options."""
    names = list(COMMON)
    for i, d in enumerate(layer_defs):
        for opt in LAYER_OPTIONS.get(d.get("type"), ()):
            names.append(f"layers.{i}.{opt}")
    return names


class SweepDialog(QDialog):
    """Plan a sweep: a grid or a random sample of settings, and each run's length."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("sweepDialog")
        self.setWindowTitle("Sweep settings")
        self.session = session
        self.mode = QComboBox()
        self.mode.setObjectName("sweepMode")
        self.mode.addItem("grid: every combination", "grid")
        self.mode.addItem("random: a sample", "random")
        self.count = QSpinBox()
        self.count.setObjectName("sweepCount")
        self.count.setRange(1, 200)
        self.count.setValue(8)
        self.count.setSuffix(" runs")
        self.epochs = QDoubleSpinBox()
        self.epochs.setObjectName("sweepEpochs")
        self.epochs.setRange(0.01, 1000)
        self.epochs.setDecimals(2)
        self.epochs.setValue(0.2)
        self.epochs.setSuffix(" epochs each")
        self.table = QTableWidget(0, 2)
        self.table.setObjectName("sweepSettings")
        self.table.setHorizontalHeaderLabels(["Setting", "Values"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 170)
        self.table.verticalHeader().hide()
        add = QPushButton("Add setting")
        add.clicked.connect(lambda: self.add_row("", ""))
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_row)
        self.summary = QLabel()
        self.summary.setObjectName("sweepSummary")
        self.summary.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("sweepError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #d64545")
        self.error.setTextFormat(Qt.PlainText)
        self.help = QLabel("Grid: values separated by commas (0.003, 0.01). Random: LOW:HIGH "
                           "(drawn across decades when they span one: 1e-4:1e-1) or a list to "
                           "choose from. Every run starts from the same weights and data order.")
        self.help.setWordWrap(True)
        self.form = form = QFormLayout()
        form.addRow("Search", self.mode)
        form.addRow("Runs", self.count)
        form.addRow("Length", self.epochs)
        rows = QHBoxLayout()
        rows.addWidget(add)
        rows.addWidget(remove)
        rows.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.start_button = buttons.button(QDialogButtonBox.Ok)
        self.start_button.setText("Start sweep")
        self.start_button.setObjectName("sweepStart")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.table, 1)
        lay.addLayout(rows)
        lay.addWidget(self.help)
        lay.addWidget(self.summary)
        lay.addWidget(self.error)
        lay.addWidget(buttons)
        self.names = setting_names(session.doc.layers)
        for key, values in default_rows(session.settings.trainer):
            self.add_row(key, values)
        self.mode.currentIndexChanged.connect(self._update)
        self.table.itemChanged.connect(lambda _: self._update())
        self.count.valueChanged.connect(lambda _: self._update())
        self.epochs.valueChanged.connect(lambda _: self._update())
        self.plan = None
        self.resize(520, 460)
        self._update()

    def add_row(self, key, values):
        r = self.table.rowCount()
        self.table.insertRow(r)
        box = QComboBox()
        box.setEditable(True)
        box.addItems(self.names)
        box.setCurrentText(key)
        box.currentTextChanged.connect(lambda _: self._update())
        self.table.setCellWidget(r, 0, box)
        self.table.setItem(r, 1, QTableWidgetItem(values))

    def set_rows(self, rows):
        """``[(setting, values text), ...]`` in place of the rows shown."""
        self.table.setRowCount(0)
        for key, values in rows:
            self.add_row(key, values)
        self._update()

    def _remove_row(self):
        r = self.table.currentRow()
        if r >= 0:
            self.table.removeRow(r)
            self._update()

    def items(self):
        out = []
        for r in range(self.table.rowCount()):
            key = self.table.cellWidget(r, 0).currentText().strip()
            item = self.table.item(r, 1)
            values = item.text().strip() if item is not None else ""
            if key or values:
                out.append(f"{key}={values}")
        return out

    def make_plan(self):
        """The settings of every run (a list of dicts); EngineError says what is wrong."""
        items = self.items()
        if not items:
            raise EngineError("add a setting to sweep")
        if self.mode.currentData() == "grid":
            return grid_settings(parse_settings(items))
        return random_settings(parse_ranges(items), self.count.value(), seed=0)

    def _update(self):
        random = self.mode.currentData() == "random"
        self.form.setRowVisible(self.count, random)  # a grid's count is its plan's (the summary's)
        try:
            plan = self.make_plan()
        except (EngineError, ValueError) as e:
            self.error.setText(str(e))
            self.summary.setText("")
            self.start_button.setEnabled(False)
            return
        self.error.setText("")
        same, why = repeats(plan, self.session.settings.trainer)
        self.summary.setText(f"{len(plan)} run{'s' * (len(plan) != 1)} of "
                             f"{self.epochs.value():g} epochs each."
                             + (f" {same} of them repeat another run: {why}." if same else ""))
        self.start_button.setEnabled(True)

    def _accept(self):
        try:
            self.plan = self.make_plan()
            from engine.studies.sweep import check_plan
            check_plan(self.session.experiment().replace(epochs=self.epochs.value()), self.plan)
        except (EngineError, ValueError) as e:
            self.error.setText(str(e))  # the dialog stays: nothing has started
            return
        self.accept()


# -- the plots ----------------------------------------------------------------------------------
def _numeric(values):
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None
               and math.isfinite(v) for v in values)


def axis_positions(values, fmt=value_text):
    """Where each value sits on a parallel-coordinates axis (0..1) and the axis's tick labels
    ``[(position, text)]`` (each value once): numbers linearly (log across decades), other
    values as categories."""
    if _numeric(values):
        v = np.array(values, dtype=float)
        lo, hi = float(v.min()), float(v.max())
        log = lo > 0 and hi / lo >= 10
        f = np.log10 if log else (lambda a: a)
        a, b = f(lo), f(hi)
        pos = (f(v) - a) / (b - a) if b > a else np.full(len(v), 0.5)
        ticks = sorted({(round(float(p), 6), fmt(x)) for p, x in zip(pos, values)})
        return pos, ticks
    cats = sorted({value_text(x) for x in values})
    k = len(cats)
    where = {c: (i / (k - 1) if k > 1 else 0.5) for i, c in enumerate(cats)}
    pos = np.array([where[value_text(x)] for x in values])
    return pos, [(where[c], c) for c in cats]


def accuracy_label(records):
    """Which accuracy the runs have: test, else validation."""
    if any(accuracy_of(r, "test") is not None for r in records):
        return "test"
    return "validation"


class ParallelCoordinates(pg.PlotWidget):
    """The checked runs as lines across one axis per setting that differs between them, and
    their accuracy last."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("parallelCoordinates")
        pi = self.getPlotItem()
        pi.hideAxis("left")
        pi.hideAxis("bottom")
        pi.setMenuEnabled(False)
        pi.setMouseEnabled(x=False, y=False)
        pi.setTitle("Settings and accuracy")
        self.setMinimumHeight(150)
        self.axes = []    # the axis names, left to right
        self.lines = {}   # run id -> its PlotDataItem

    def set_runs(self, records):
        self.clear()
        self.lines = {}
        self.axes = []
        if len(records) < 2:
            t = pg.TextItem("Check two or more runs (a sweep checks its own) to compare their settings.",
                            anchor=(0.5, 0.5))
            self.addItem(t)
            t.setPos(0.5, 0.5)
            self.getPlotItem().setRange(xRange=(0, 1), yRange=(0, 1))
            return
        rows = [r for r in diff_settings(records, only_different=True)
                if r["setting"] not in ("name",)]
        which = accuracy_label(records)
        acc = [accuracy_of(r, which) for r in records]
        columns = [(r["setting"], r["values"]) for r in rows]
        columns.append((f"{which} accuracy", [math.nan if a is None else a for a in acc]))
        fg = pg.getConfigOption("foreground")
        n = len(columns)
        ys = np.zeros((len(records), n))
        for j, (name, values) in enumerate(columns):
            self.axes.append(name)
            present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
            if not present:
                continue
            last = j == n - 1  # the accuracy: its lowest and highest, as percentages
            pos, ticks = axis_positions([v if v is not None else present[0] for v in values],
                                        (lambda a: f"{a:.1%}") if last else value_text)
            if last:
                ticks = [ticks[0], ticks[-1]] if len(ticks) > 1 else ticks
            ys[:, j] = pos
            self.addItem(pg.PlotDataItem([j, j], [0, 1], pen=pg.mkPen(fg, width=1)))
            label = pg.TextItem(name, color=fg, anchor=(0.5, 1.0))
            label.setPos(j, 1.06)
            self.addItem(label)
            shown = ticks if len(ticks) <= 6 else [ticks[int(k)] for k in np.linspace(0, len(ticks) - 1, 6)]
            for p, text in shown:
                t = pg.TextItem(text, color=fg, anchor=(0.0, 0.5))
                t.setPos(j + 0.04, p)
                self.addItem(t)
        for i, rec in enumerate(records):
            name = html.escape(rec.get("name") or rec["id"])
            line = self.plot(list(range(n)), ys[i], pen=pg.mkPen(color(rec["id"]), width=2.2), name=name,
                             symbol="o", symbolSize=6, symbolBrush=color(rec["id"]), symbolPen=None)
            self.lines[rec["id"]] = line
        self.getPlotItem().setRange(xRange=(-0.2, n - 1 + 0.5), yRange=(-0.08, 1.15), padding=0)


def cost_of(record, kind="macs"):
    """A run's network's cost per example: multiply-adds of a forward pass (``macs``) or parameters."""
    try:
        layers = infer_shapes((record.get("experiment") or {}).get("layer_defs") or [])
    except EngineError:
        return None
    return float(sum(l[kind] for l in layers))


class CostScatter(QWidget):
    """Accuracy against cost, one point per checked run."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("costScatterPanel")
        self.kind = QComboBox()
        self.kind.setObjectName("costKind")
        self.kind.addItem("multiply-adds per example", "macs")
        self.kind.addItem("parameters", "params")
        self.kind.currentIndexChanged.connect(lambda _: self.set_runs(self.records))
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("costScatter")
        pi = self.plot.getPlotItem()
        pi.setTitle("Accuracy against cost")
        pi.showGrid(x=True, y=True, alpha=0.15)
        plain_axes(pi, "left")  # accuracy; the cost keeps its prefix (parameters (M))
        self.scatter = pg.ScatterPlotItem(size=11, hoverable=True, tip=lambda x, y, data: data)
        self.plot.addItem(self.scatter)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("cost"))
        bar.addWidget(self.kind)
        bar.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.plot, 1)
        self.records = []
        self.points = []  # (run id, cost, accuracy)

    def set_runs(self, records):
        self.records = list(records)
        kind = self.kind.currentData()
        which = accuracy_label(records)
        pts = []
        for r in records:
            c, a = cost_of(r, kind), accuracy_of(r, which)
            if c is not None and a is not None:
                pts.append((r, c, a))
        self.points = [(r["id"], c, a) for r, c, a in pts]
        pi = self.plot.getPlotItem()
        pi.setLabel("bottom", self.kind.currentText())
        pi.setLabel("left", f"{which} accuracy")
        costs = [c for _, c, _ in pts]
        log = bool(costs) and min(costs) > 0 and max(costs) / min(costs) >= 10
        pi.setLogMode(x=log)
        xs = [math.log10(c) if log else c for _, c, _ in pts]
        self.scatter.setData(
            x=xs, y=[a for _, _, a in pts], brush=[color(r["id"]) for r, _, _ in pts],
            pen=[pg.mkPen(pg.getConfigOption("foreground"), width=0.5)] * len(pts),
            data=[plain_tip(f"{r.get('name') or r['id']}: {a:.2%} at {c:,.0f} {self.kind.currentText()}")
                  for r, c, a in pts])
        pi.enableAutoRange()
        if xs and max(xs) == min(xs):  # one network: a column of points, not a squashed axis
            c = xs[0]
            pi.setXRange(c - 0.5 if log else c * 0.8, c + 0.5 if log else c * 1.2 + 1, padding=0)


class SweepPlots(DrawnWhenShown, QWidget):
    """The Runs place's "Sweep" page: parallel coordinates beside the accuracy-cost scatter,
    of the checked runs."""

    def __init__(self, keeper, parent=None):
        super().__init__(parent)
        self.setObjectName("sweepPlots")
        self.keeper = keeper
        self.parallel = ParallelCoordinates()
        self.scatter = CostScatter()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.parallel, 3)
        lay.addWidget(self.scatter, 2)
        keeper.checkedChanged.connect(self.refresh)
        keeper.runsChanged.connect(self.refresh)

    def draw(self):
        runs = [r for r in self.keeper.checked_runs() if settings_of(r)]
        self.parallel.set_runs(runs)
        self.scatter.set_runs(runs)
