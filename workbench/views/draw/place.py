"""Draw a digit and watch the network's prediction respond as you draw.

The panel sends the drawing to the session at most every 40 ms while the pen
moves, and once more when a stroke ends (its own rate limit); the session turns
it into the 28x28 digit the network sees and asks the latest published weights
on a background job. New weights (a reset, a snapshot, about once a second while
training, a run's end) are asked again by the session's ``predictions``, whatever place
is on screen, so the answer shown is always the current weights'.
"""
import numpy as np
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import EngineError
from workbench.state import background
from workbench.state.jobs import Cancelled
from workbench.views import dialogs
from workbench.views.draw.canvas import DigitCanvas, PixelView, PredictionBars, load_image_file
from workbench.views.draw.teach import _button

PREDICT_MS = 40  # at most this often while drawing


class DrawPanel(QWidget):
    """The canvas, the image the network sees, and the live prediction.

    Signals
    -------
    showInNetwork : the user wants to see the drawing in Inspect
    trainedDemoRequested : the user wants the trained demo network
    """

    showInNetwork = Signal()
    trainedDemoRequested = Signal()

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("drawPanel")
        self.session = session
        self.canvas = DigitCanvas()
        self.pixels = PixelView()
        self.bars = PredictionBars()
        self.width_slider = QSlider(Qt.Horizontal)
        self.width_slider.setObjectName("strokeWidth")
        self.width_slider.setRange(6, 50)
        self.width_slider.setValue(int(self.canvas.width_px))
        self.width_slider.setToolTip("Brush width.")
        self.width_slider.valueChanged.connect(lambda v: setattr(self.canvas, "width_px", float(v)))
        clear = _button("Clear", "clearButton", "Clear the canvas (Esc).", self.canvas.clear)
        undo = _button("Undo stroke", "undoStrokeButton", "Remove the last stroke (Backspace).",
                            self.canvas.undo_stroke)
        self.open_button = open_img = _button("Open image…", "openImageButton",
                                "Test a PNG or JPG: dark on light or light on dark, any size.",
                                lambda: self.open_image())
        into = _button("Show in network", "showInNetworkButton",
                            "See this digit's activation volumes in Inspect.", self._show_in_network)
        self.demo_button = demo = _button("Use the trained demo network", "trainedDemoButton",
                            "Open the bundled ConvNetJS demo network trained for 3 epochs (98.8% on the "
                            "test set).", self.trainedDemoRequested.emit)
        self.timing = QLabel()
        self.timing.setObjectName("drawTiming")
        self.timing.setWordWrap(True)
        self.tools = QWidget()
        tools = QHBoxLayout(self.tools)
        tools.setContentsMargins(0, 0, 0, 0)
        tools.addWidget(QLabel("Brush"))
        tools.addWidget(self.width_slider)
        tools.addWidget(undo)
        tools.addWidget(clear)
        self.colour_panel = self._colour_panel()
        left = QVBoxLayout()
        left.addWidget(self.colour_panel, 1)
        left.addWidget(self.canvas, 1)
        left.addWidget(self.tools)
        left.addWidget(self._explanation(session))
        # the right column scrolls when the window is short (its prediction, teaching and
        # buttons would otherwise set the window's least height: it must fit 1024x640)
        right_widget = QWidget()
        right_widget.setObjectName("drawSide")
        right = QGridLayout(right_widget)
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(QLabel("What the network sees"), 0, 0)
        right.addWidget(self.pixels, 1, 0, Qt.AlignTop)
        right.addWidget(self.bars, 2, 0)
        self.teach_box, self.examples = self._teaching(session)
        for row, w in enumerate((self.teach_box, open_img, into, demo, self.timing), start=3):
            right.addWidget(w, row, 0)
        right.setRowStretch(2, 1)
        side = QScrollArea()
        side.setObjectName("drawSideScroll")
        side.setWidgetResizable(True)
        side.setFrameShape(QFrame.NoFrame)
        side.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        side.setWidget(right_widget)
        side.setMinimumWidth(right_widget.minimumSizeHint().width() + 16)
        top = QHBoxLayout()
        top.addLayout(left, 3)
        top.addWidget(side, 2)
        lay = QVBoxLayout(self)
        lay.addLayout(top, 1)
        lay.addWidget(self.examples)
        esc = QShortcut(QKeySequence(Qt.Key_Escape), self)
        esc.setContext(Qt.WidgetWithChildrenShortcut)
        esc.activated.connect(self.canvas.clear)
        self._timer = QTimer(self, singleShot=True, interval=PREDICT_MS)
        self._timer.timeout.connect(self.update_prediction)
        self.canvas.changed.connect(self._schedule)
        self.canvas.strokeFinished.connect(self.update_prediction)
        self.last_ms = None
        self.last_version = None  # of the weights that gave the answer shown
        self.digit = None
        self._crop = None
        session.predictions.drawingChanged.connect(self._show_digit)
        session.predictions.drawingPredicted.connect(self._show_prediction)
        session.data.changed.connect(self._dataset_changed)
        self._dataset_changed()

    # -- the drawing, sent to the session ----------------------------------------------------
    def _schedule(self):
        if not self._timer.isActive():
            self._timer.start()

    def update_prediction(self):
        """Send the drawing now (the answer arrives as ``drawingPredicted``)."""
        self._timer.stop()
        self.session.predictions.set_drawing(None if self.canvas.is_empty() else self.canvas.image())

    # -- what comes back ------------------------------------------------------------------------
    def _show_digit(self, digit):
        self.digit = digit
        if digit is None:
            self.pixels.set_pixels(np.zeros((28, 28), np.float32))
            self.picture_view.set_pixels(np.zeros((28, 28), np.float32))
            self.bars.set_message("Open a picture." if self.colour else "Draw a digit.")
            self.timing.setText("")
        else:
            self.pixels.set_pixels(digit, self._crop)
            if self.session.predictions.picture:
                self.picture_view.set_pixels(digit)

    def _show_prediction(self, result):
        if self.digit is None:
            return  # cleared since it was asked
        self._crop = result.get("crop")
        self.pixels.set_pixels(self.digit, self._crop)
        if "probs" not in result:
            self.bars.set_message(result["message"])
            return
        self.bars.set_probs(result["probs"])
        self.last_ms = result["ms"]
        self.last_version = result["version"]
        note = ("<br><b>Untrained network:</b> its answers are guesses. Train it, or use the "
                "trained demo network." if result.get("untrained") else "")
        self.timing.setText(f"preprocess + predict: {self.last_ms:.1f} ms{note}")

    # -- an explanation over the canvas (issue #14) ----------------------------------------------
    def _explanation(self, session):
        from workbench.views.draw.explain_overlay import DrawExplanation
        self.explanation = DrawExplanation(session, self.canvas)
        return self.explanation

    # -- teaching (issue #25) ---------------------------------------------------------------------
    def _teaching(self, session):
        from workbench.views.draw.teach import ExamplesStrip, TeachBox
        box = TeachBox(session)
        box.addRequested.connect(self.add_example)
        self.canvas.installEventFilter(self)
        return box, ExamplesStrip(session, box)

    def eventFilter(self, obj, e):
        """With the canvas focused: digit keys choose the label, Enter adds the drawing."""
        if obj is self.canvas and e.type() == QEvent.KeyPress and not e.modifiers() & ~Qt.KeypadModifier:
            if Qt.Key_0 <= e.key() <= Qt.Key_9:
                self.teach_box.choose(e.key() - Qt.Key_0)
                return True
            if e.key() in (Qt.Key_Return, Qt.Key_Enter):
                self.add_example()
                return True
        return super().eventFilter(obj, e)

    def add_example(self):
        """Add the drawing, as the network sees it, to My examples with the chosen label; the
        canvas is cleared for the next one."""
        if self.colour or self.canvas.is_empty():
            self.bars.set_message("Draw something first, then Add.")
            return False
        if self.session.teaching.busy:
            return False
        self.update_prediction()  # the drawn digit, now (not 40 ms from now)
        try:
            self.session.teaching.add(self.session.predictions.drawn, self.teach_box.label)
        except EngineError as e:
            self.teach_box.result.setText(str(e))
            return False
        self.canvas.clear()
        return True

    # -- commands ------------------------------------------------------------------------------
    # -- colour datasets: pictures instead of drawings ----------------------------------------------
    def _colour_panel(self):
        w = QWidget()
        w.setObjectName("drawColourPanel")
        self.colour_note = QLabel()
        self.colour_note.setObjectName("drawColourNote")
        self.colour_note.setTextFormat(Qt.PlainText)
        self.colour_note.setWordWrap(True)
        self.picture_view = PixelView()
        self.picture_view.setObjectName("pictureView")
        self.picture_view.setMinimumSize(200, 200)
        self.picture_view.setMaximumSize(16777215, 16777215)
        self.picture_view.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        pick = _button("Open image…", "openPictureButton", "Test a picture (PNG, JPG, ...): it is read "
                            "as the dataset's images are, at their size.", lambda: self.open_image())
        lay = QVBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.colour_note)
        lay.addWidget(pick, 0, Qt.AlignLeft)
        lay.addWidget(self.picture_view, 1)
        return w

    @property
    def colour(self):
        """The dataset is in colour: Draw tests pictures, not drawings."""
        return self.session.data.dataset.image_shape[2] == 3

    def _dataset_changed(self):
        ds = self.session.data.dataset
        self.bars.set_class_names(ds.class_names)
        colour = self.colour
        self.canvas.setVisible(not colour)
        self.tools.setVisible(not colour)
        self.colour_panel.setVisible(colour)
        self.open_button.setVisible(not colour)  # the colour panel has its own
        self.demo_button.setVisible(not colour)  # a digits network
        self.teach_box.setVisible(not colour)  # examples are drawn digits
        self.examples.setVisible(not colour)
        if colour:
            h, w, _ = ds.image_shape
            self.colour_note.setText(f"{ds.name} is in colour, and a drawing would be a grey digit: "
                                     f"open a picture to see what the network makes of it (it is read as "
                                     f"the dataset's images are, at {w}x{h}).")
            if not self.session.predictions.picture:
                self.session.predictions.set_drawing(None)
        elif self.session.predictions.picture:  # a picture of the colour data: not for this one
            self.session.predictions.set_drawing(None)

    def open_image(self, path=None):
        """A picture to test: read (scaled down if large) on a worker thread; a bad one gets a dialog."""
        if not path:
            path = dialogs.ask_open(self, "Open image", "Images (*.png *.jpg *.jpeg *.bmp *.gif);;All files (*)")
            if not path:
                return False
        if self.colour:
            try:
                self.session.open_picture(path)
            except EngineError as e:
                dialogs.warn(self, "Cannot open image", str(e))
                return False
            return True
        try:
            img = background.wait_for(self, "Reading the picture…", lambda state: load_image_file(path))
        except Cancelled:
            return False
        except Exception as e:  # noqa: BLE001 - a dialog, and the drawing stays
            dialogs.warn(self, "Cannot open image", str(e) if isinstance(e, ValueError)
                         else dialogs.failure_message(e, path))
            return False
        self.canvas.set_image(img)
        return True

    def _show_in_network(self):
        if self.session.predictions.picture and self.digit is not None:
            self.showInNetwork.emit()
            return
        if self.canvas.is_empty():
            self.bars.set_message("Open a picture first." if self.colour else "Draw a digit first.")
            return
        self.update_prediction()
        self.showInNetwork.emit()
