"""Evaluate: test accuracy and the confusion matrix of the current weights.

The session runs the evaluation as a background job on the latest published
weights (so it may run while training); this view asks for it, shows its
progress and can cancel it.
"""
import html

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton, QSpinBox,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ...colour import class_name


class EvaluatePanel(QWidget):
    """Accuracy on the whole test set and the confusion matrix, with a choice of crops."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("evaluatePanel")
        self.session = session
        self.last = None
        self.button = QPushButton("Evaluate on the test set")
        self.button.setObjectName("evaluateButton")
        self.button.setAutoDefault(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("cancelEvaluationButton")
        self.cancel.setAutoDefault(False)
        self.cancel.hide()
        self.crops = QSpinBox()
        self.crops.setRange(1, 9)
        self.crops.setToolTip("Average the predictions over this many crops (1: the centre crop).")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(200)
        self.progress.hide()
        self.result = QLabel(f"Evaluate the current weights on the {len(session.dataset.test):,} test images.")
        self.result.setObjectName("evaluateResult")
        self.table = QTableWidget(10, 10)
        self.table.setObjectName("confusionMatrix")
        self.table.setHorizontalHeaderLabels([str(i) for i in range(10)])
        self.table.setVerticalHeaderLabels([str(i) for i in range(10)])
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.setToolTip("Rows: the true class; columns: the predicted class.")
        bar = QHBoxLayout()
        for w in (self.button, QLabel("crops"), self.crops, self.progress, self.cancel):
            bar.addWidget(w)
        bar.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(bar)
        lay.addWidget(self.result)
        lay.addWidget(QLabel("Confusion matrix (rows: true class, columns: predicted class)"))
        lay.addWidget(self.table, 1)
        self.button.clicked.connect(self.evaluate)
        self.cancel.clicked.connect(session.cancel_evaluation)
        session.evaluated.connect(self._show)
        session.evaluationFailed.connect(self._failed)
        session.evaluationProgress.connect(self._progress)
        session.evaluatingChanged.connect(self._busy)
        session.datasetChanged.connect(self._dataset_changed)
        self._dataset_changed()

    def _set_headers(self, k):
        """The classes by name (rows: true class, columns: predicted class)."""
        names = [class_name(self.session.dataset.class_names, i) for i in range(k)]
        self.table.setHorizontalHeaderLabels(names)
        self.table.setVerticalHeaderLabels(names)

    def _dataset_changed(self):
        """Another dataset: an empty matrix of its classes, until evaluated."""
        k = self.session.dataset.num_classes
        self.table.clearContents()
        self.table.setRowCount(k)
        self.table.setColumnCount(k)
        self._set_headers(k)
        self.last = None
        self.result.setText(f"Evaluate the current weights on the {len(self.session.dataset.test):,} test "
                            f"images of {html.escape(self.session.dataset.name)}.")

    def evaluate(self):
        if self.session.evaluate(self.crops.value()):
            self.result.setText("Evaluating…")

    def _failed(self, text):
        self.result.setText(f"Could not evaluate: {text}")

    def _progress(self, fraction):
        self.progress.setValue(int(100 * fraction))

    def _busy(self, busy):
        self.button.setEnabled(not busy)
        self.progress.setValue(0)
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)
        if not busy and self.result.text() == "Evaluating…":
            self.result.setText("Cancelled.")

    def _show(self, res):
        m, acc, crops = res["matrix"], res["accuracy"], res["crops"]
        seen = res["examples_seen"]
        self.result.setText(f"Test accuracy <b>{acc:.2%}</b> ({res['right']:,} of {res['total']:,})"
                            f"{f', {crops} crops averaged' if crops > 1 else ''}"
                            f"{f', after {seen:,} training examples' if seen else ''}.")
        k = m.shape[0]
        self.table.setRowCount(k)
        self.table.setColumnCount(k)
        self._set_headers(k)
        peak = max(1, int(m.max()))
        for i in range(k):
            for j in range(k):
                item = QTableWidgetItem(str(m[i, j]))
                item.setTextAlignment(Qt.AlignCenter)
                if m[i, j]:
                    a = 40 + int(180 * m[i, j] / peak) if i == j else 60 + int(195 * min(1, m[i, j] / 20))
                    color = QColor(46, 157, 98, a) if i == j else QColor(214, 69, 69, min(a, 255))
                    item.setBackground(QBrush(color))
                self.table.setItem(i, j, item)
        self.last = {"accuracy": acc, "matrix": np.asarray(m)}


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication
    from engine.data import load_mnist
    from engine.snapshots import load_snapshot
    from ... import theme
    from ...files import TRAINED_DEMO
    from ...session import Session
    app = QApplication([])
    theme.apply(app)
    s = Session(load_mnist())
    net, meta = load_snapshot(TRAINED_DEMO)
    s.load_snapshot(net, meta.get("preset", "demo"))
    w = EvaluatePanel(s)
    w.resize(700, 560)
    w.show()
    app.aboutToQuit.connect(s.shutdown)
    app.exec()
