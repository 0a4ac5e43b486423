"""Inspect's side panel: why the network said what it said about the example, and what its units want.

- **Explain**: the example (the one Inspect shows) with an explanation heat map over it:
  a method picker, the class to explain, Grad-CAM's layer and the opacity (the same
  controls as on Draw's canvas).
- **What units want**: for every class, or every filter of a chosen layer, an image made by
  gradient ascent that makes it fire, computed in the background with progress and Cancel.

Both ask ``session.understanding``; its background jobs do the work on published weights.
"""
from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.tasks.understand import METHODS
from workbench.views.colour import class_name, stored_qimage

from ..explain import ExplainControls, ExplanationView


def _names(session):
    return getattr(session.data.dataset, "class_names", None)


class ExplainPanel(QWidget):
    """The example Inspect shows, with an explanation map over it."""

    KEY = "inspect"

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("explainPanel")
        self.session = session
        self.source = None
        self.result = None
        self._stale = False
        self.controls = ExplainControls()
        self.view = ExplanationView()
        self.caption = QLabel("Choose an example to see which pixels the answer rests on.")
        self.caption.setObjectName("explanationCaption")
        self.caption.setTextFormat(Qt.PlainText)  # class names come from files
        self.caption.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.controls)
        lay.addWidget(self.view)
        lay.addWidget(self.caption)
        lay.addStretch(1)
        self.controls.changed.connect(self.request)
        self.controls.opacityChanged.connect(self.view.set_opacity)
        u = session.understanding
        u.explained.connect(self._explained)
        u.explainFailed.connect(self._failed)
        session.weightsChanged.connect(self._weights_changed)
        session.data.changed.connect(self._classes_changed)
        if session.weights is not None:
            self._weights_changed(session.weights)

    def _weights_changed(self, weights):
        self.controls.set_layers(weights)
        self._classes_changed()

    def _classes_changed(self):
        w = self.session.weights
        self.controls.set_classes(_names(self.session), w.num_outputs if w is not None else 0)

    def set_source(self, source):
        """Explain ``source`` (``("test" | "train" | "drawn", index)``) when on screen."""
        self.source = source
        self.request()

    def request(self):
        self._stale = True
        if self.source is None or not self.isVisible():
            return
        self._stale = False
        c = self.controls
        self.session.understanding.explain(self.source, c.method(), c.cls(),
                                           c.layer() if c.method() == "grad_cam" else None, self.KEY)

    def showEvent(self, e):
        super().showEvent(e)
        if self._stale:
            self.request()

    def _explained(self, r):
        if r["key"] != self.KEY or r["source"] != self.source:
            return
        self.result = r
        self.view.set_result(r, self.controls.opacity_value())
        names = _names(self.session)
        p = r["probs"]
        which = "predicted" if r["class"] == r["predicted"] else f"predicted {class_name(names, r['predicted'])}"
        label = f", label {class_name(names, r['label'])}" if r.get("label") is not None else ""
        layer = f" on layer {r['layer']}" if r["method"] == "grad_cam" and r["layer"] is not None else ""
        signed = " Warm: pixels for the class; blue: against it." if r["signed"] else ""
        self.caption.setText(f"{METHODS[r['method']]}{layer} for class {class_name(names, r['class'])} "
                             f"({which}, p = {p[r['class']]:.3f}) · {r['name']}{label} · "
                             f"{r['ms']:.1f} ms.{signed}")

    def _failed(self, key, message):
        if key == self.KEY:
            self.result = None
            self.view.set_result(None)
            self.caption.setText(message)


class UnitGrid(QWidget):
    """Images in a grid, scaled up without smoothing, each with a caption under it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("unitImagesGrid")
        self.images = []     # QImages
        self.captions = []
        self.tile = 72
        self.columns = 1

    def set_images(self, images, captions):
        """``images``: ``(U, H, W, C)`` floats in [0, 1]."""
        self.images = [stored_qimage(im) for im in images]
        self.captions = list(captions)
        self._layout()
        self.update()

    def clear(self):
        self.set_images([], [])

    def _layout(self):
        w = max(self.width(), self.tile + 8)
        self.columns = max(1, w // (self.tile + 8))
        rows = -(-len(self.images) // self.columns)
        self.setMinimumHeight(rows * (self.tile + 24) + 4)

    def sizeHint(self):
        return QSize(4 * (self.tile + 8), 2 * (self.tile + 24))

    def resizeEvent(self, e):
        super().resizeEvent(e)
        self._layout()

    def paintEvent(self, e):
        p = QPainter(self)
        p.setRenderHint(QPainter.SmoothPixmapTransform, False)
        pal = self.palette()
        f = p.font()
        f.setPointSizeF(f.pointSizeF() * 0.85)
        p.setFont(f)
        for k, (im, cap) in enumerate(zip(self.images, self.captions)):
            r, c = divmod(k, self.columns)
            x, y = 4 + c * (self.tile + 8), 4 + r * (self.tile + 24)
            p.drawImage(QRectF(x, y, self.tile, self.tile), im)
            p.setPen(pal.placeholderText().color())
            p.drawText(QRect(x - 4, y + self.tile + 2, self.tile + 8, 18), Qt.AlignCenter,
                       p.fontMetrics().elidedText(cap, Qt.ElideRight, self.tile + 8))
        p.end()


class UnitImagesPanel(QWidget):
    """What a unit wants: one image per class, or per filter of a layer, made in the background."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("unitImages")
        self.session = session
        self.last = None
        self.layer_box = QComboBox()
        self.layer_box.setObjectName("unitLayer")
        self.layer_box.setToolTip("Classes: an image that each class's score likes best. A layer: an "
                                  "image that makes each of its filters (channels) fire most.")
        self.button = QPushButton("Make images")
        self.button.setObjectName("makeUnitImages")
        self.button.setAutoDefault(False)
        self.button.setToolTip("Gradient ascent from a grey image, 200 steps with jitter, blur and a "
                               "little L2 decay (a fraction of a second for ten classes).")
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("cancelUnitImages")
        self.cancel.setAutoDefault(False)
        self.cancel.hide()
        self.progress = QProgressBar()
        self.progress.setObjectName("unitProgress")
        self.progress.setRange(0, 100)
        self.progress.hide()
        self.status = QLabel("What makes each class, or each filter of a layer, fire most: "
                             "choose and press Make images.")
        self.status.setObjectName("unitStatus")
        self.status.setTextFormat(Qt.PlainText)
        self.status.setWordWrap(True)
        self.grid = UnitGrid()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid)
        scroll.setFrameShape(QScrollArea.NoFrame)
        top = QHBoxLayout()
        top.addWidget(self.layer_box, 1)
        top.addWidget(self.button)
        busy = QHBoxLayout()
        busy.addWidget(self.progress, 1)
        busy.addWidget(self.cancel)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(top)
        lay.addLayout(busy)
        lay.addWidget(self.status)
        lay.addWidget(scroll, 1)
        self.button.clicked.connect(self.make)
        self.cancel.clicked.connect(session.understanding.cancel_unit_images)
        u = session.understanding
        u.unitImages.connect(self._show)
        u.unitImagesFailed.connect(self._failed)
        u.unitImagesProgress.connect(lambda f: self.progress.setValue(int(100 * f)))
        u.unitImagesBusy.connect(self._busy)
        session.weightsChanged.connect(self._weights_changed)
        if session.weights is not None:
            self._weights_changed(session.weights)

    def _weights_changed(self, weights):
        layers = [(None, "the classes")] + [
            (l["index"], f"{l['index']}. {l['type']} {l['shape'][0]}x{l['shape'][1]}x{l['shape'][2]} "
                         f"({l['shape'][2]} {'filters' if l['type'] == 'conv' else 'neurons'})")
            for l in weights.layers[1:-1] if l["type"] in ("conv", "fc")]
        if [self.layer_box.itemData(i) for i in range(self.layer_box.count())] != [k for k, _ in layers]:
            current = self.layer_box.currentData()
            self.layer_box.clear()
            for k, words in layers:
                self.layer_box.addItem(words, k)
            self.layer_box.setCurrentIndex(max(0, self.layer_box.findData(current)))
        if self.last is not None and self.last["version"] != weights.version:
            self.status.setText(self._summary(self.last) + " The network has changed since: make them again "
                                "to see what it wants now.")

    def make(self):
        if self.session.understanding.make_unit_images(self.layer_box.currentData()):
            self.status.setText("Making images…")

    def _busy(self, busy):
        self.button.setEnabled(not busy)
        self.progress.setValue(0)
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)
        if not busy and self.status.text() == "Making images…":
            self.status.setText("Cancelled.")

    def _summary(self, r):
        what = "class" if r["layer"] is None else f"filter of layer {r['layer']}"
        seen = r.get("examples_seen") or 0
        return (f"{r['units']} images, one per {what}, from the weights"
                f"{f' after {seen:,} training examples' if seen else ''} ({r['seconds']:.1f} s).")

    def _show(self, r):
        self.last = r
        names = getattr(self.session.data.dataset, "class_names", None)
        if r["layer"] is None:
            caps = [class_name(names, k) + (f" · {r['class_probs'][k]:.2f}" if r["class_probs"] is not None else "")
                    for k in range(r["units"])]
        else:
            caps = [f"filter {k}" for k in range(r["units"])]
        self.grid.set_images(r["images"], caps)
        self.status.setText(self._summary(r) + (" Under each class: the probability the network gives "
                                                "its image." if r["class_probs"] is not None else ""))

    def _failed(self, message):
        self.status.setText(f"Could not make the images: {message}")


class InspectSidePanel(QTabWidget):
    """Explain and What units want, side by side with Inspect's layers."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("inspectSide")
        self.setDocumentMode(True)
        self.explain = ExplainPanel(session)
        self.units = UnitImagesPanel(session)
        self.addTab(self.explain, "Explain")
        self.addTab(self.units, "What units want")
        self.setMinimumWidth(260)
