"""A stream of test images with their top-3 class bars, as in the ConvNetJS demo."""
from collections import deque

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from workbench.views.colour import class_name, named, pixels_qimage

RIGHT = QColor("#2e9d62")
WRONG = QColor("#d64545")
CARD_W, CARD_H = 118, 64
NAME_W = 84  # room for a class name beside the bars


class _Cards(QWidget):
    def __init__(self, gallery):
        super().__init__()
        self.g = gallery
        self.setMinimumHeight(CARD_H * 2 + 12)

    def sizeHint(self):
        return QSize(8 * self.card_width(), CARD_H * 2 + 12)

    def card_width(self):
        """Cards widen to leave room for class names."""
        return CARD_W + (NAME_W - 14 if named(self.g.class_names) else 0)

    def card_rect(self, k):
        """Where the picture of card ``k`` is drawn (its top-left 56x56)."""
        cw = self.card_width()
        cols = max(1, self.width() // cw)
        r, c = divmod(k, cols)
        return QRectF(c * cw + 4, r * CARD_H + 4, 56, 56)

    def bar_labels(self, probs):
        """The top three classes of a card, best first: ``(class, what its bar is labelled)``."""
        return [(int(k), class_name(self.g.class_names, k)) for k in np.argsort(probs)[::-1][:3]]

    def paintEvent(self, e):
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        cols = max(1, self.width() // self.card_width())
        rows = max(1, self.height() // CARD_H)
        pal = self.palette()
        names = self.g.class_names
        label_w = NAME_W if named(names) else 14
        fm = QFontMetrics(self.font())
        for k, (img, label, probs) in enumerate(list(self.g.items)[:cols * rows]):
            rect = self.card_rect(k)
            x, y = rect.left(), rect.top()
            p.drawImage(rect, pixels_qimage(img, invert=True))
            for j, (cls, text) in enumerate(self.bar_labels(probs)):
                by = y + 4 + j * 18
                color = (RIGHT if cls == label else WRONG) if j == 0 else pal.mid().color()
                p.fillRect(QRectF(x + 60 + label_w, by, 36 * float(probs[cls]), 12), color)
                p.setPen(pal.text().color())
                text = fm.elidedText(text, Qt.ElideRight, label_w)
                p.drawText(QRectF(x + 60, by - 2, label_w, 16),
                           (Qt.AlignLeft if named(names) else Qt.AlignCenter) | Qt.AlignVCenter, text)
        p.end()


class TestGallery(QWidget):
    """The latest test predictions (newest first) and the rolling test accuracy.

    With a session: while training and on screen, it asks for a few predictions
    whenever new weights are published (about once a second); a run that ended before the
    gallery showed any (a small dataset's run ends within a second; another tab was on
    screen) has it ask once for the final weights, at once or when it is next shown.
    """

    def __init__(self, session=None, capacity=48, parent=None):
        super().__init__(parent)
        self.setObjectName("testGallery")
        self.items = deque(maxlen=capacity)
        self.class_names = None  # None: classes by number
        self.right = self.total = 0
        self._owed = False  # a run ended with nothing shown: predictions wanted when on screen
        self.header = QLabel("Test predictions: press Train to start.")
        self.header.setObjectName("galleryAccuracy")
        self.header.setWordWrap(True)  # else its longest text sets the window's minimum width
        self.cards = _Cards(self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.header)
        lay.addWidget(self.cards, 1)
        self.session = session
        if session is not None:
            session.weightsChanged.connect(self._weights_changed)
            session.predictions.testPredictions.connect(self.add)
            session.runStarted.connect(self.reset)
            session.training.finished.connect(self._run_ended)
            session.data.changed.connect(self._dataset_changed)
            self._dataset_changed()

    def _dataset_changed(self):
        """Another dataset: its class names, and none of the old one's pictures."""
        self.class_names = list(self.session.data.dataset.class_names)
        self.reset()

    def _weights_changed(self, weights):
        if self.session.training.running and self.isVisible():
            self.session.predictions.sample_test_predictions()

    def _run_ended(self, how):
        self._owed = self.total == 0
        self._pay()

    def showEvent(self, e):
        super().showEvent(e)
        self._pay()

    def _pay(self):
        """The final weights' predictions, owed since a run ended with nothing shown."""
        w = self.session.weights if self.session is not None else None
        if not (self._owed and self.isVisible()) or self.session.training.running or w is None or w.untrained:
            return
        self._owed = False
        self.session.predictions.sample_test_predictions()

    def add(self, batch):
        for img, label, probs in zip(batch["images"], batch["labels"], batch["probs"]):
            self.items.appendleft((img, int(label), probs))
            self.right += int(np.argmax(probs) == label)
            self.total += 1
        self.header.setText(f"Test predictions: <b>{self.right / self.total:.1%}</b> right of the last "
                            f"{self.total:,} shown (green: right, red: wrong)")
        self.cards.update()

    def reset(self):
        self.items.clear()
        self.right = self.total = 0
        self._owed = False
        self.header.setText("Test predictions: press Train to start.")
        self.cards.update()
