"""Explanation overlays, the same in Inspect and on Draw's canvas (UI.md: CNN Explainer's habit).

``ExplainControls`` is the method picker (saliency, gradient x input, occlusion, Grad-CAM
with its layer), the class picker (the predicted class or any other) and the opacity
slider; ``heat_image`` turns a map into a translucent heat map (warm: for the class,
blue: against it, for the signed methods); ``ExplanationView`` shows an example with its
map over it. The maps themselves come from the session's background jobs
(``session.understanding.explain``), never from the GUI thread.
"""
import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QSizePolicy, QSlider, QToolTip, QWidget

from workbench.tasks.understand import METHODS
from workbench.views.colour import class_name, stored_qimage

# -- pictures -----------------------------------------------------------------------------------
WARM_LOW, WARM_HIGH = np.array([230, 50, 40.0]), np.array([255, 235, 70.0])
COOL_LOW, COOL_HIGH = np.array([50, 110, 255.0]), np.array([90, 220, 255.0])


def heat_rgba(m, opacity=0.7, signed=False):
    """``(H, W, 4)`` uint8: the map as a translucent heat map, scaled to its largest magnitude.

    Higher values are warmer (red to yellow) and more opaque; with ``signed``, negative
    values (evidence against the class) are blue. Zero is fully transparent.
    """
    m = np.asarray(m, dtype=np.float32)
    scale = float(np.max(np.abs(m))) if m.size else 0.0
    t = m / scale if scale > 0 else np.zeros_like(m)
    pos = np.clip(t, 0, 1)[..., None]
    neg = np.clip(-t, 0, 1)[..., None] if signed else np.zeros_like(pos)
    rgb = np.where(pos >= neg, WARM_LOW + (WARM_HIGH - WARM_LOW) * pos, COOL_LOW + (COOL_HIGH - COOL_LOW) * neg)
    strength = np.maximum(pos, neg)[..., 0]
    alpha = 255 * float(np.clip(opacity, 0, 1)) * strength ** 0.5
    return np.ascontiguousarray(np.dstack([rgb, alpha]).round().clip(0, 255).astype(np.uint8))


def heat_image(m, opacity=0.7, signed=False):
    """``heat_rgba`` as a QImage (RGBA, not premultiplied)."""
    a = heat_rgba(m, opacity, signed)
    h, w = a.shape[:2]
    return QImage(a.data, w, h, 4 * w, QImage.Format_RGBA8888).copy()


# -- the controls ----------------------------------------------------------------------------------
class ExplainControls(QWidget):
    """Method, class (and Grad-CAM's layer) and opacity of an explanation overlay.

    Signals
    -------
    changed : the method, class or layer changed (a new explanation is needed)
    opacityChanged(float) : only the opacity changed (redraw the same map)
    """

    changed = Signal()
    opacityChanged = Signal(float)

    def __init__(self, with_off=False, horizontal=False, parent=None):
        super().__init__(parent)
        self.method_box = QComboBox()
        self.method_box.setObjectName("explainMethod")
        if with_off:
            self.method_box.addItem("Off", None)
        for key, words in METHODS.items():
            self.method_box.addItem(words, key)
        self.method_box.setToolTip(
            "Saliency: how sensitive the class is to each pixel. Gradient × input: how much each "
            "pixel's ink adds to the class (blue: argues against it). Occlusion: how much the "
            "class's probability falls when a 3x3 square is blanked. Grad-CAM: which region of a "
            "conv layer's maps the class relies on (coarse).")
        self.class_box = QComboBox()
        self.class_box.setObjectName("explainClass")
        self.class_box.setToolTip("The class whose evidence is shown: the predicted one, or any other.")
        self.layer_box = QComboBox()
        self.layer_box.setObjectName("explainLayer")
        self.layer_box.setToolTip("The layer whose feature maps Grad-CAM weighs (default: the last conv).")
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setObjectName("explainOpacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(85)
        self.opacity.setToolTip("Opacity of the heat map.")
        self.layer_label = QLabel("Grad-CAM on" if not horizontal else "on")
        rows = (("Explain", self.method_box), ("for class" if not horizontal else "for", self.class_box),
                (self.layer_label, self.layer_box), ("Opacity" if not horizontal else "opacity", self.opacity))
        if horizontal:  # one row, under Draw's canvas
            lay = QHBoxLayout(self)
            for label, w in rows:
                lay.addWidget(label if isinstance(label, QLabel) else QLabel(label))
                lay.addWidget(w, 1 if w is self.opacity else 0)
            self.opacity.setMinimumWidth(60)
        else:
            lay = QFormLayout(self)
            for label, w in rows:
                lay.addRow(label, w)
        lay.setContentsMargins(0, 0, 0, 0)
        self._layers_key = None
        self.set_classes(None, 0)
        self._show_layer_row()
        self.method_box.currentIndexChanged.connect(self._method_changed)
        self.class_box.currentIndexChanged.connect(lambda _: self.changed.emit())
        self.layer_box.currentIndexChanged.connect(lambda _: self.changed.emit())
        self.opacity.valueChanged.connect(lambda v: self.opacityChanged.emit(v / 100))

    def _method_changed(self, _):
        self._show_layer_row()
        self.changed.emit()

    def _show_layer_row(self):
        on = self.method() == "grad_cam"
        self.layer_box.setVisible(on)
        self.layer_label.setVisible(on)

    # -- what it says --------------------------------------------------------------------------
    def method(self):
        return self.method_box.currentData()

    def cls(self):
        """The class to explain, or None for the predicted one."""
        return self.class_box.currentData()

    def layer(self):
        return self.layer_box.currentData()

    def opacity_value(self):
        return self.opacity.value() / 100

    def set_method(self, key):
        self.method_box.setCurrentIndex(max(0, self.method_box.findData(key)))

    # -- following the network and the data ---------------------------------------------------
    def set_classes(self, names, count):
        """Offer the predicted class and each of ``count`` classes, named by ``names``."""
        current = self.cls()
        self.class_box.blockSignals(True)
        self.class_box.clear()
        self.class_box.addItem("the predicted class", None)
        for k in range(count):
            self.class_box.addItem(class_name(names, k), k)
        i = self.class_box.findData(current) if current is not None else 0
        self.class_box.setCurrentIndex(max(0, i))
        self.class_box.blockSignals(False)

    def set_layers(self, weights):
        """Offer the layers Grad-CAM can weigh (conv and pool layers with a map), the last conv first chosen."""
        maps = [] if weights is None else [
            l for l in weights.layers[1:-1] if l["type"] in ("conv", "pool") and l["shape"][0] * l["shape"][1] > 1]
        layers = [(l["index"], f"{l['index']}. {l['type']} {l['shape'][0]}x{l['shape'][1]}x{l['shape'][2]}")
                  for l in maps]
        convs = [l["index"] for l in maps if l["type"] == "conv"]
        key = tuple(layers)
        if key == self._layers_key:
            return
        self._layers_key = key
        current = self.layer()
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        for index, words in layers:
            self.layer_box.addItem(words, index)
        pick = current if current in [i for i, _ in layers] else (convs[-1] if convs else None)
        self.layer_box.setCurrentIndex(max(0, self.layer_box.findData(pick)) if layers else -1)
        self.layer_box.blockSignals(False)
        self.method_box.model().item(self.method_box.findData("grad_cam")).setEnabled(bool(layers))


# -- an example with its explanation over it ----------------------------------------------------
class ExplanationView(QWidget):
    """An example's image, scaled up without smoothing, with the explanation's heat map over it.

    The dashed square is the centre the network sees when it crops. Hover reads the map.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("explanationView")
        self.setMinimumSize(160, 160)
        policy = QSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setMouseTracking(True)
        self.result = None
        self.image = None
        self.heat = None
        self.opacity = 0.7
        self._picture = None

    def sizeHint(self):
        return QSize(280, 280)

    def hasHeightForWidth(self):
        return True

    def heightForWidth(self, w):
        return w

    def set_result(self, result, opacity=None):
        """Show ``understand_tasks.explain_example``'s result (None: nothing)."""
        self.result = result
        if opacity is not None:
            self.opacity = opacity
        self.image = None if result is None else stored_qimage(result["pixels"])
        self._make_heat()

    def set_opacity(self, opacity):
        self.opacity = opacity
        self._make_heat()

    def _make_heat(self):
        r = self.result
        self.heat = None if r is None else heat_image(r["map"], self.opacity, r["signed"])
        self._picture = None
        self.update()

    def _rect(self):
        side = min(self.width(), self.height())
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def _compose(self, side):
        """The image, dimmed, with the heat map and the crop square over it, ``side`` px square.

        Made once per explanation (and size): repaints only copy it.
        """
        pm = QPixmap(side, side)
        pm.fill(self.palette().alternateBase().color())
        p = QPainter(pm)
        rect = QRectF(0, 0, side, side)
        if self.image is not None:
            p.setRenderHint(QPainter.SmoothPixmapTransform, False)
            p.drawImage(rect, self.image)
            p.fillRect(rect, QColor(0, 0, 0, int(140 * self.opacity)))  # dimmed, so that the heat reads
            p.drawImage(rect, self.heat)
            crop = self.result.get("crop")
            if crop:
                h, w = self.result["map"].shape
                s = side / w
                p.setPen(QPen(QColor("#3b82f6"), 1.5, Qt.DashLine))
                p.drawRect(QRectF((w - crop[1]) // 2 * s, (h - crop[0]) // 2 * s, crop[1] * s, crop[0] * s))
        p.setPen(QPen(self.palette().mid().color(), 1))
        p.drawRect(rect.adjusted(0, 0, -1, -1))
        p.end()
        return pm

    def paintEvent(self, e):
        rect = self._rect()
        side = int(rect.width())
        if side <= 0:
            return
        if self._picture is None or self._picture.width() != side:
            self._picture = self._compose(side)
        p = QPainter(self)
        p.drawPixmap(rect.topLeft(), self._picture)
        p.end()

    def mouseMoveEvent(self, e):
        r = self.result
        if r is None:
            return
        rect = self._rect()
        h, w = r["map"].shape
        pos = e.position()
        x, y = int((pos.x() - rect.left()) / rect.width() * w), int((pos.y() - rect.top()) / rect.height() * h)
        if 0 <= x < w and 0 <= y < h:
            QToolTip.showText(e.globalPosition().toPoint(), f"({x}, {y}): {r['map'][y, x]:.4g}", self)


def canvas_rect(frame, field=28):
    """Where the digit's ``field x field`` frame lies over the drawing, in the drawing's pixels
    (``to_mnist``'s ``frame``: ``field = a * drawing + b`` per axis)."""
    (ay, by), (ax, bx) = frame
    return QRectF(QPointF(-bx / ax, -by / ay), QPointF((field - bx) / ax, (field - by) / ay))
