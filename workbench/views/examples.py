"""A gallery of dataset examples, each with its top-3 class bars: Evaluate's confused examples
and the embedding map's selection.

``ExampleGallery`` is a list view in icon mode, so that thousands of examples scroll
smoothly (only the visible cards are painted). Clicking an example emits
``exampleActivated(("test" | "train", index))``: the places connect it to Inspect.
"""
import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate

from workbench.views.colour import class_name, stored_qimage

RIGHT = QColor("#2e9d62")
WRONG = QColor("#d64545")
CARD = QSize(156, 70)
NAME_W = (38, 120)  # px: the class-name column of a card's bars, at least and at most


def small_font(font):
    """The cards' text: a little smaller than the view's."""
    f = QFont(font)
    f.setPointSizeF(f.pointSizeF() * 0.85)
    return f


def name_width(names, font):
    """The class-name column's width for these class names: the longest fits (up to ``NAME_W[1]``)."""
    if not names:
        return NAME_W[0]
    fm = QFontMetrics(small_font(font))
    widest = max(fm.horizontalAdvance(class_name(names, k)) for k in range(len(names)))
    return int(min(max(NAME_W[0], widest + 4), NAME_W[1]))


class ExampleModel(QAbstractListModel):
    """Examples of one set: their images, labels and (optionally) the network's probabilities."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.images = None
        self.indices = np.zeros(0, np.int64)
        self.labels = None
        self.probs = None
        self.kind = "test"
        self.names = None

    def set_examples(self, images, indices, labels, probs=None, kind="test", names=None):
        """``images``/``labels``: the whole set; ``indices``: which of them, in order;
        ``probs``: per example of the set (rows aligned with ``images``), or None."""
        self.beginResetModel()
        self.images, self.labels, self.probs = images, labels, probs
        self.indices = np.asarray(indices, np.int64)
        self.kind, self.names = kind, names
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.indices)

    def example(self, row):
        """``(image, label, probs or None, index)`` of the example shown in ``row``."""
        i = int(self.indices[row])
        return self.images[i], int(self.labels[i]), None if self.probs is None else self.probs[i], i

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        if role == Qt.UserRole:
            return (self.kind, int(self.indices[index.row()]))
        if role == Qt.ToolTipRole:
            _, label, probs, i = self.example(index.row())
            text = f"{self.kind} example #{i}, class {class_name(self.names, label)}"
            if probs is not None:
                top = np.argsort(probs)[::-1][:3]
                text += "\npredicted " + ", ".join(f"{class_name(self.names, int(k))} ({probs[k]:.2f})" for k in top)
            return text + "\nClick to open it in Inspect."
        return None


class ExampleCard(QStyledItemDelegate):
    """An example's image, its index and class, and its top-3 predictions as bars
    (the first green when right, red when wrong)."""

    def sizeHint(self, option, index):
        """Wider than ``CARD`` by as much as the class names need (all cards alike)."""
        extra = name_width(index.model().names, option.font) - NAME_W[0]
        return QSize(CARD.width() + extra, CARD.height())

    def paint(self, p, option, index):
        model = index.model()
        img, label, probs, i = model.example(index.row())
        pal = option.palette
        r = QRectF(option.rect).adjusted(2, 2, -2, -2)
        p.save()
        p.setRenderHint(QPainter.Antialiasing)
        selected = bool(option.state & QStyle.State_Selected)
        p.setPen(pal.highlight().color() if selected else pal.mid().color())
        p.setBrush(pal.base())
        p.drawRoundedRect(r, 5, 5)
        p.setRenderHint(QPainter.SmoothPixmapTransform, False)
        side = r.height() - 8
        p.drawImage(QRectF(r.left() + 4, r.top() + 4, side, side), stored_qimage(img))
        x = r.left() + side + 10
        p.setFont(small_font(option.font))
        p.setPen(pal.placeholderText().color())
        fm = p.fontMetrics()
        p.drawText(QRectF(x, r.top() + 2, r.right() - x - 4, 14), Qt.AlignLeft | Qt.AlignVCenter,
                   fm.elidedText(f"#{i} · {class_name(model.names, label)}", Qt.ElideRight, int(r.right() - x - 4)))
        if probs is not None:
            top = np.argsort(probs)[::-1][:3]
            name_w = name_width(model.names, option.font)
            bar_w = r.right() - x - name_w - 6
            for j, k in enumerate(top):
                y = r.top() + 18 + j * 15
                p.setPen(pal.text().color())
                p.drawText(QRectF(x, y, name_w - 2, 14), Qt.AlignLeft | Qt.AlignVCenter,
                           fm.elidedText(class_name(model.names, int(k)), Qt.ElideRight, name_w - 2))
                p.fillRect(QRectF(x + name_w, y + 2, bar_w, 10), pal.alternateBase())
                color = (RIGHT if k == label else WRONG) if j == 0 else pal.mid().color()
                p.fillRect(QRectF(x + name_w, y + 2, bar_w * float(probs[k]), 10), color)
        p.restore()


class ExampleGallery(QListView):
    """Examples as cards in a wrapping grid; a click emits ``exampleActivated(source)``."""

    exampleActivated = Signal(object)

    def __init__(self, object_name="exampleGallery", parent=None):
        super().__init__(parent)
        self.setObjectName(object_name)
        self.examples = ExampleModel(self)
        self.setModel(self.examples)
        self.setItemDelegate(ExampleCard(self))
        self.setViewMode(QListView.IconMode)
        self.setFlow(QListView.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.Adjust)
        self.setMovement(QListView.Static)
        self.setUniformItemSizes(True)
        self.setSpacing(2)
        self.setSelectionMode(QListView.SingleSelection)
        self.setVerticalScrollMode(QListView.ScrollPerPixel)
        self.clicked.connect(lambda index: self.exampleActivated.emit(index.data(Qt.UserRole)))

    @property
    def indices(self):
        """The examples shown, in order (indices into their set)."""
        return self.examples.indices

    @property
    def kind(self):
        return self.examples.kind

    def set_examples(self, images, indices, labels, probs=None, kind="test", names=None):
        self.examples.set_examples(images, indices, labels, probs, kind, names)
        self.scrollToTop()

    def clear(self):
        self.examples.set_examples(None, [], None)

    def card_rect(self, row):
        """Where example ``row`` is drawn (viewport coordinates), for tests and tours."""
        return self.visualRect(self.examples.index(row, 0))
