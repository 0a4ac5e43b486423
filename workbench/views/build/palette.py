"""The layer palette: every layer type as a draggable tile, grouped."""
from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QTreeWidget, QTreeWidgetItem

from workbench.state.layer_info import DESCRIPTIONS, GROUPS, TITLES
from workbench.views.icons import layer_icon

PALETTE_MIME = "application/x-convnet-workbench-layer"


class LayerPaletteView(QTreeWidget):
    """Tiles to drag onto the layer stack (double-click adds the layer too)."""

    layerActivated = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("layerPalette")
        self.setHeaderHidden(True)
        self.setIconSize(QSize(28, 28))
        self.setIndentation(8)
        self.setRootIsDecorated(False)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragOnly)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setUniformRowHeights(False)
        self.setMinimumWidth(180)
        for group, types in GROUPS:
            head = QTreeWidgetItem(self, [group])
            head.setFlags(Qt.ItemIsEnabled)
            f = head.font(0)
            f.setBold(True)
            f.setPointSizeF(f.pointSizeF() * 0.9)
            head.setFont(0, f)
            head.setForeground(0, self.palette().placeholderText())
            for t in types:
                item = QTreeWidgetItem(head, [TITLES[t]])
                item.setIcon(0, layer_icon(t))
                item.setData(0, Qt.UserRole, t)
                item.setToolTip(0, f"<b>{TITLES[t]}</b> ({t})<br>{DESCRIPTIONS[t]}"
                                   f"<br><i>Drag onto the stack, or double-click to add.</i>")
                item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled)
                item.setSizeHint(0, QSize(0, 34))
            head.setExpanded(True)
        self.itemDoubleClicked.connect(self._activated)

    def layer_types(self):
        return [self.topLevelItem(g).child(i).data(0, Qt.UserRole)
                for g in range(self.topLevelItemCount())
                for i in range(self.topLevelItem(g).childCount())]

    def item_for(self, layer_type):
        for g in range(self.topLevelItemCount()):
            head = self.topLevelItem(g)
            for i in range(head.childCount()):
                if head.child(i).data(0, Qt.UserRole) == layer_type:
                    return head.child(i)
        return None

    def mimeTypes(self):
        return [PALETTE_MIME]

    def mimeData(self, items):
        data = QMimeData()
        t = items[0].data(0, Qt.UserRole) if items else None
        if t:
            data.setData(PALETTE_MIME, t.encode())
            data.setText(t)
        return data

    def supportedDropActions(self):
        return Qt.CopyAction

    def _activated(self, item, column):
        t = item.data(0, Qt.UserRole)
        if t:
            self.layerActivated.emit(t)
