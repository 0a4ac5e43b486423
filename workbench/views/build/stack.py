"""The layer stack: the network as a vertical flow of cards, input at the top, loss at the bottom.

Drop palette tiles anywhere (a marker shows where), drag cards to reorder, Del to
delete; each card shows the layer's settings, output volume and parameter count, and
the invalid one is outlined with the engine's message.
"""
import html
import json

from PySide6.QtCore import QAbstractListModel, QByteArray, QMimeData, QModelIndex, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QDrag, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QVBoxLayout,
    QWidget,
)

from workbench.state.layer_info import GROUPS, TITLES, layer_type, summary, volume
from workbench.views.icons import color_for, paint_icon

from . import costs
from .palette import PALETTE_MIME

STACK_MIME = "application/x-convnet-workbench-stack-row"
CONNECTOR = 22      # px between cards, where the flowing volume is written
CARD_H = 70
COST_ROLE = Qt.UserRole + 1  # the card's cost line, as shown
ERROR_COLOR = QColor("#d64545")
WARNING_COLOR = QColor("#d97706")  # the network does not fit the data (it is valid, it just cannot train on it)


class StackModel(QAbstractListModel):
    """Rows of the document's layers (the document is the source of truth)."""

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        doc.changed.connect(self._reset)

    def _reset(self):
        self.beginResetModel()
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.doc.layers)

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        i = index.row()
        d = self.doc.layers[i]
        if role == Qt.DisplayRole:
            return summary(d)
        if role == Qt.ToolTipRole:
            err = self.doc.error_for(i)
            row = self.doc.rows[i] if i < len(self.doc.rows) else None
            return err or f"{summary(d)}\noutput {volume(row)}\n{costs.card_tooltip(row, self.doc.layers, i)}"
        if role == COST_ROLE:
            return costs.card_cost(self.doc.rows[i] if i < len(self.doc.rows) else None)
        if role == Qt.UserRole:
            return i
        return None

    def flags(self, index):
        f = super().flags(index)
        return f | Qt.ItemIsDragEnabled if index.isValid() else f | Qt.ItemIsDropEnabled


class LayerCardDelegate(QStyledItemDelegate):
    """Paints a layer as a card with a connector above it."""

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.notes = {}  # card index -> what does not fit the data there (shown under the card)

    def _message(self, i):
        """``(text, colour)`` under card ``i``: the engine's error, else a note about the data."""
        err = self.doc.error_for(i)
        if err:
            return err, ERROR_COLOR
        if i in self.notes:
            return self.notes[i], WARNING_COLOR
        return None, None

    def _error_lines(self, i, width, fm):
        err, _ = self._message(i)
        if not err:
            return 0
        r = fm.boundingRect(QRect(0, 0, max(100, width - 70), 1000), Qt.TextWordWrap, err)
        return r.height() + 6

    def sizeHint(self, option, index):
        i = index.row()
        fm = QFontMetrics(option.font)
        top = CONNECTOR if i > 0 else 6
        return QSize(option.rect.width() or 300, top + CARD_H + self._error_lines(i, option.rect.width(), fm) + 2)

    def paint(self, p, option, index):
        i = index.row()
        doc = self.doc
        d = doc.layers[i]
        row = doc.rows[i] if i < len(doc.rows) else None
        t = layer_type(d)
        pal = option.palette
        p.save()
        p.setRenderHint(QPainter.Antialiasing)
        r = QRectF(option.rect)
        top = CONNECTOR if i > 0 else 6
        card = QRectF(r.left() + 8, r.top() + top, r.width() - 16, r.height() - top - 2)
        # connector with the volume flowing into this layer
        if i > 0:
            x = card.left() + 24
            line = QColor(pal.mid().color())
            p.setPen(QPen(line, 1.5))
            p.drawLine(QRectF(x, r.top(), 0, top).topLeft(), QRectF(x, r.top(), 0, top).bottomLeft())
            prev = doc.rows[i - 1] if i - 1 < len(doc.rows) else None
            small = QFont(option.font)
            small.setPointSizeF(option.font.pointSizeF() * 0.85)
            p.setFont(small)
            p.setPen(pal.placeholderText().color())
            p.drawText(QRectF(x + 10, r.top(), card.width(), top), Qt.AlignVCenter,
                       volume(prev) if prev else "")
        err, err_color = self._message(i)
        selected = bool(option.state & QStyle.State_Selected)
        fill = QColor(pal.base().color())
        p.setBrush(fill)
        if err:
            pen = QPen(err_color, 2)
        elif selected:
            pen = QPen(pal.highlight().color(), 2)
        else:
            pen = QPen(pal.mid().color(), 1)
        p.setPen(pen)
        p.drawRoundedRect(card, 7, 7)
        # stripe in the layer's colour
        stripe = QRectF(card.left() + 1, card.top() + 8, 3, CARD_H - 16)
        p.fillRect(stripe, color_for(t))
        paint_icon(p, QRectF(card.left() + 10, card.top() + (CARD_H - 30) / 2, 30, 30), t)
        text_left = card.left() + 48
        bold = QFont(option.font)
        bold.setBold(True)
        p.setFont(bold)
        p.setPen(pal.text().color())
        right_w = 150
        p.drawText(QRectF(text_left, card.top() + 7, card.width() - 56 - right_w, 20),
                   Qt.AlignLeft | Qt.AlignVCenter, TITLES.get(t, t))
        p.setFont(option.font)
        fm = QFontMetrics(option.font)
        text = fm.elidedText(summary(d), Qt.ElideRight, int(card.width() - 56 - right_w))
        p.setPen(pal.placeholderText().color())
        p.drawText(QRectF(text_left, card.top() + 27, card.width() - 56 - right_w, 20),
                   Qt.AlignLeft | Qt.AlignVCenter, text)
        # output volume and parameter count on the right
        vol = volume(row) if row else "?"
        p.setFont(bold)
        p.setPen(pal.text().color() if row else ERROR_COLOR)
        p.drawText(QRectF(card.right() - right_w - 8, card.top() + 7, right_w, 20),
                   Qt.AlignRight | Qt.AlignVCenter, vol)
        p.setFont(option.font)
        p.setPen(pal.placeholderText().color())
        params = f"{row['params']:,} params" if row and row["params"] else ("no params" if row else "")
        p.drawText(QRectF(card.right() - right_w - 8, card.top() + 27, right_w, 20),
                   Qt.AlignRight | Qt.AlignVCenter, params)
        p.drawText(QRectF(card.right() - right_w - 8, card.top() + 45, right_w, 20),
                   Qt.AlignRight | Qt.AlignVCenter, index.data(COST_ROLE))
        if err:
            p.setPen(err_color)
            p.drawText(QRectF(text_left, card.top() + CARD_H - 4, card.width() - 56, card.height() - CARD_H),
                       Qt.TextWordWrap | Qt.AlignLeft | Qt.AlignTop, err)
        p.restore()


class LayerStackView(QListView):
    """The stack of layer cards; accepts palette tiles and reorders by drag."""

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.setObjectName("layerStack")
        self.doc = doc
        self.setModel(StackModel(doc, self))
        self.setItemDelegate(LayerCardDelegate(doc, self))
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDropIndicatorShown(False)
        self.setDragDropMode(QAbstractItemView.DragDrop)
        self.setDefaultDropAction(Qt.MoveAction)
        self.setVerticalScrollMode(QAbstractItemView.ScrollPerPixel)
        self.setResizeMode(QListView.Adjust)
        self.setSpacing(0)
        self.setFrameShape(QListView.NoFrame)
        self.setMinimumWidth(360)
        self.drop_marker = None  # insertion index while a drag hovers
        self.selectionModel().currentChanged.connect(self._current_changed)
        doc.changed.connect(self._sync_selection)
        doc.selectionChanged.connect(self._select_row)

    # -- selection -------------------------------------------------------------
    def _current_changed(self, current, previous):
        self.doc.select(current.row() if current.isValid() else -1)

    def _select_row(self, row):
        if row < 0:
            self.clearSelection()
            return
        idx = self.model().index(row, 0)
        if self.currentIndex() != idx:
            self.setCurrentIndex(idx)

    def _sync_selection(self):
        self.doc.selected < len(self.doc.layers) and self._select_row(self.doc.selected)
        self.scheduleDelayedItemsLayout()

    # -- drag and drop ------------------------------------------------------------
    def insertion_index(self, pos):
        """Where a drop at ``pos`` (viewport coordinates) inserts: before that row."""
        idx = self.indexAt(pos)
        n = self.model().rowCount()
        if not idx.isValid():
            if n and pos.y() < self.visualRect(self.model().index(0, 0)).top():
                return 0
            return n
        rect = self.visualRect(idx)
        top = rect.top() + (CONNECTOR if idx.row() > 0 else 0)
        card_mid = (top + rect.bottom()) / 2
        return idx.row() if pos.y() < card_mid else idx.row() + 1

    def mime_for_row(self, row):
        data = QMimeData()
        data.setData(STACK_MIME, QByteArray(str(row).encode()))
        data.setText(json.dumps(self.doc.layers[row]))
        return data

    def startDrag(self, actions):
        idx = self.currentIndex()
        if not idx.isValid():
            return
        drag = QDrag(self)
        drag.setMimeData(self.mime_for_row(idx.row()))
        rect = self.visualRect(idx)
        pm = self.viewport().grab(rect)
        drag.setPixmap(pm.scaledToWidth(min(pm.width(), 320), Qt.SmoothTransformation))
        drag.setHotSpot(QPoint(20, 20))
        drag.exec(Qt.MoveAction)
        self._set_marker(None)

    def _accepts(self, mime):
        return mime.hasFormat(PALETTE_MIME) or mime.hasFormat(STACK_MIME)

    def _set_marker(self, index):
        if index != self.drop_marker:
            self.drop_marker = index
            self.viewport().update()

    def dragEnterEvent(self, e):
        self._hover_drag(e)

    def dragMoveEvent(self, e):
        self._hover_drag(e)

    def _hover_drag(self, e):
        """Accept our layers and show where they would land."""
        if self._accepts(e.mimeData()):
            e.setDropAction(Qt.MoveAction if e.mimeData().hasFormat(STACK_MIME) else Qt.CopyAction)
            e.accept()
            self._set_marker(self.insertion_index(e.position().toPoint()))
        else:
            e.ignore()

    def dragLeaveEvent(self, e):
        self._set_marker(None)

    def dropEvent(self, e):
        mime = e.mimeData()
        index = self.insertion_index(e.position().toPoint())
        self._set_marker(None)
        if mime.hasFormat(PALETTE_MIME):
            t = bytes(mime.data(PALETTE_MIME)).decode()
            if t in TITLES:
                self.doc.insert_layer(index, t)
                e.setDropAction(Qt.CopyAction)
                e.accept()
                return
        elif mime.hasFormat(STACK_MIME):
            src = int(bytes(mime.data(STACK_MIME)).decode())
            self.doc.move_layer(src, index)
            # the move is done here; tell the source not to delete anything
            e.setDropAction(Qt.CopyAction)
            e.accept()
            return
        e.ignore()

    def paintEvent(self, e):
        super().paintEvent(e)
        if self.drop_marker is None:
            return
        n = self.model().rowCount()
        if n == 0:
            y = 8
        elif self.drop_marker < n:
            r = self.visualRect(self.model().index(self.drop_marker, 0))
            y = r.top() + (CONNECTOR // 2 if self.drop_marker > 0 else 3)
        else:
            y = self.visualRect(self.model().index(n - 1, 0)).bottom() + 4
        p = QPainter(self.viewport())
        p.setRenderHint(QPainter.Antialiasing)
        accent = self.palette().highlight().color()
        p.setPen(QPen(accent, 3, Qt.SolidLine, Qt.RoundCap))
        p.drawLine(14, y, self.viewport().width() - 14, y)
        p.setBrush(accent)
        p.drawEllipse(QPoint(14, y), 4, 4)
        p.end()

    # -- keyboard and context menu ---------------------------------------------------
    def keyPressEvent(self, e):
        if e.key() in (Qt.Key_Delete, Qt.Key_Backspace) and self.currentIndex().isValid():
            self.doc.remove_layer(self.currentIndex().row())
            e.accept()
            return
        super().keyPressEvent(e)

    def contextMenuEvent(self, e):
        idx = self.indexAt(e.pos())
        menu = QMenu(self)
        if idx.isValid():
            row = idx.row()
            self.doc.select(row)
            menu.addAction("Duplicate", lambda: self.doc.duplicate_layer(row))
            menu.addAction("Delete", lambda: self.doc.remove_layer(row), "Del")
            menu.addSeparator()
            up = menu.addAction("Move up", lambda: self.doc.move_layer(row, row - 1))
            up.setEnabled(row > 0)
            down = menu.addAction("Move down", lambda: self.doc.move_layer(row, row + 2))
            down.setEnabled(row < len(self.doc.layers) - 1)
            menu.addSeparator()
        where = self.insertion_index(e.pos())
        add = menu.addMenu("Insert layer here")
        for _group, types in GROUPS:
            for t in types:
                add.addAction(TITLES[t], lambda t=t: self.doc.insert_layer(where, t))
            add.addSeparator()
        menu.exec(e.globalPos())


class LayerStackPanel(QWidget):
    """The stack with a header that sums up the network (parameters, validity)."""

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.header = QLabel()
        self.header.setObjectName("stackHeader")
        self.header.setWordWrap(True)
        self.header.setContentsMargins(10, 6, 10, 6)
        self.view = LayerStackView(doc)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.header)
        lay.addWidget(self.view, 1)
        doc.changed.connect(self._update_header)
        self.fit_note = None  # the header's word on the data, when the network does not fit it
        self._update_header()

    def set_data_fit(self, notes, header):
        """What does not fit the data: ``notes`` (card index -> text) under those cards and
        ``header`` (plain text, or None when it fits) in the header."""
        delegate = self.view.itemDelegate()
        if delegate.notes != notes or self.fit_note != header:
            delegate.notes = dict(notes)
            self.fit_note = header
            self._update_header()
            self.view.scheduleDelayedItemsLayout()  # the cards' heights follow their notes
            self.view.viewport().update()

    def _update_header(self):
        doc = self.doc
        n = len(doc.layers)
        total = f"{doc.total_params:,} parameters" if doc.valid else ""
        if doc.valid:
            total += f" &nbsp;·&nbsp; {costs.summary(doc.layers)}"
        if doc.valid:
            state = "<span style='color:#2e9d62'>&#10003; valid</span>"
        else:
            state = f"<span style='color:{ERROR_COLOR.name()}'>&#9888; {html.escape(str(doc.error))}</span>"
        if self.fit_note and doc.valid:
            state += f" &nbsp;·&nbsp; <span style='color:{WARNING_COLOR.name()}'>&#9888; " \
                     f"{html.escape(self.fit_note)}</span>"
        # the name and the message come from files: escaped, so that they show as written
        self.header.setText(f"<b>{html.escape(doc.name)}</b> &nbsp;·&nbsp; {n} layers &nbsp;·&nbsp; "
                            f"{total + ' &nbsp;·&nbsp; ' if total else ''}{state}")
