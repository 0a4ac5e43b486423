"""Evaluate: test accuracy and the confusion matrix of the current weights."""
import threading

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QPushButton, QSpinBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from engine.data import confusion_matrix, predict


class _Relay(QObject):
    done = Signal(object)


class EvaluatePanel(QWidget):
    """Runs the whole test set through a copy of the weights, off the GUI thread."""

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.setObjectName("evaluatePanel")
        self.c = controller
        self.button = QPushButton("Evaluate on the test set")
        self.button.setObjectName("evaluateButton")
        self.button.setAutoDefault(False)
        self.crops = QSpinBox()
        self.crops.setRange(1, 9)
        self.crops.setToolTip("Average the predictions over this many crops (1: the centre crop).")
        self.result = QLabel("Evaluate the current weights on the 10,000 test images.")
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
        bar.addWidget(self.button)
        bar.addWidget(QLabel("crops"))
        bar.addWidget(self.crops)
        bar.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(bar)
        lay.addWidget(self.result)
        lay.addWidget(QLabel("Confusion matrix (rows: true class, columns: predicted class)"))
        lay.addWidget(self.table, 1)
        self._relay = _Relay(self)
        self._relay.done.connect(self._show)
        self.button.clicked.connect(self.evaluate)

    def evaluate(self):
        net = self.c.net_copy()
        if net is None:
            self.result.setText("There are no weights yet: press Train (or open a snapshot) first.")
            return
        self.button.setEnabled(False)
        self.result.setText("Evaluating…")
        test, crops = self.c.dataset.test, self.crops.value()

        def work():
            try:
                probs = predict(net, test.images, crop_count=crops)
                self._relay.done.emit((probs, test.labels, crops))
            except Exception as e:  # shown to the user, not raised in a thread
                self._relay.done.emit(e)

        threading.Thread(target=work, daemon=True).start()

    def _show(self, res):
        self.button.setEnabled(True)
        if isinstance(res, Exception):
            self.result.setText(f"Could not evaluate: {res}")
            return
        probs, labels, crops = res
        pred = probs.argmax(axis=1)
        k = max(probs.shape[1], int(labels.max()) + 1)
        m = confusion_matrix(labels, pred, k)
        acc = float(np.mean(pred == labels))
        self.result.setText(f"Test accuracy <b>{acc:.2%}</b> ({int(np.sum(pred == labels)):,} of "
                            f"{len(labels):,}){f', {crops} crops averaged' if crops > 1 else ''}.")
        self.table.setRowCount(k)
        self.table.setColumnCount(k)
        names = [str(i) for i in range(k)]  # class indices, as the labels are
        self.table.setHorizontalHeaderLabels(names)
        self.table.setVerticalHeaderLabels(names)
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
        self.last = {"accuracy": acc, "matrix": m}
