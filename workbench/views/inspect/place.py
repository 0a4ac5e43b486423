"""Network internals, as ConvNetJS's visualisation: one row per layer, made zoomable.

Each row has a title strip (type, volume, min/max activation and gradient,
parameters), the activation volume as a grid of feature maps (RGB for a 3-channel
input), the activation gradients, and for conv layers the filters and their
gradients (fc layers: the weights as an image). Everything drawn comes from a
``network_state`` dict of plain numpy copies, made by the session's Inspect job
from a trace of published weights: never from live layers.
"""
import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from workbench.tasks.viz import mosaic
from workbench.views.colour import class_name, named, rgb_mosaic, rgb_tiles, unit_qimage

PAD = 1


def _lut(name):
    if name == "grey":
        g = np.arange(256, dtype=np.uint8)
        return np.stack([g, g, g], 1)
    return pg.colormap.get(name).getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)


DIVERGING = None


def _diverging():
    global DIVERGING
    if DIVERGING is None:
        t = np.linspace(-1, 1, 256)[:, None]
        neg = np.array([59, 110, 220])
        pos = np.array([220, 70, 60])
        white = np.array([245, 245, 245])
        DIVERGING = np.where(t < 0, white + (neg - white) * -t, white + (pos - white) * t).astype(np.uint8)
    return DIVERGING


def to_qimage(img, lo, hi, lut):
    """Float 2-D image (NaN = padding) to an RGB QImage with a 256-entry lookup table."""
    finite = np.isfinite(img)
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    idx = np.clip((np.where(finite, img, lo) - lo) * scale, 0, 255).astype(np.uint8)
    rgb = lut[idx]
    rgb[~finite] = (128, 128, 128)
    rgb = np.ascontiguousarray(rgb)
    h, w = img.shape
    q = QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888)
    return q.copy()


class MosaicWidget(QWidget):
    """A grid of small maps (one per channel), scaled up without smoothing.

    Hover shows the map's index and the value under the mouse; a click emits
    ``tileClicked(k)``.
    """

    tileClicked = Signal(int)

    def __init__(self, caption, parent=None):
        super().__init__(parent)
        self.caption = caption
        self.maps = None
        self.image = None
        self.scale = 2
        self.columns = 1
        self.tile = (1, 1)
        self.setMouseTracking(True)

    def set_maps(self, maps, lo, hi, lut, zoom, columns=None, min_tile=10):
        """``maps``: (h, w, n) floats, or (h, w, 3) uint8-like RGB with ``lut=None``."""
        self.maps = maps
        h, w, n = maps.shape
        self.tile = (h, w)
        self.scale = max(1, int(zoom * max(1, int(np.ceil(min_tile / max(h, w))))))
        if lut is None:  # RGB input volume
            rgb = np.ascontiguousarray(np.clip((maps - lo) / (hi - lo or 1) * 255, 0, 255).astype(np.uint8))
            self.image = QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()
            self.columns = 1
        else:
            self.columns = columns or int(np.ceil(np.sqrt(n)))
            self.image = to_qimage(mosaic(maps, PAD, self.columns), lo, hi, lut)
        self.setFixedSize(self.sizeHint())
        self.update()

    def set_rgb_tiles(self, values, zoom, columns=None, min_tile=14):
        """Colour filters ``(n, h, w, 3)`` as colour pictures, each scaled to its own range
        (hover reads the three values)."""
        n, h, w, _ = values.shape
        self.maps = values.transpose(1, 2, 0, 3)  # (h, w, n, 3): tile k at [:, :, k]
        self.tile = (h, w)
        self.scale = max(1, int(zoom * max(1, int(np.ceil(min_tile / max(h, w))))))
        self.columns = columns or int(np.ceil(np.sqrt(n)))
        self.image = unit_qimage(rgb_mosaic(rgb_tiles(values), PAD, self.columns))
        self.setFixedSize(self.sizeHint())
        self.update()

    def sizeHint(self):
        if self.image is None:
            return QSize(10, 10)
        return QSize(self.image.width() * self.scale, self.image.height() * self.scale + 16)

    def paintEvent(self, e):
        if self.image is None:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.SmoothPixmapTransform, False)
        p.drawImage(QRect(0, 16, self.image.width() * self.scale, self.image.height() * self.scale),
                    self.image)
        p.setPen(self.palette().placeholderText().color())
        f = p.font()
        f.setPointSizeF(f.pointSizeF() * 0.85)
        p.setFont(f)
        p.drawText(QRect(0, 0, self.width(), 16), Qt.AlignLeft | Qt.AlignVCenter, self.caption)
        p.end()

    def tile_at(self, pos):
        if self.maps is None or pos.y() < 16:
            return None
        h, w = self.tile
        x, y = pos.x() // self.scale, (pos.y() - 16) // self.scale
        c, r = x // (w + PAD), y // (h + PAD)
        ix, iy = x % (w + PAD), y % (h + PAD)
        if ix >= w or iy >= h or c >= self.columns:
            return None
        k = r * self.columns + c
        if self.maps.shape[2] == 3 and self.columns == 1 and k == 0:
            return 0, iy, ix
        if k >= self.maps.shape[2]:
            return None
        return k, iy, ix

    def mouseMoveEvent(self, e):
        hit = self.tile_at(e.position().toPoint())
        if hit is None:
            QToolTip.hideText()
            return
        k, y, x = hit
        v = self.maps[y, x, k]
        text = (f"{v:.4g}" if np.ndim(v) == 0 else "R, G, B " + ", ".join(f"{c:.4g}" for c in v))
        QToolTip.showText(e.globalPosition().toPoint(), f"{self.caption} map {k}, ({x}, {y}): {text}", self)

    def mousePressEvent(self, e):
        hit = self.tile_at(e.position().toPoint())
        if hit is not None:
            self.tileClicked.emit(hit[0])


class TileDialog(QDialog):
    """One map, large, with its values on hover (pyqtgraph ImageView)."""

    def __init__(self, title, image, parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        view = pg.ImageView()
        view.ui.roiBtn.hide()
        view.ui.menuBtn.hide()
        if image.ndim == 3:  # a colour filter: (h, w, 3)
            view.setImage(rgb_tiles(image[None])[0].transpose(1, 0, 2), axes={"x": 0, "y": 1, "c": 2},
                          levels=(0, 1))
        else:
            view.setImage(image.T, autoLevels=True)
        self.value = QLabel("Hover over the map to read values.")
        view.getImageItem().hoverEvent = self._hover(image)
        lay = QVBoxLayout(self)
        lay.addWidget(view)
        lay.addWidget(self.value)
        self.resize(520, 560)

    def _hover(self, image):
        def hover(ev):
            if ev.isExit():
                return
            p = ev.pos()
            x, y = int(p.x()), int(p.y())
            if 0 <= y < image.shape[0] and 0 <= x < image.shape[1]:
                v = image[y, x]
                text = f"{v:.6g}" if np.ndim(v) == 0 else "R, G, B " + ", ".join(f"{c:.6g}" for c in v)
                self.value.setText(f"({x}, {y}): {text}")
        return hover


def colour_filters(entry):
    """A conv layer reading the colour input directly: its filters are colour pictures."""
    return entry["type"] == "conv" and entry["index"] == 1 and entry["filters"].shape[3] == 3


class LayerRow(QWidget):
    """One layer: a title strip and its activations, gradients and weights."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("layerRow")
        self.title = QLabel()
        self.title.setObjectName("layerTitle")
        self.title.setTextFormat(Qt.RichText)
        self.title.setWordWrap(True)  # a narrow view wraps the strip between its parts, never cuts it
        self.act = MosaicWidget("activations")
        self.grad = MosaicWidget("gradients")
        self.filters = MosaicWidget("filters")
        self.filter_grads = MosaicWidget("filter gradients")
        self.entry = None
        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(16)
        for w in (self.act, self.grad, self.filters, self.filter_grads):
            body.addWidget(w, 0, Qt.AlignTop)
            w.tileClicked.connect(lambda k, w=w: self._open(w, k))
        body.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 10)
        lay.addWidget(self.title)
        lay.addLayout(body)

    def show_entry(self, e, zoom, lut):
        self.entry = e
        sx, sy, d = e["shape"]
        lo, hi = e["act_range"]
        grad = e["grad_range"]
        gtext = f"grad [{grad[0]:.3g}, {grad[1]:.3g}]" if grad else "grad –"
        def part(text):  # a part of the strip is never broken; the strip breaks between parts
            return html.escape(text).replace(" ", "&nbsp;")

        parts = [f"<b>{part(str(e['index']) + '. ' + e['type'])}</b>&nbsp; {sx}x{sy}x{d}",
                 part(f"act [{lo:.3g}, {hi:.3g}]"), part(gtext), part(f"{e['params']:,} params")]
        self.title.setText("&nbsp;· ".join(parts) +
                           f" &nbsp;<span style='color:gray'>{html.escape(e['description'])}</span>")
        act = e["act"]
        rgb = e["type"] == "input" and d == 3
        cols = min(d, 16) if sx == sy == 1 else None
        if rgb:  # the picture's own colours: the network sees p/255 - 0.5
            lo, hi = -0.5, 0.5
        self.act.set_maps(act, lo, hi, None if rgb else lut, zoom, cols)
        if e["grad"] is not None:
            m = float(np.max(np.abs(e["grad"]))) or 1.0
            self.grad.set_maps(e["grad"], -m, m, _diverging(), zoom, cols)
            self.grad.show()
        else:
            self.grad.hide()
        if "filters" in e and colour_filters(e):
            self._show_colour_filters(e, zoom)
        elif "filters" in e:
            f = e["filters"]  # (n, sy, sx, depth): show each filter's first channels as maps
            n, fy, fx, fd = f.shape
            self.filters.caption = "filters"
            self.filters.setToolTip("")
            maps = f.transpose(1, 2, 0, 3).reshape(fy, fx, n * fd)
            m = float(np.max(np.abs(f))) or 1.0
            self.filters.set_maps(maps, -m, m, _diverging(), zoom, columns=fd if fd > 1 else None, min_tile=14)
            self.filters.show()
            if e.get("filter_grads") is not None:
                g = e["filter_grads"].transpose(1, 2, 0, 3).reshape(fy, fx, n * fd)
                gm = float(np.max(np.abs(g))) or 1.0
                self.filter_grads.set_maps(g, -gm, gm, _diverging(), zoom, columns=fd if fd > 1 else None, min_tile=14)
                self.filter_grads.show()
            else:
                self.filter_grads.hide()
        elif "weights" in e:
            w = e["weights"]
            iy, ix, idp = e["in_shape"]
            if idp == 1 and iy * ix > 1:
                maps = w.reshape(-1, iy, ix).transpose(1, 2, 0)  # each neuron's weights as an image
                self.filters.caption = "weights (one map per neuron)"
            else:
                maps = w[:, :, None] if w.shape[1] <= 512 else w[:, :512, None]
                self.filters.caption = "weights (neurons x inputs)"
            m = float(np.max(np.abs(w))) or 1.0
            self.filters.set_maps(maps, -m, m, _diverging(), zoom, min_tile=2 if maps.shape[2] == 1 else 14)
            self.filters.show()
            self.filter_grads.hide()
        else:
            self.filters.hide()
            self.filter_grads.hide()

    def _show_colour_filters(self, e, zoom):
        """The first conv on colour images: each filter as a colour picture; gradients per channel."""
        f = e["filters"]
        n, fy, fx, fd = f.shape
        self.filters.caption = "filters (colour)"
        self.filters.setToolTip("Each filter as a colour picture, scaled to its own range.")
        self.filters.set_rgb_tiles(f, zoom)
        self.filters.show()
        if e.get("filter_grads") is not None:
            g = e["filter_grads"].transpose(1, 2, 0, 3).reshape(fy, fx, n * fd)
            gm = float(np.max(np.abs(g))) or 1.0
            self.filter_grads.set_maps(g, -gm, gm, _diverging(), zoom, columns=fd, min_tile=14)
            self.filter_grads.show()
        else:
            self.filter_grads.hide()

    def _open(self, widget, k):
        maps = widget.maps
        if maps is None:
            return
        img = maps[:, :, k] if maps.shape[2] > k else maps[:, :, 0]
        TileDialog(f"{self.entry['index']}. {self.entry['type']}: {widget.caption} {k}", img, self).show()


def summary_text(state, names=None):
    """The example, its label and the top three predictions, classes by name (rich text, names escaped)."""
    p = state["probs"]
    top = np.argsort(p)[::-1][:3]

    def n(k):
        return html.escape(class_name(names, k))

    label = f", label {n(state['label'])}" if state.get("label") is not None else ""
    head = f"{html.escape(state['source'])}{label}: predicted <b>{n(state['predicted'])}</b> "
    if named(names):  # names are long: the winner's probability, then the runner-up
        nxt = f" (next: {n(top[1])} {p[top[1]]:.2f})" if len(top) > 1 else ""
        return head + f"{p[top[0]]:.2f}{nxt}"
    return head + " ".join(f"{n(k)}:{p[k]:.2f}" for k in top)


class NetworkView(QWidget):
    """All layers of the network for one example; choose the example and zoom.

    With a session it asks for fresh pictures whenever the weights change or
    another example is chosen, but only while it is on screen (new weights come
    about once a second while training); hidden, it only remembers to.
    """

    def __init__(self, session=None, parent=None):
        super().__init__(parent)
        self.setObjectName("networkView")
        self.session = session
        self.state = None
        self.rows = []
        self._stale = True
        self.source = QComboBox()
        self.source.addItem("test example", "test")
        self.source.addItem("training example", "train")
        self.source.addItem("drawn digit", "drawn")
        self.source.setToolTip("Which example runs through the network.")
        self.index = QSpinBox()
        self.index.setRange(0, 59999)
        self.index.setToolTip("Index of the example in its set.")
        rnd = QPushButton("Random")
        rnd.setAutoDefault(False)
        rnd.clicked.connect(lambda: self.index.setValue(int(np.random.randint(0, self._example_count()))))
        self.zoom = QSlider(Qt.Horizontal)
        self.zoom.setRange(1, 6)
        self.zoom.setValue(2)
        self.zoom.setMaximumWidth(140)
        self.zoom.setToolTip("Zoom (also Ctrl+wheel).")
        self.cmap = QComboBox()
        self.cmap.addItems(["grey", "viridis", "inferno"])
        self.cmap.setToolTip("Colour map of the activations (gradients and weights: blue negative, red positive).")
        self.summary = QLabel()
        self.summary.setObjectName("inspectSummary")
        self.summary.setWordWrap(True)  # else its text sets the window's minimum width
        bar = QHBoxLayout()
        for w in (QLabel("Example"), self.source, self.index, rnd, QLabel("Zoom"), self.zoom,
                  QLabel("Colours"), self.cmap):
            bar.addWidget(w)
        self.summary.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        bar.addWidget(self.summary, 1)  # the room left, so that it wraps only when it must
        self.inner = QWidget()
        self.inner_lay = QVBoxLayout(self.inner)
        self.inner_lay.setContentsMargins(4, 4, 4, 4)
        self.inner_lay.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.inner)
        self.scroll.viewport().installEventFilter(self)  # the titles wrap to the width in view
        self.placeholder = QLabel("Press Train, or open a snapshot, to see the network's activations "
                                  "and filters here.")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(bar)
        lay.addWidget(self._with_side_panel(self.placeholder, self.scroll), 1)
        self.scroll.hide()
        self.source.currentIndexChanged.connect(self._example_changed)
        self.index.valueChanged.connect(self._example_changed)
        self.zoom.valueChanged.connect(lambda _: self.redraw())
        self.cmap.currentTextChanged.connect(lambda _: self.redraw())
        if session is not None:
            session.predictions.inspected.connect(self.show_state)
            session.predictions.inspectFailed.connect(self.show_message)
            session.weightsChanged.connect(self._refresh)
            session.data.changed.connect(self._dataset_changed)

    def _example_count(self):
        if self.session is None:
            return 10000
        ds = self.session.data.dataset
        return max(1, len(ds.test if self.source.currentData() == "test" else ds.train))

    def example_source(self):
        return (self.source.currentData(), self.index.value())

    def _example_changed(self, *_):
        self.index.setEnabled(self.source.currentData() != "drawn")
        self._refresh()

    def show_example(self, source):
        """Show ``("test" | "train" | "drawn", index)``: the Draw place's "Show in network"."""
        kind, index = source
        self.source.blockSignals(True)
        self.index.blockSignals(True)
        self.source.setCurrentIndex(self.source.findData(kind))
        self.index.setValue(int(index))
        self.index.setEnabled(kind != "drawn")
        self.source.blockSignals(False)
        self.index.blockSignals(False)
        self._refresh()

    def _refresh(self):
        """Ask for pictures of the chosen example on the latest weights, now if on screen, else when shown."""
        self._stale = True
        if self.session is not None and self.isVisible():
            self._stale = False
            self.session.predictions.inspect(self.example_source())
            self.side.explain.set_source(self.example_source())

    def showEvent(self, e):
        super().showEvent(e)
        if self._stale:
            self._refresh()

    def show_message(self, text):
        self.state = None
        self.scroll.hide()
        self.placeholder.setText(text)
        self.placeholder.show()

    def wheelEvent(self, e):
        if e.modifiers() & Qt.ControlModifier:
            self.zoom.setValue(self.zoom.value() + (1 if e.angleDelta().y() > 0 else -1))
            e.accept()
        else:
            super().wheelEvent(e)

    def show_state(self, state):
        self.state = state
        self.redraw()

    def redraw(self):
        st = self.state
        if st is None:
            return
        self.placeholder.hide()
        self.scroll.show()
        layers = st["layers"]
        while len(self.rows) < len(layers):
            row = LayerRow()
            self.inner_lay.insertWidget(len(self.rows), row)
            self.rows.append(row)
        for k, row in enumerate(self.rows):
            row.setVisible(k < len(layers))
        lut = _lut(self.cmap.currentText())
        zoom = self.zoom.value()
        for row, e in zip(self.rows, layers):
            row.show_entry(e, zoom, lut)
        self._fit_titles()
        self.summary.setText(summary_text(st, self._class_names()))

    def _fit_titles(self):
        """Each row's title strip as wide as the view shows (a wide row, the fc layer's weights,
        scrolls sideways: its title would be cut at the view's edge), wrapping between its parts."""
        room = self.scroll.viewport().width() - self.inner_lay.contentsMargins().left() - 16
        for row in self.rows:
            row.title.setMaximumWidth(max(200, room))

    def eventFilter(self, obj, e):
        if e.type() == QEvent.Resize and obj is self.scroll.viewport():
            self._fit_titles()
        return super().eventFilter(obj, e)

    def _class_names(self):
        return None if self.session is None else self.session.data.dataset.class_names

    def _dataset_changed(self):
        """Another dataset: its examples, as many as it has."""
        ds = self.session.data.dataset
        self.index.setMaximum(max(len(ds.train), len(ds.test)) - 1)
        colour = ds.image_shape[2] == 3  # Draw tests pictures, not drawings
        self.source.setItemText(self.source.findData("drawn"), "your picture" if colour else "drawn digit")
        self._refresh()

    # -- the side panel: explanations and unit images (issue #14) -----------------------------------
    def add_side_tab(self, widget, title):
        """A slot in the side panel: ``widget`` as one more tab, called ``title`` (the coach's
        diagnostics). False when this view has no side panel (no session)."""
        if self.side is None:
            return False
        self.side.addTab(widget, title)
        return True

    def _with_side_panel(self, *left):
        """The layers (``left``) beside Inspect's side panel (Explain, What units want), in a splitter."""
        from PySide6.QtWidgets import QSplitter

        from workbench.views.inspect.side import InspectSidePanel
        box = QWidget()
        box_lay = QVBoxLayout(box)
        box_lay.setContentsMargins(0, 0, 0, 0)
        for w in left:
            box_lay.addWidget(w, 1 if w is left[-1] else 0)
        self.side = None
        if self.session is None:
            return box
        split = QSplitter(Qt.Horizontal)
        split.setObjectName("inspectSplitter")
        self.side = InspectSidePanel(self.session)
        split.addWidget(box)
        split.addWidget(self.side)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        split.setSizes([760, 320])
        return split
