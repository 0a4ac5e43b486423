"""Evaluate, the second look: the examples behind a confusion-matrix cell, and per-class figures.

``ConfusedExamples`` lists the test examples of one (true, predicted) cell in a gallery
(``objectName`` ``confusionExamples``), in one of three orders: most wrong (the most
confident first), least sure (the smallest margin between the top two classes first),
or all of the true class. ``ClassMetricsTable`` shows precision, recall and F1 per class.
Both read an evaluation's result (``jobs.evaluate``: the matrix and every example's
probabilities); nothing here computes on the network.
"""
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.tasks.understand import VIEWS, cell_examples, class_metrics
from workbench.views.colour import class_name

from ..examples import ExampleGallery


def _fmt(v):
    return "–" if not np.isfinite(v) else f"{v:.3f}"


class ClassMetricsTable(QTableWidget):
    """Precision, recall, F1 and support per class, and their unweighted means."""

    COLUMNS = ("precision", "recall", "F1", "examples")

    def __init__(self, parent=None):
        super().__init__(0, len(self.COLUMNS), parent)
        self.setObjectName("classMetrics")
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.setEditTriggers(QTableWidget.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.verticalHeader().setDefaultSectionSize(22)
        self.setToolTip("Precision: of the examples predicted as the class, the fraction that are it. "
                        "Recall: of the examples of the class, the fraction predicted as it. "
                        "F1: their harmonic mean.")
        self.metrics = None

    def show_matrix(self, matrix, names=None):
        self.metrics = m = class_metrics(matrix)
        k = len(m["precision"])
        self.setRowCount(k + 1)
        self.setVerticalHeaderLabels([class_name(names, c) for c in range(k)] + ["mean"])
        for c in range(k + 1):
            if c < k:
                values = (m["precision"][c], m["recall"][c], m["f1"][c])
                support = f"{m['support'][c]:,}"
            else:  # the macro averages, over the classes where each is defined
                values = tuple(np.nanmean(m[key]) if np.isfinite(m[key]).any() else np.nan
                               for key in ("precision", "recall", "f1"))
                support = f"{int(m['support'].sum()):,}"
            for j, text in enumerate([_fmt(v) for v in values] + [support]):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.setItem(c, j, item)


#: What the examples' caption says until a cell is chosen.
HINT = "Click a cell of the confusion matrix to see its examples."


class ConfusedExamples(QWidget):
    """The examples of the chosen cell in a gallery, in the chosen order.

    Signals (from the gallery): ``gallery.exampleActivated(source)``.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("confusedExamplesPanel")
        self.view = QComboBox()
        self.view.setObjectName("confusionView")
        for key, words in VIEWS:
            self.view.addItem(words, key)
        self.caption = QLabel(HINT)
        self.caption.setObjectName("confusionCaption")
        self.caption.setTextFormat(Qt.PlainText)
        self.caption.setWordWrap(True)
        self.gallery = ExampleGallery("confusionExamples")
        self.cell = None
        self.result = None
        self.images = None
        self.names = None
        top = QHBoxLayout()
        top.addWidget(QLabel("Examples"))
        top.addWidget(self.view)
        top.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.caption)
        lay.addWidget(self.gallery, 1)
        self.view.currentIndexChanged.connect(lambda _: self._fill())

    def set_result(self, result, images, names=None):
        """A new evaluation (``images``: the test images it was made on); the cell shown stays."""
        self.result, self.images, self.names = result, images, names
        if self.cell is None:  # what an earlier result or a clear said is not about this one
            self.caption.setText(HINT)
        self._fill()

    def clear(self, text=HINT):
        self.result = self.images = self.cell = None
        self.gallery.clear()
        self.caption.setText(text)

    def show_cell(self, true, predicted):
        self.cell = (int(true), int(predicted))
        if self.view.currentData() == "class" and true != predicted:
            self.view.setCurrentIndex(0)  # a cell asks for its own examples
        self._fill()

    def show_class(self, true):
        """Every example of class ``true`` (a click on the matrix's row header)."""
        self.cell = (int(true), int(true))
        self.view.setCurrentIndex(self.view.findData("class"))
        self._fill()

    def _fill(self):
        r = self.result
        if r is None or self.cell is None:
            return
        t, p = self.cell
        view = self.view.currentData()
        idx = cell_examples(r["probs"], r["labels"], t, p, view)
        self.gallery.set_examples(self.images, idx, r["labels"], r["probs"], "test", self.names)
        tn, pn = class_name(self.names, t), class_name(self.names, p)
        n = len(idx)
        examples = "example" if n == 1 else "examples"
        if not n:  # nothing to show, and nothing to click
            if view == "class":
                text = f"There are no test examples of {tn}."
            elif t == p:
                text = f"No example of {tn} was predicted right."
            else:
                text = f"No example of {tn} was predicted as {pn}: the network never made this mistake."
            self.caption.setText(text)
            return
        if view == "class":
            text = f"All {n:,} test examples of {tn}, whatever was predicted; the least sure of {tn} first."
        elif t == p:
            text = (f"{n:,} {examples} of {tn} predicted right, "
                    + ("the most confident first." if view == "most_wrong" else "the least sure first."))
        else:
            text = (f"{n:,} {examples} of {tn} predicted as {pn}, "
                    + ("the most confident mistakes first." if view == "most_wrong" else
                       "the least sure first (smallest margin between the top two)."))
        self.caption.setText(text + (" Click it to open it in Inspect." if n == 1 else
                                     " Click one to open it in Inspect."))
