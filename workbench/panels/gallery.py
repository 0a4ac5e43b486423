"""A stream of test images with their top-3 class bars, as in the ConvNetJS demo."""
from collections import deque

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

RIGHT = QColor("#2e9d62")
WRONG = QColor("#d64545")
CARD_W, CARD_H = 118, 64


class _Cards(QWidget):
    def __init__(self, gallery):
        super().__init__()
        self.g = gallery
        self.setMinimumHeight(CARD_H * 2 + 12)

    def sizeHint(self):
        return QSize(8 * CARD_W, CARD_H * 2 + 12)

    def paintEvent(self, e):
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        cols = max(1, self.width() // CARD_W)
        rows = max(1, self.height() // CARD_H)
        pal = self.palette()
        for k, (img, label, probs) in enumerate(list(self.g.items)[:cols * rows]):
            r, c = divmod(k, cols)
            x, y = c * CARD_W + 4, r * CARD_H + 4
            q = QImage(np.ascontiguousarray(255 - img).data, img.shape[1], img.shape[0],
                       img.shape[1], QImage.Format_Grayscale8).copy()
            p.drawImage(QRectF(x, y, 56, 56), q)
            top = np.argsort(probs)[::-1][:3]
            for j, cls in enumerate(top):
                by = y + 4 + j * 18
                color = (RIGHT if cls == label else WRONG) if j == 0 else pal.mid().color()
                p.fillRect(QRectF(x + 74, by, 36 * float(probs[cls]), 12), color)
                p.setPen(pal.text().color())
                p.drawText(QRectF(x + 60, by - 2, 14, 16), Qt.AlignCenter, str(int(cls)))
        p.end()


class TestGallery(QWidget):
    """The latest test predictions (newest first) and the rolling test accuracy."""

    def __init__(self, capacity=48, parent=None):
        super().__init__(parent)
        self.setObjectName("testGallery")
        self.items = deque(maxlen=capacity)
        self.right = self.total = 0
        self.header = QLabel("Test predictions: press Train to start.")
        self.header.setObjectName("galleryAccuracy")
        self.cards = _Cards(self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.header)
        lay.addWidget(self.cards, 1)

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
        self.header.setText("Test predictions: press Train to start.")
        self.cards.update()
