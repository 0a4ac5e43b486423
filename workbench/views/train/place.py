"""Train: the controls in a narrow column; the loss and accuracy plots and the test gallery, large."""
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QScrollArea, QSplitter, QStyle, QVBoxLayout, QWidget

from .controls import TrainPanel
from .gallery import TestGallery
from .plots import AccuracyPlotView, LossPlotView


class TrainPlace(QSplitter):
    """The Train place: every part a view of the session. Space trains or pauses.

    The left column holds the controls (scrolling on small screens) under the
    controls' banner, which stays in view: a message the user must read (why the
    network cannot train, a run that diverged) is never cut off or scrolled away.
    """

    MARGIN = 8  # between the plots and the window's edges

    def __init__(self, session, settings=None, parent=None):
        super().__init__(parent)
        self.setObjectName("trainSplitter")
        self.controls = TrainPanel(session, settings, place_banner=False)
        self.loss_plot = LossPlotView(session)
        self.accuracy_plot = AccuracyPlotView(session)
        self.gallery = TestGallery(session)
        right = QSplitter(Qt.Vertical)
        right.addWidget(self.loss_plot)
        right.addWidget(self.accuracy_plot)
        right.addWidget(self.gallery)
        right.setSizes([300, 260, 150])
        plots = QWidget()  # a splitter ignores its own margins: the plots keep off the edges here
        plots_lay = QVBoxLayout(plots)
        plots_lay.setContentsMargins(0, self.MARGIN // 2, self.MARGIN, self.MARGIN // 2)
        plots_lay.addWidget(right)
        column = QScrollArea()  # the column scrolls on small screens
        column.setWidget(self.controls)
        column.setWidgetResizable(True)
        column.setFrameShape(QScrollArea.NoFrame)
        column.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        bar = column.style().pixelMetric(QStyle.PM_ScrollBarExtent)
        width = self.controls.maximumWidth() + bar + 4  # room for the scroll bar
        left = QWidget()
        left.setObjectName("trainColumn")
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        left_lay.setSpacing(0)
        banner_lay = QVBoxLayout()
        banner_lay.setContentsMargins(8, 8, 8, 0)
        banner_lay.addWidget(self.controls.banner)
        left_lay.addLayout(banner_lay)
        left_lay.addWidget(column, 1)
        left.setFixedWidth(width)
        self.column = column
        self.addWidget(left)
        self.addWidget(plots)
        self.setStretchFactor(1, 1)
        space = QShortcut(QKeySequence(Qt.Key_Space), self)
        space.setContext(Qt.WidgetWithChildrenShortcut)
        space.activated.connect(session.training.toggle)

    # -- slots other features fill (they never edit this place's layouts) -------------------------
    def add_banner(self, widget):
        """Show ``widget`` above the plots, in view (the coach's alerts)."""
        self.loss_plot.layout().insertWidget(0, widget)

    def add_rate_tool(self, widget):
        """Put ``widget`` beside the learning-rate field (the learning-rate finder's button)."""
        self.controls.add_rate_tool(widget)
