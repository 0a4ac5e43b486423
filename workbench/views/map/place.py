"""The embedding map: a layer's activations for up to a few thousand images, laid out in 2-D.

A pyqtgraph scatter, one colour per class with a legend. Hover shows the image under the
mouse; a click opens it in Inspect; in Box or Lasso mode a drag selects points, whose
examples fill the gallery beside the map. The layout is computed by
``session.understanding.embed`` in the background (PCA at once, t-SNE in seconds, its
layout drawn as it forms), with progress and Cancel.
"""
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGraphicsPathItem,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.understand.embedding import MAX_POINTS
from workbench.views.colour import class_name, stored_qimage

from ..examples import ExampleGallery

#: Ten well-separated class colours (Tableau's), then evenly spaced hues.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
HOVER_PX = 8  # how near (screen pixels) the mouse must be to a point


def class_colors(count):
    if count <= len(PALETTE):
        return [QColor(c) for c in PALETTE[:count]]
    return [QColor.fromHsvF(k / count, 0.75, 0.85) for k in range(count)]


def inside(points, polygon):
    """Which ``points`` ``(N, 2)`` lie inside ``polygon`` ``(M, 2)`` (even-odd rule)."""
    x, y = points[:, 0], points[:, 1]
    result = np.zeros(len(points), bool)
    px, py = polygon[:, 0], polygon[:, 1]
    for i in range(len(polygon)):
        x1, y1, x2, y2 = px[i - 1], py[i - 1], px[i], py[i]
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        result ^= crosses & (x < xc)
    return result


class SelectViewBox(pg.ViewBox):
    """A view box whose left drag selects (a box or a lasso) instead of panning, when asked.

    ``selected(polygon)`` gives the shape in view coordinates, ``(M, 2)``.
    """

    def __init__(self, on_select, **kwargs):
        super().__init__(**kwargs)
        self.mode = "pan"
        self._on_select = on_select
        self._path = []
        self._shape = QGraphicsPathItem()
        self._shape.setPen(QPen(QColor("#3b82f6"), 0, Qt.DashLine))
        self._shape.setBrush(QColor(59, 130, 246, 40))
        self._shape.setZValue(1e9)
        self._shape.hide()
        self.addItem(self._shape, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None):
        if self.mode == "pan" or ev.button() != Qt.LeftButton:
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        start = self.mapSceneToView(ev.buttonDownScenePos(Qt.LeftButton))
        here = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            self._path = [start]
        if self.mode == "box":
            self._path = [start, QPointF(here.x(), start.y()), here, QPointF(start.x(), here.y())]
        else:
            self._path.append(here)
        path = QPainterPath(self._path[0])
        for p in self._path[1:]:
            path.lineTo(p)
        path.closeSubpath()
        self._shape.setPath(path)
        self._shape.show()
        if ev.isFinish():
            self._shape.hide()
            self._on_select(np.array([(p.x(), p.y()) for p in self._path]))


class EmbeddingMapPlace(QWidget):
    """The map, its controls, and the gallery of the selected examples.

    Signals
    -------
    openExample(object) : ``("test" | "train", index)`` to show in Inspect
    """

    openExample = Signal(object)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("embeddingMap")
        self.session = session
        self.result = None           # the layout shown (final or partial)
        self.selection = np.zeros(0, np.int64)  # rows of result selected
        self._last_draw = 0.0
        u = session.understanding
        # -- controls
        self.layer_box = QComboBox()
        self.layer_box.setObjectName("mapLayer")
        self.layer_box.setToolTip("Whose activations are laid out: the last hidden layer (the one the "
                                  "class scores are made from) separates the classes most.")
        self.images_box = QComboBox()
        self.images_box.setObjectName("mapImages")
        self.images_box.addItem("test images", "test")
        self.images_box.addItem("validation images", "validation")
        self.count = QSpinBox()
        self.count.setObjectName("mapCount")
        self.count.setRange(50, MAX_POINTS)
        self.count.setSingleStep(500)
        self.count.setValue(2000)
        self.count.setToolTip("How many images (the first of the set). t-SNE takes a few seconds for 2,000.")
        self.method_box = QComboBox()
        self.method_box.setObjectName("mapMethod")
        self.method_box.addItem("t-SNE", "tsne")
        self.method_box.addItem("PCA", "pca")
        self.method_box.setToolTip("t-SNE keeps neighbours together (seconds); PCA shows the two directions "
                                   "of most variance (instant).")
        self.button = QPushButton("Compute map")
        self.button.setObjectName("computeMap")
        self.button.setAutoDefault(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("cancelMap")
        self.cancel.setAutoDefault(False)
        self.cancel.hide()
        self.progress = QProgressBar()
        self.progress.setObjectName("mapProgress")
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        self.modes = QButtonGroup(self)
        mode_row = QHBoxLayout()
        mode_row.setSpacing(0)
        for key, words, tip in (("pan", "Pan", "Drag to pan, wheel to zoom, click a point to open it in Inspect."),
                                ("box", "Box", "Drag a rectangle to select the points in it."),
                                ("lasso", "Lasso", "Draw around the points to select.")):
            b = QToolButton()
            b.setText(words)
            b.setToolTip(tip)
            b.setCheckable(True)
            b.setObjectName(f"map{words}Mode")
            b.setProperty("mode", key)
            self.modes.addButton(b)
            mode_row.addWidget(b)
        self.modes.buttons()[0].setChecked(True)
        bar = QHBoxLayout()
        for w in (QLabel("Layer"), self.layer_box, self.count, self.images_box, QLabel("by"), self.method_box,
                  self.button, self.progress, self.cancel):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addLayout(mode_row)
        self.status = QLabel("Lay out how a layer sees the images: points close on the map are close to the "
                             "network. Press Compute map.")
        self.status.setObjectName("mapStatus")
        self.status.setTextFormat(Qt.PlainText)
        self.status.setWordWrap(True)
        # -- the plot
        self.view = SelectViewBox(self._select)
        self.view.setAspectLocked(True)
        self.plot = pg.PlotWidget(viewBox=self.view)
        self.plot.setObjectName("embeddingPlot")
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.legend = self.plot.addLegend(offset=(8, 8), labelTextSize="8pt")
        self.scatters = []           # one per class
        self._drawn_labels = None    # the labels the scatters were made for
        ring = self.palette().text().color()  # dark on a light theme, light on a dark one
        self.highlight = pg.ScatterPlotItem(size=11, pen=pg.mkPen(ring, width=1.5), brush=None)
        self.highlight.setZValue(10)
        self.view.addItem(self.highlight)
        self.thumb = QLabel(self.plot)
        self.thumb.setObjectName("mapThumbnail")
        self.thumb.setStyleSheet("QLabel { background: palette(base); border: 1px solid palette(mid); "
                                 "padding: 3px; }")
        self.thumb.setTextFormat(Qt.PlainText)
        self.thumb.hide()
        self.hovered = None          # row of result under the mouse
        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)
        self.plot.scene().sigMouseClicked.connect(self._mouse_clicked)
        # -- the selection
        self.selection_caption = QLabel("Select points (Box or Lasso) to see their images here.")
        self.selection_caption.setObjectName("mapSelectionCaption")
        self.selection_caption.setWordWrap(True)
        self.gallery = ExampleGallery("mapSelection")
        self.gallery.exampleActivated.connect(self.openExample)
        right = QWidget()
        r_lay = QVBoxLayout(right)
        r_lay.setContentsMargins(0, 0, 0, 0)
        r_lay.addWidget(self.selection_caption)
        r_lay.addWidget(self.gallery, 1)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.plot)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([760, 380])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(bar)
        lay.addWidget(self.status)
        lay.addWidget(split, 1)
        self._redraw_timer = QTimer(self, singleShot=True, interval=100)
        self._redraw_timer.timeout.connect(self._draw)
        # -- wiring
        self.button.clicked.connect(self.compute)
        self.cancel.clicked.connect(u.cancel_embedding)
        self.modes.buttonClicked.connect(lambda b: setattr(self.view, "mode", b.property("mode")))
        u.embedded.connect(self._embedded)
        u.embeddingPartial.connect(self._partial)
        u.embeddingFailed.connect(self._failed)
        u.embeddingProgress.connect(lambda f: self.progress.setValue(int(100 * f)))
        u.embeddingBusy.connect(self._busy)
        session.weightsChanged.connect(self._weights_changed)
        session.data.changed.connect(self._dataset_changed)
        if session.weights is not None:
            self._weights_changed(session.weights)

    # -- asking ---------------------------------------------------------------------------------------
    def set_mode(self, mode):
        for b in self.modes.buttons():
            if b.property("mode") == mode:
                b.setChecked(True)
        self.view.mode = mode

    def compute(self):
        """Lay out the chosen layer's activations of the chosen images."""
        if self.session.understanding.embed(self.images_box.currentData(), self.count.value(),
                                            self.layer_box.currentData(), self.method_box.currentData()):
            self.status.setText("Computing the map…")

    def _busy(self, busy):
        self.button.setEnabled(not busy)
        self.progress.setValue(0)
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)
        if not busy and self.status.text().startswith("Computing"):
            self.status.setText("Cancelled." + (" The map shows the layout so far." if self.result else ""))

    def _weights_changed(self, weights):
        layers = [(l["index"], f"{l['index']}. {l['type']} {l['shape'][0]}x{l['shape'][1]}x{l['shape'][2]} "
                               f"({l['shape'][0] * l['shape'][1] * l['shape'][2]:,} values)")
                  for l in weights.layers[:-1]]
        if [self.layer_box.itemData(i) for i in range(self.layer_box.count())] != [k for k, _ in layers]:
            self.layer_box.clear()
            for k, words in layers:
                self.layer_box.addItem(words, k)
            self.layer_box.setCurrentIndex(self.layer_box.findData(weights.default_layers()["hidden"]))
        r = self.result
        if r is not None and not r.get("partial") and r["version"] != weights.version:
            self.status.setText(self._summary(r) + " The network has changed since: compute again to see "
                                "how it sees the images now.")

    def _dataset_changed(self):
        self.result = None
        self.selection = np.zeros(0, np.int64)
        self._draw()
        self.gallery.clear()
        self.status.setText("The dataset changed: compute the map again.")

    # -- what comes back ---------------------------------------------------------------------------------
    def _names(self):
        return getattr(self.session.data.dataset, "class_names", None)

    def _summary(self, r):
        what = "test" if r["kind"] == "test" else "validation"
        method = "t-SNE" if r["method"] == "tsne" else "PCA"
        layer = self.layer_box.itemText(self.layer_box.findData(r["layer"])) if r["layer"] is not None else ""
        return (f"{len(r['points']):,} {what} images, layer {layer}, by {method}: "
                f"{r['knn']:.1%} of the points have mostly their own class among their 5 nearest on the "
                f"map ({r['seconds']:.1f} s).")

    def _embedded(self, r):
        self.result = r
        self.status.setText(self._summary(r))
        self._set_selection(np.zeros(0, np.int64))
        self._draw()
        self.view.autoRange(padding=0.05)

    def _partial(self, r):
        first = self.result is None or self.result.get("partial") is not True
        self.result = r
        if first:
            self._set_selection(np.zeros(0, np.int64))
        self.status.setText("Computing the map… (t-SNE: the layout as it forms)")
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def _failed(self, message):
        self.status.setText(f"Could not compute the map: {message}")

    def _draw(self):
        r = self.result
        if r is not None and self.scatters and self._drawn_labels is not None \
                and np.array_equal(self._drawn_labels, r["labels"]):
            # the same points moved (t-SNE's layout forming): new positions only
            for s in self.scatters:
                s.setData(r["points"][s.rows, 0], r["points"][s.rows, 1])
            self._draw_selection()
            if r.get("partial"):
                self.view.autoRange(padding=0.05)
            return
        for s in self.scatters:
            self.view.removeItem(s)
        self.scatters = []
        self.legend.clear()
        self._drawn_labels = None if r is None else r["labels"]
        if r is None:
            self.highlight.setData([], [])
            return
        pts, labels = r["points"], r["labels"]
        names = self._names()
        k = max(int(labels.max()) + 1 if len(labels) else 0, len(names or []))
        for c, color in enumerate(class_colors(k)):
            rows = np.flatnonzero(labels == c)
            if not len(rows):
                continue
            s = pg.ScatterPlotItem(pts[rows, 0], pts[rows, 1], size=5, pen=None, brush=pg.mkBrush(color),
                                   name=class_name(names, c))
            s.rows = rows
            self.view.addItem(s)
            self.legend.addItem(s, class_name(names, c))
            self.scatters.append(s)
        self._draw_selection()
        if r.get("partial"):
            self.view.autoRange(padding=0.05)

    # -- hover, click, select ---------------------------------------------------------------------------
    def nearest(self, view_pos):
        """Row of the point nearest ``view_pos`` (QPointF in view coordinates) within HOVER_PX, or None."""
        r = self.result
        if r is None or not len(r["points"]):
            return None
        px, py = self.view.viewPixelSize()
        d = ((r["points"][:, 0] - view_pos.x()) / px) ** 2 + ((r["points"][:, 1] - view_pos.y()) / py) ** 2
        k = int(np.argmin(d))
        return k if d[k] <= HOVER_PX ** 2 else None

    def _mouse_moved(self, scene_pos):
        if not self.view.sceneBoundingRect().contains(scene_pos):
            self.show_hover(None)
            return
        k = self.nearest(self.view.mapSceneToView(scene_pos))
        self.show_hover(k, self.plot.mapFromScene(scene_pos))

    def show_hover(self, row, where=None):
        """Show example ``row``'s image next to the mouse (None: hide it)."""
        self.hovered = row
        r = self.result
        if row is None or r is None:
            self.thumb.hide()
            return
        i = int(r["indices"][row])
        images = self.session.data.dataset.test.images if r["kind"] == "test" else self.session.data.dataset.train.images
        pm = QPixmap.fromImage(stored_qimage(images[i])).scaled(84, 84, Qt.KeepAspectRatio, Qt.FastTransformation)
        self.thumb.setPixmap(pm)
        self.thumb.setToolTip(f"{r['kind']} #{i}: {class_name(self._names(), int(r['labels'][row]))}")
        self.thumb.adjustSize()
        if where is None:
            spot = self.view.mapViewToScene(QPointF(*r["points"][row]))
            where = self.plot.mapFromScene(spot)
        x = min(where.x() + 14, self.plot.width() - self.thumb.width() - 2)
        y = min(where.y() + 14, self.plot.height() - self.thumb.height() - 2)
        self.thumb.move(int(x), int(y))
        self.thumb.show()
        self.thumb.raise_()

    def _mouse_clicked(self, ev):
        if ev.button() != Qt.LeftButton or self.view.mode != "pan" or self.result is None:
            return
        k = self.nearest(self.view.mapSceneToView(ev.scenePos()))
        if k is not None:
            self.open_row(k)

    def open_row(self, row):
        r = self.result
        self.openExample.emit((r["kind"], int(r["indices"][row])))

    def _select(self, polygon):
        r = self.result
        if r is None or len(polygon) < 3:
            return
        self._set_selection(np.flatnonzero(inside(r["points"], polygon)))

    def select_rect(self, rect):
        """Select the points inside ``rect`` (QRectF in view coordinates), as a box drag does."""
        self._select(np.array([(rect.left(), rect.top()), (rect.right(), rect.top()),
                               (rect.right(), rect.bottom()), (rect.left(), rect.bottom())]))

    def _set_selection(self, rows):
        self.selection = rows
        r = self.result
        self._draw_selection()
        if r is None or not len(rows):
            self.gallery.clear()
            self.selection_caption.setText("Select points (Box or Lasso) to see their images here.")
            return
        ds = self.session.data.dataset
        images = ds.test.images if r["kind"] == "test" else ds.train.images
        labels = ds.test.labels if r["kind"] == "test" else ds.train.labels
        probs = None
        if r.get("probs") is not None:  # per point: place them at their examples' rows
            probs = np.zeros((len(images), r["probs"].shape[1]), np.float32)
            probs[r["indices"]] = r["probs"]
        self.gallery.set_examples(images, r["indices"][rows], labels, probs, r["kind"], self._names())
        counts = np.bincount(r["labels"][rows])
        top = np.argsort(counts)[::-1][:3]
        names = self._names()
        mix = ", ".join(f"{counts[c]} × {class_name(names, int(c))}" for c in top if counts[c])
        self.selection_caption.setText(f"{len(rows):,} selected: {mix}. Click one to open it in Inspect.")

    def _draw_selection(self):
        r = self.result
        if r is None or not len(self.selection) or self.selection.max() >= len(r["points"]):
            self.highlight.setData([], [])
            return
        p = r["points"][self.selection]
        self.highlight.setData(p[:, 0], p[:, 1])
