"""Build: the layer palette, the stack (cards or JSON) and the selected layer's properties."""
from PySide6.QtWidgets import QSplitter, QTabWidget, QVBoxLayout, QWidget

from .code import CodeView
from .fit import DataFitBanner
from .palette import LayerPaletteView
from .properties import LayerPropertiesView
from .stack import LayerStackPanel

LOSS_TYPES = ("softmax", "svm", "regression")


class BuildPlace(QSplitter):
    """Palette on the left, the stack in the middle, properties on the right: all views of ``session.doc``."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("buildSplitter")
        self.doc = session.doc
        self.palette_view = LayerPaletteView()
        self.stack_panel = LayerStackPanel(self.doc)
        self.stack = self.stack_panel.view
        self.code = CodeView(self.doc)
        middle = QTabWidget()
        middle.setObjectName("stackTabs")
        middle.addTab(self.stack_panel, "Layers")
        middle.addTab(self.code, "JSON")
        self.fit_banner = DataFitBanner(session, self.stack_panel)
        centre = QWidget()
        column = QVBoxLayout(centre)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        column.addWidget(self.fit_banner)
        column.addWidget(middle, 1)
        self.properties = LayerPropertiesView(self.doc)
        self.addWidget(self.palette_view)
        self.addWidget(centre)
        self.addWidget(self.properties)
        self.setStretchFactor(0, 0)
        self.setStretchFactor(1, 1)
        self.setStretchFactor(2, 0)
        self.setSizes([210, 620, 280])
        self.palette_view.layerActivated.connect(self._add_from_palette)

    def _add_from_palette(self, layer_type):
        """Double-click on a tile: insert after the selected layer, but above the loss layer."""
        layers = self.doc.layers
        i = self.doc.selected + 1 if self.doc.selected >= 0 else len(layers)
        if layers and layers[-1].get("type") in LOSS_TYPES and layer_type not in LOSS_TYPES:
            i = min(i, len(layers) - 1)
        self.doc.insert_layer(i, layer_type)
