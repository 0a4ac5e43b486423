"""Train: the controls in a narrow column; the loss and accuracy plots and the test gallery, large."""
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QScrollArea, QSplitter, QStyle

from .controls import TrainPanel
from .gallery import TestGallery
from .plots import AccuracyPlotView, LossPlotView


class TrainPlace(QSplitter):
    """The Train place: every part a view of the session. Space trains or pauses."""

    def __init__(self, session, settings=None, parent=None):
        super().__init__(parent)
        self.setObjectName("trainSplitter")
        self.controls = TrainPanel(session, settings)
        self.loss_plot = LossPlotView(session)
        self.accuracy_plot = AccuracyPlotView(session)
        self.gallery = TestGallery(session)
        right = QSplitter(Qt.Vertical)
        right.addWidget(self.loss_plot)
        right.addWidget(self.accuracy_plot)
        right.addWidget(self.gallery)
        right.setSizes([300, 260, 150])
        right.setContentsMargins(0, 0, 8, 0)
        column = QScrollArea()  # the column scrolls on small screens
        column.setWidget(self.controls)
        column.setWidgetResizable(True)
        column.setFrameShape(QScrollArea.NoFrame)
        column.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        bar = column.style().pixelMetric(QStyle.PM_ScrollBarExtent)
        column.setFixedWidth(self.controls.maximumWidth() + bar + 4)  # room for the scroll bar
        self.addWidget(column)
        self.addWidget(right)
        self.setStretchFactor(1, 1)
        space = QShortcut(QKeySequence(Qt.Key_Space), self)
        space.setContext(Qt.WidgetWithChildrenShortcut)
        space.activated.connect(session.toggle_training)


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication
    from engine.data import load_mnist
    from engine.experiment import preset
    from ... import theme
    from ...session import Session
    app = QApplication([])
    theme.apply(app)
    s = Session(load_mnist(), preset("convnetjs-demo"))
    w = TrainPlace(s)
    w.resize(1200, 760)
    w.show()
    app.aboutToQuit.connect(s.shutdown)
    app.exec()
