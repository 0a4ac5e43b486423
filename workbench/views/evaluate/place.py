"""Evaluate: test accuracy and the confusion matrix of the current weights.

The session runs the evaluation as a background job on the latest published
weights (so it may run while training); this view asks for it, shows its
progress and can cancel it.
"""
import html

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.views.colour import class_name


class EvaluatePanel(QWidget):
    """Accuracy on the whole test set and the confusion matrix, with a choice of crops.

    Clicking a cell lists its examples (``confused``); ``openExample(source)`` asks for one
    of them in Inspect.
    """

    openExample = Signal(object)

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
        self.result = QLabel(f"Evaluate the current weights on the {len(session.data.dataset.test):,} test images.")
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
        lay.addWidget(self._understanding(session), 1)
        self.button.clicked.connect(self.evaluate)
        self.cancel.clicked.connect(session.predictions.cancel_evaluation)
        session.predictions.evaluated.connect(self._show)
        session.predictions.evaluationFailed.connect(self._failed)
        session.predictions.evaluationProgress.connect(self._progress)
        session.predictions.evaluatingChanged.connect(self._busy)
        session.data.changed.connect(self._show_dataset_classes)
        self._show_dataset_classes()

    def _set_headers(self, k):
        """The classes by name (rows: true class, columns: predicted class)."""
        names = [class_name(self.session.data.dataset.class_names, i) for i in range(k)]
        self.table.setHorizontalHeaderLabels(names)
        self.table.setVerticalHeaderLabels(names)

    def _show_dataset_classes(self):
        """Before any evaluation: an empty matrix of the dataset's classes (an evaluation shown
        stays, marked as of another dataset, with the names it was made with)."""
        if self.last is not None:
            return
        k = self.session.data.dataset.num_classes
        self.table.clearContents()
        self.table.setRowCount(k)
        self.table.setColumnCount(k)
        self._set_headers(k)
        self.result.setText(f"Evaluate the current weights on the {len(self.session.data.dataset.test):,} test "
                            f"images of {html.escape(self.session.data.dataset.name)}.")

    def evaluate(self):
        if self.session.predictions.evaluate(self.crops.value()):
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
        self._show_understanding(res)

    # -- the confused examples, per-class figures, stale results (issue #14) ----------------------
    def _understanding(self, session):
        """The matrix and the per-class table on the left, the examples of a cell on the right."""
        from PySide6.QtWidgets import QSplitter

        from workbench.views.evaluate.confused import ClassMetricsTable, ConfusedExamples
        self.stale = QLabel()
        self.stale.setObjectName("evaluateStale")
        self.stale.setWordWrap(True)
        self.stale.setTextFormat(Qt.PlainText)
        self.stale.setStyleSheet("QLabel { background: #fde68a; color: #1f2328; padding: 4px 8px; "
                                 "border-radius: 4px; }")
        self.stale.hide()
        self.metrics = ClassMetricsTable()
        self.confused = ConfusedExamples()
        self.confused.gallery.exampleActivated.connect(self.openExample)
        self.table.cellClicked.connect(self.confused.show_cell)
        self.table.verticalHeader().sectionClicked.connect(self.confused.show_class)
        self.table.setToolTip("Rows: the true class; columns: the predicted class. Click a cell to see "
                              "its examples, a row's header for all of that class.")
        matrix = QWidget()
        m_lay = QVBoxLayout(matrix)
        m_lay.setContentsMargins(0, 0, 0, 0)
        m_lay.addWidget(QLabel("Confusion matrix (rows: true class, columns: predicted class)"))
        m_lay.addWidget(self.table, 1)
        left = QSplitter(Qt.Vertical)
        left.addWidget(matrix)
        left.addWidget(self.metrics)
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 2)
        split = QSplitter(Qt.Horizontal)
        split.setObjectName("evaluateSplitter")
        split.addWidget(left)
        split.addWidget(self.confused)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        box = QWidget()
        b_lay = QVBoxLayout(box)
        b_lay.setContentsMargins(0, 0, 0, 0)
        b_lay.addWidget(self.stale)
        b_lay.addWidget(split, 1)
        session.weightsChanged.connect(self._weights_changed)
        session.data.changed.connect(self._dataset_changed)
        return box

    def select_cell(self, true, predicted):
        """Show the examples of the cell (``true``, ``predicted``), as a click on it does."""
        self.table.setCurrentCell(true, predicted)
        self.confused.show_cell(true, predicted)

    def _show_understanding(self, res):
        names = getattr(self.session.data.dataset, "class_names", None)
        self.metrics.show_matrix(res["matrix"], names)
        self.confused.set_result(res, self.session.data.dataset.test.images, names)
        self.last["version"] = res["version"]
        w = self.session.weights
        self._mark_stale(w is not None and w.version != res["version"])

    def _weights_changed(self, weights):
        if self.last is not None and "version" in self.last:
            self._mark_stale(weights.version != self.last["version"])

    def _dataset_changed(self):
        if self.last is not None:
            self.confused.clear("The dataset changed: evaluate again to see examples.")
            self._mark_stale(True, "The dataset has changed since this evaluation: evaluate again.")

    def _mark_stale(self, stale, text=None):
        """Say, visibly, that the figures shown are of weights that are gone."""
        self.stale.setText(text or "⚠ The network has changed since this evaluation: the figures below "
                           "are of the weights it had then. Evaluate again for the current ones.")
        self.stale.setVisible(stale)
        self.table.setStyleSheet("QTableWidget { color: gray; }" if stale else "")
