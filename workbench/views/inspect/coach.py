"""The coach's per-layer diagnostics in Inspect: while a run trains, how each layer is doing.

The coach (``engine.coach``) probes one training step after 500, 1,000, 2,000, 4,000 and
8,000 examples, then every 10,000: each layer's update-to-weight ratio (``|dW|/|W|`` of
that step; about 1e-3 is healthy), its gradient norm, and each ReLU layer's share of
dead channels (zero for every one of 64 fixed training images). Cells outside the
healthy range are tinted; the alerts raised so far are listed below.
"""
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

BAD = QColor(225, 87, 89, 90)
GOOD = QColor(89, 161, 79, 60)
COLUMNS = ("Layer", "Dead ReLUs", "Gradient norm", "Update / weight")


def ratio_health(r):
    """None (no number), "bad" (far from about 1e-3) or "good"."""
    if r is None:
        return None
    return "bad" if r > 0.1 or r < 1e-4 else "good"


class CoachPanel(QWidget):
    """The latest diagnostics (``report["diagnostics"]``) as a table, and the alerts so far."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("coachPanel")
        self.caption = QLabel("Train to see how each layer is doing: the coach probes a training step "
                              "now and then (about 1% of the training time).")
        self.caption.setObjectName("coachCaption")
        self.caption.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("coachTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        for col, tip in ((1, "Share of the ReLU's channels that give zero for every probe image."),
                         (2, "Norm of the gradient of the layer's weights on the probe step."),
                         (3, "How much one step changes the weights, against their size: about "
                             "1e-3 is healthy, below 1e-4 hardly moves, above 0.1 thrashes.")):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        self.alerts = QLabel()
        self.alerts.setObjectName("coachAlertList")
        self.alerts.setWordWrap(True)
        self.alerts.setTextFormat(Qt.PlainText)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.caption)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.alerts)
        self.diagnostics = None
        self._alerts = []
        session.training.report.connect(self._report)
        session.runStarted.connect(self.clear)

    def clear(self, *_):
        self.diagnostics = None
        self._alerts = []
        self.table.setRowCount(0)
        self.alerts.setText("")

    def _report(self, r):
        if r.get("diagnostics"):
            self.show_diagnostics(r["diagnostics"])
        for a in r.get("alerts") or ():
            self._alerts.append(a)
            self.alerts.setText("\n".join(f"• at {x['examples_seen']:,} examples: {x['message']}"
                                          for x in self._alerts[-4:]))

    def show_diagnostics(self, d):
        self.diagnostics = d
        layers = d["layers"]
        t = self.table
        t.setRowCount(len(layers))
        for i, e in enumerate(layers):
            dead, grad, ratio = e.get("dead_fraction"), e.get("grad_norm"), e.get("update_ratio")
            cells = [(f"{e['index']}. {e['type']}", None),
                     ("–" if dead is None else f"{dead:.0%}",
                      None if dead is None else ("bad" if dead >= 0.6 else "good" if dead < 0.3 else None)),
                     ("–" if grad is None else f"{grad:.3g}", None),
                     ("–" if ratio is None else f"{ratio:.1e}", ratio_health(ratio))]
            for j, (text, health) in enumerate(cells):
                item = QTableWidgetItem(text)
                if j:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if j == 0:
                    item.setToolTip(e.get("name") or "")
                if health == "bad":
                    item.setBackground(BAD)
                elif health == "good":
                    item.setBackground(GOOD)
                t.setItem(i, j, item)
        med = d.get("median_update_ratio")
        self.caption.setText(f"Probed at {d['examples_seen']:,} examples"
                             + ("" if med is None else f"; median update/weight {med:.1e}")
                             + " (about 1e-3 is healthy).")
