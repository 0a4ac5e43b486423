"""The learning-rate finder in the Train place: a "Find…" button beside the learning rate.

It runs ``engine.lrfind`` in the background from a copy of the latest weights (the live
network is never touched; a run may go on meanwhile) and shows, in a window of its own
that does not block the main one, the loss against the rate as the rate grows, the
suggestion and why, and a button that sets the rate. With adadelta it says that the
method sets its own step size.
"""
import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from workbench.views.theme import ACCENT, plain_axes


class LrFinderDialog(QDialog):
    """The finder's progress, curve and suggestion (non-modal)."""

    def __init__(self, session, studies, parent=None):
        super().__init__(parent)
        self.setObjectName("lrFinderDialog")
        self.setWindowTitle("Find a learning rate")
        self.setModal(False)
        self.session, self.studies = session, studies
        self.result = None
        self.status = QLabel()
        self.status.setObjectName("lrFindStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.PlainText)
        self.progress = QProgressBar()
        self.progress.setObjectName("lrFindProgress")
        self.progress.setRange(0, 1000)
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("lrFindCancel")
        self.cancel.clicked.connect(lambda: studies.cancel("lrfind"))
        self.again = QPushButton("Again")
        self.again.setObjectName("lrFindAgain")
        self.again.clicked.connect(self.start)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("lrFindPlot")
        pi = self.plot.getPlotItem()
        pi.setLogMode(x=True)
        pi.setLabel("bottom", "learning rate")
        pi.setLabel("left", "loss (smoothed)")
        plain_axes(pi)
        pi.showGrid(x=True, y=True, alpha=0.15)
        self.curve = self.plot.plot([], [], pen=pg.mkPen(ACCENT, width=2))
        self.marker = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#e15759", width=1.5,
                                                                             style=Qt.DashLine))
        self.marker.hide()
        pi.addItem(self.marker, ignoreBounds=True)
        self.suggestion = QLabel()
        self.suggestion.setObjectName("lrSuggestion")
        self.suggestion.setWordWrap(True)
        self.suggestion.setTextFormat(Qt.PlainText)
        self.apply = QPushButton("Use it")
        self.apply.setObjectName("lrApply")
        self.apply.setAutoDefault(False)
        self.apply.clicked.connect(self._apply)
        self.apply.hide()
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel)
        bar.addWidget(self.again)
        end = QHBoxLayout()
        end.addWidget(self.suggestion, 1)
        end.addWidget(self.apply)
        lay = QVBoxLayout(self)
        lay.addWidget(self.status)
        lay.addLayout(bar)
        lay.addWidget(self.plot, 1)
        lay.addLayout(end)
        studies.rateFound.connect(self._found)
        studies.rateFailed.connect(self._failed)
        studies.rateProgress.connect(lambda f: self.progress.setValue(int(f * 1000)))
        studies.findingChanged.connect(self._busy)
        self.resize(520, 400)

    def start(self):
        t = self.session.settings.trainer
        self.result = None
        self.curve.setData([], [])
        self.marker.hide()
        self.apply.hide()
        self.suggestion.setText("")
        where = "the latest weights" if self.session.trained else "fresh weights"
        self.status.setText(f"Training a copy of {where} for up to 300 batches while the rate grows "
                            f"from 1e-6 to 10 ({t['method']}, batch {t['batch_size']}"
                            + (f", momentum {t['momentum']:g}" if t["method"] in ("sgd", "nesterov") else "")
                            + "). The network itself is not changed.")
        self.progress.setValue(0)
        return self.studies.find_rate()

    def _busy(self, busy):
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)
        self.again.setVisible(not busy)

    def _found(self, r):
        self.result = r
        if r.get("rates"):
            self.curve.setData(r["rates"], r["losses"])
        rate = r.get("suggested_learning_rate")
        if rate is None:
            self.suggestion.setText(f"No suggestion: {r.get('reason')}.")
            return
        self.marker.setPos(math.log10(rate))
        self.marker.show()
        self.suggestion.setText(f"Suggested: {rate:g}. {r['reason'][:1].upper()}{r['reason'][1:]} "
                                f"({r['batches']} batches, {r['seconds']:.1f} s).")
        self.apply.setText(f"Use {rate:g}")
        self.apply.show()

    def _failed(self, message):
        self.suggestion.setText(f"The finder stopped: {message}")

    def _apply(self):
        rate = (self.result or {}).get("suggested_learning_rate")
        if rate is not None:
            self.session.set_learning_rate(rate)
            self.suggestion.setText(f"The learning rate is now {rate:g}.")
            self.apply.hide()


class LrFinder(QWidget):
    """The "Find…" button, put beside the Train panel's learning rate (``install``)."""

    def __init__(self, session, studies, parent=None):
        super().__init__(parent)
        self.session, self.studies = session, studies
        self.button = QPushButton("Find…")
        self.button.setObjectName("lrFindButton")
        self.button.setAutoDefault(False)
        self.button.setToolTip("Find a learning rate to start from: train a copy of the weights "
                               "while the rate grows, and see where the loss falls fastest.")
        self.button.clicked.connect(self.open)
        self.dialog = None

    def install(self, place):
        """Put the button in ``place``'s slot beside the learning rate (``TrainPlace.add_rate_tool``,
        or a ``TrainPanel``'s own)."""
        place.add_rate_tool(self.button)

    def open(self):
        if self.dialog is None:
            self.dialog = LrFinderDialog(self.session, self.studies, self.window())
        if self.dialog.isVisible() and QGuiApplication.platformName() != "offscreen":
            self.dialog.raise_()  # already open, behind the window: to the front
        self.dialog.show()
        if not self.studies.busy("lrfind"):
            self.dialog.start()
        return self.dialog
