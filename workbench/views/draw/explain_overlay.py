"""Draw's explanation overlay: a heat map over the canvas that follows the pen.

Each time the session has a new drawn digit (the Draw panel sends the drawing every
40 ms while the pen moves), this asks ``session.understanding`` for an explanation of
it; the job keeps only the newest request waiting, so the overlay is at most one
explanation behind the pen (a few milliseconds; occlusion ten or so). The map lives in
the 28x28 digit's frame; ``to_mnist``'s frame lays it back over the strokes.
"""
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from workbench.tasks.understand import METHODS
from workbench.views.colour import class_name

from ..explain import ExplainControls, canvas_rect, heat_image

KEY = "draw"


class DrawExplanation(QWidget):
    """The controls (off by default) and the canvas overlay they drive."""

    def __init__(self, session, canvas, parent=None):
        super().__init__(parent)
        self.setObjectName("drawExplanation")
        self.session = session
        self.canvas = canvas
        self.result = None
        self.updates = 0  # explanations shown (tests follow the pen with it)
        self.controls = ExplainControls(with_off=True, horizontal=True)
        self.caption = QLabel()
        self.caption.setObjectName("drawExplanationCaption")
        self.caption.setTextFormat(Qt.PlainText)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.controls)
        lay.addWidget(self.caption)
        self.caption.hide()
        self.controls.changed.connect(self.request)
        self.controls.opacityChanged.connect(lambda _: self._paint())
        u = session.understanding
        u.explained.connect(self._explained)
        u.explainFailed.connect(self._failed)
        session.predictions.drawingChanged.connect(self._drawing_changed)
        session.weightsChanged.connect(self._weights_changed)
        session.data.changed.connect(self._classes_changed)
        if session.weights is not None:
            self._weights_changed(session.weights)

    @property
    def on(self):
        return self.controls.method() is not None

    def _weights_changed(self, weights):
        self.controls.set_layers(weights)
        self._classes_changed()
        if self.isVisible():
            self.request()

    def _classes_changed(self):
        w = self.session.weights
        self.controls.set_classes(getattr(self.session.data.dataset, "class_names", None),
                                  w.num_outputs if w is not None else 0)

    def _drawing_changed(self, digit):
        if digit is None:
            self.result = None
            self.canvas.set_overlay(None)
            self.caption.hide()
        else:
            self.request()

    def request(self):
        """Explain the drawn digit now (if the overlay is on and there is one)."""
        s = self.session
        if not self.on or s.predictions.drawn is None:
            s.understanding.cancel_explanation(KEY)
            self.result = None
            self.canvas.set_overlay(None)
            self.caption.hide()
            return
        c = self.controls
        s.understanding.explain(("drawn", 0), c.method(), c.cls(),
                                c.layer() if c.method() == "grad_cam" else None, KEY)

    def _explained(self, r):
        if r["key"] != KEY or not self.on or self.session.predictions.drawn is None or r["frame"] is None:
            return
        self.result = r
        self.updates += 1
        self._paint()
        names = getattr(self.session.data.dataset, "class_names", None)
        which = "predicted" if r["class"] == r["predicted"] else "not the prediction"
        self.caption.setText(f"{METHODS[r['method']]} for {class_name(names, r['class'])} ({which}, "
                             f"p = {r['probs'][r['class']]:.2f}) · {r['ms']:.1f} ms")
        self.caption.show()

    def _paint(self):
        r = self.result
        if r is None:
            return
        opacity = self.controls.opacity_value()
        self.canvas.set_overlay(heat_image(r["map"], opacity, r["signed"]),
                                canvas_rect(r["frame"], r["map"].shape[0]), 140 * opacity)

    def _failed(self, key, message):
        if key == KEY:
            self.result = None
            self.canvas.set_overlay(None)
            self.caption.setText(message)
            self.caption.show()
