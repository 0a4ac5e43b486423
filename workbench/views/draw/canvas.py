"""The Draw place's widgets: the canvas, the image the network sees, the probability bars."""
import pathlib

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QImageReader, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from engine.core.io import check_readable
from engine.data.digits import resize
from workbench.views.colour import class_name, named, pixels_qimage

SIZE = 280  # the canvas's own resolution (10x MNIST)


def canvas_pixels(image):
    """What the canvas holds, and ``image()`` gives back, after ``set_image(image)``: the picture
    centred on a square, scaled to the canvas (SIZE x SIZE) and stored as 8-bit grey (floats)."""
    h, w = image.shape
    s = max(h, w)
    square = np.zeros((s, s), np.float32)
    square[(s - h) // 2:(s - h) // 2 + h, (s - w) // 2:(s - w) // 2 + w] = image
    grey = np.clip(resize(square, SIZE, SIZE) * 255, 0, 255).astype(np.uint8)
    return grey.astype(np.float32) / 255.0


class DigitCanvas(QWidget):
    """A square canvas with a soft, anti-aliased round brush (mouse and tablet).

    ``image()`` gives the drawing as floats in [0, 1], ink high. Strokes can be
    undone one by one; ``clear`` empties it.
    """

    changed = Signal()      # during a stroke, and after any change
    strokeFinished = Signal()
    overlay = None          # (QImage, QRectF in the drawing's pixels): an explanation over the drawing
    overlay_dim = 120       # how much the ink is dimmed under it (0-255)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("drawCanvas")
        self.setMinimumSize(200, 200)
        self.setAttribute(Qt.WA_StaticContents)
        self.setCursor(Qt.CrossCursor)
        self.setFocusPolicy(Qt.StrongFocus)
        self.width_px = 22.0      # brush diameter in canvas pixels
        self.strokes = []         # list of (width, [QPointF, ...]) in canvas coordinates
        self.background = None    # an opened image (float SIZE x SIZE) under the strokes
        self._current = None
        self._img = QImage(SIZE, SIZE, QImage.Format_Grayscale8)
        self._render()
        self.setToolTip("Draw a digit. Backspace undoes the last stroke, Esc clears.")

    def sizeHint(self):
        return QSize(420, 420)

    def hasHeightForWidth(self):
        return True

    def heightForWidth(self, w):
        return w

    # -- the drawing --------------------------------------------------------------------
    def _side(self):
        return min(self.width(), self.height())

    def _to_canvas(self, pos):
        side = self._side()
        ox, oy = (self.width() - side) / 2, (self.height() - side) / 2
        return QPointF((pos.x() - ox) * SIZE / side, (pos.y() - oy) * SIZE / side)

    def _pen(self, width):
        pen = QPen(QColor(255, 255, 255), width, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin)
        return pen

    def _draw_stroke(self, p, width, points):
        p.setPen(self._pen(width))
        if len(points) == 1:
            p.setBrush(QColor(255, 255, 255))
            p.setPen(Qt.NoPen)
            p.drawEllipse(points[0], width / 2, width / 2)
            return
        path = QPainterPath(points[0])
        for pt in points[1:]:
            path.lineTo(pt)
        p.drawPath(path)

    def _render(self):
        if self.background is not None:
            bg = np.ascontiguousarray(np.clip(self.background * 255, 0, 255).astype(np.uint8))
            self._img = QImage(bg.data, SIZE, SIZE, SIZE, QImage.Format_Grayscale8).copy()
        else:
            self._img.fill(0)
        p = QPainter(self._img)
        p.setRenderHint(QPainter.Antialiasing)
        for width, points in self.strokes:
            self._draw_stroke(p, width, points)
        p.end()
        self.update()

    def image(self):
        """The drawing as a (SIZE, SIZE) float32 array in [0, 1], ink high."""
        ptr = self._img.constBits()
        a = np.frombuffer(ptr, np.uint8, self._img.bytesPerLine() * SIZE).reshape(SIZE, -1)[:, :SIZE]
        return a.astype(np.float32) / 255.0

    def is_empty(self):
        return not self.strokes and self.background is None

    def clear(self):
        self.strokes = []
        self.background = None
        self._current = None
        self._render()
        self.changed.emit()
        self.strokeFinished.emit()

    def undo_stroke(self):
        if self.strokes:
            self.strokes.pop()
            self._render()
            self.changed.emit()
            self.strokeFinished.emit()

    def set_image(self, image):
        """Show ``image`` (2-D floats in [0, 1], ink high, any size) as the drawing."""
        self.background = canvas_pixels(image)
        self.strokes = []
        self._render()
        self.changed.emit()
        self.strokeFinished.emit()

    def draw_stroke(self, points, width=None):
        """Add a stroke through ``points`` (``(x, y)`` as fractions of the canvas), as if drawn."""
        pts = [QPointF(x * SIZE, y * SIZE) for x, y in points]
        if pts:
            self.strokes.append((self.width_px if width is None else width, pts))
            self._render()
            self.changed.emit()
            self.strokeFinished.emit()

    # -- input --------------------------------------------------------------------------
    def _begin(self, pos, pressure=1.0):
        self._current = (self.width_px * (0.5 + 0.5 * pressure), [self._to_canvas(pos)])
        self.strokes.append(self._current)
        self._render_last()

    def _extend(self, pos):
        if self._current is None:
            return
        pt = self._to_canvas(pos)
        pts = self._current[1]
        if (pt - pts[-1]).manhattanLength() < 0.5:
            return
        p = QPainter(self._img)
        p.setRenderHint(QPainter.Antialiasing)
        p.setPen(self._pen(self._current[0]))
        p.drawLine(pts[-1], pt)
        p.end()
        pts.append(pt)
        self.update()
        self.changed.emit()

    def _render_last(self):
        p = QPainter(self._img)
        p.setRenderHint(QPainter.Antialiasing)
        self._draw_stroke(p, *self._current)
        p.end()
        self.update()
        self.changed.emit()

    def _end(self):
        if self._current is not None:
            self._current = None
            self._render()  # redraw the whole stroke as one path (smooth joins)
            self.changed.emit()
            self.strokeFinished.emit()

    def mousePressEvent(self, e):
        if e.button() == Qt.LeftButton:
            self._begin(e.position())

    def mouseMoveEvent(self, e):
        if e.buttons() & Qt.LeftButton:
            self._extend(e.position())

    def mouseReleaseEvent(self, e):
        if e.button() == Qt.LeftButton:
            self._end()

    def tabletEvent(self, e):
        t = e.type()
        if t == e.Type.TabletPress:
            self._begin(e.position(), e.pressure())
        elif t == e.Type.TabletMove and self._current is not None:
            self._extend(e.position())
        elif t == e.Type.TabletRelease:
            self._end()
        e.accept()

    def keyPressEvent(self, e):
        if e.key() == Qt.Key_Escape:
            self.clear()
        elif e.key() == Qt.Key_Backspace:
            self.undo_stroke()
        else:
            super().keyPressEvent(e)

    def paintEvent(self, e):
        p = QPainter(self)
        side = self._side()
        rect = QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)
        p.setRenderHint(QPainter.SmoothPixmapTransform)
        p.drawImage(rect, self._img)
        self._paint_overlay(p, rect)
        p.setPen(QPen(self.palette().mid().color(), 1))
        p.drawRect(rect.adjusted(0, 0, -1, -1))
        if self.is_empty():
            p.setPen(QColor(140, 140, 140))
            p.drawText(rect, Qt.AlignCenter, "draw a digit here")
        p.end()

    # -- an explanation's heat map over the drawing (issue #14) ------------------------------
    def set_overlay(self, image, rect=None, dim=120):
        """Lay ``image`` over the drawing at ``rect`` (the drawing's pixels, 0..SIZE), the drawing
        dimmed by ``dim`` (0-255) under it; None: none."""
        self.overlay = None if image is None else (image, QRectF(rect))
        self.overlay_dim = dim
        self._overlay_scaled = None
        self.update()

    def _paint_overlay(self, p, rect):
        if self.overlay is None or self.is_empty():
            return
        image, where = self.overlay
        s = rect.width() / SIZE
        target = QRectF(rect.left() + where.left() * s, rect.top() + where.top() * s,
                        where.width() * s, where.height() * s)
        # Scaled smoothly once per overlay and size, not at every repaint (the pen repaints
        # the canvas 60 times a second; a smooth scale to its size costs milliseconds).
        size = target.size().toSize()
        cached = getattr(self, "_overlay_scaled", None)
        if cached is None or cached[0] != size:
            cached = self._overlay_scaled = (size, QPixmap.fromImage(
                image.scaled(size, Qt.IgnoreAspectRatio, Qt.SmoothTransformation)))
        p.save()
        p.setClipRect(rect)
        if self.overlay_dim:
            p.fillRect(rect, QColor(0, 0, 0, int(self.overlay_dim)))  # the ink dimmed: the heat reads
        p.drawPixmap(target.topLeft(), cached[1])
        p.restore()


class PixelView(QWidget):
    """The 28x28 (or cropped) image the network sees, scaled up, pixelated."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("networkInput")
        self.setFixedSize(140, 140)
        self.pixels = np.zeros((28, 28), np.float32)
        self.crop = None

    def set_pixels(self, pixels, crop=None):
        self.pixels, self.crop = pixels, crop
        self.update()

    def paintEvent(self, e):
        a = self.pixels if self.pixels.dtype == np.uint8 else np.clip(self.pixels, 0, 1) * 255
        q = pixels_qimage(a)  # a drawn digit (floats in [0, 1]) or a picture (uint8, grey or colour)
        h, w = a.shape[:2]
        s = min(self.width() / w, self.height() / h)  # the aspect kept, centred
        r = QRectF((self.width() - w * s) / 2, (self.height() - h * s) / 2, w * s, h * s)
        p = QPainter(self)
        p.setRenderHint(QPainter.SmoothPixmapTransform, False)
        p.drawImage(r, q)
        if self.crop:  # the centre crop, as engine.data.center_crop takes it
            oy, ox = (h - self.crop) // 2, (w - self.crop) // 2
            p.setPen(QPen(QColor("#3b82f6"), 1.5, Qt.DashLine))
            p.drawRect(QRectF(r.left() + ox * s, r.top() + oy * s, self.crop * s, self.crop * s))
        p.end()


class PredictionBars(QWidget):
    """Ten class probabilities as horizontal bars; the winner emphasised, its confidence large.

    Classes are shown by name when they have names (``set_class_names``); of more than
    ``MAX_ROWS`` classes, the most probable ones are shown, best first.
    """

    MAX_ROWS = 10

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("predictionBars")
        self.class_names = None
        self.probs = None
        self.message = "Draw a digit."
        self.setMinimumSize(220, 230)

    def set_probs(self, probs):
        self.probs = None if probs is None else np.asarray(probs, np.float32)
        self.message = "" if probs is not None else self.message
        self.update()

    def set_message(self, text):
        self.probs = None
        self.message = text
        self.update()

    def set_class_names(self, names):
        self.class_names = None if names is None else list(names)
        self.update()

    @property
    def top_class(self):
        return None if self.probs is None else int(np.argmax(self.probs))

    def rows(self):
        """The classes shown, top to bottom: all in order, or the most probable ``MAX_ROWS``."""
        n = len(self.probs)
        if n <= self.MAX_ROWS:
            return list(range(n))
        return [int(k) for k in np.argsort(self.probs)[::-1][:self.MAX_ROWS]]

    def paintEvent(self, e):
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        pal = self.palette()
        w = self.width()
        if self.probs is None:
            p.setPen(pal.placeholderText().color())
            p.drawText(QRectF(0, 0, w, self.height()), Qt.AlignCenter | Qt.TextWordWrap, self.message)
            p.end()
            return
        top = int(np.argmax(self.probs))
        names = self.class_names
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * (3.2 if not named(names) else 2.0))
        big.setBold(True)
        p.setFont(big)
        p.setPen(pal.text().color())
        mid = QFont(self.font())
        mid.setPointSizeF(mid.pointSizeF() * 1.4)
        sure = f"{self.probs[top]:.1%} sure"
        if named(names):  # a name across the top, how sure under it
            p.drawText(QRectF(0, 0, w, 48), Qt.AlignLeft | Qt.AlignVCenter,
                       QFontMetrics(big).elidedText(class_name(names, top), Qt.ElideRight, int(w)))
            p.setFont(mid)
            p.setPen(pal.placeholderText().color())
            p.drawText(QRectF(0, 46, w, 32), Qt.AlignLeft | Qt.AlignVCenter, sure)
        else:
            p.drawText(QRectF(0, 0, w * 0.45, 80), Qt.AlignCenter, str(top))
            p.setFont(mid)
            p.setPen(pal.placeholderText().color())
            p.drawText(QRectF(w * 0.45, 0, w * 0.55, 80), Qt.AlignVCenter | Qt.AlignLeft, sure)
        p.setFont(self.font())
        rows = self.rows()
        row_h = min(32.0, max(14.0, (self.height() - 92) / len(rows)))
        accent = pal.highlight().color()
        label_w = 22 if not named(names) else min(120, int(w * 0.45))
        fm = QFontMetrics(self.font())
        bar_w = w - 58 - label_w
        for row, k in enumerate(rows):
            y = 90 + row * row_h
            p.setPen(pal.text().color())
            p.drawText(QRectF(0, y, label_w, row_h), (Qt.AlignCenter if not named(names) else
                                                      Qt.AlignVCenter | Qt.AlignRight),
                       fm.elidedText(class_name(names, k), Qt.ElideRight, label_w))
            p.fillRect(QRectF(label_w + 4, y + 3, bar_w, row_h - 6), pal.alternateBase())
            color = accent if k == top else pal.mid().color()
            p.fillRect(QRectF(label_w + 4, y + 3, bar_w * float(self.probs[k]), row_h - 6), color)
            p.setPen(pal.placeholderText().color())
            p.drawText(QRectF(w - 52, y, 52, row_h), Qt.AlignVCenter | Qt.AlignRight, f"{self.probs[k]:.2f}")
        p.end()


#: Pictures larger than this are refused before they are decoded (a 138-byte PNG can
#: say it is 60000x60000); the ones under it are decoded at most LARGEST_SIDE on a side.
MAX_IMAGE_PIXELS = 100_000_000
LARGEST_SIDE = 1024


def load_image_file(path):
    """A picture file as floats in [0, 1], ink high (dark-on-light pictures are inverted).

    Large pictures are scaled down while they are read (a drawing is 28x28 in the end);
    safe to call on a worker thread.

    Raises
    ------
    ValueError
        If the file is not a picture Qt can read, or too large to read.
    """
    name = pathlib.Path(path).name or str(path)
    if pathlib.Path(path).is_dir():
        raise ValueError(f"{path}: is a folder, not a picture")
    check_readable(path, ValueError)  # a FIFO or a device: refused at once, not waited on
    reader = QImageReader(str(path))
    size = reader.size()
    if not reader.canRead() or not size.isValid():
        raise ValueError(f"{name}: not an image that can be read (PNG, JPG, BMP, ...)")
    w, h = size.width(), size.height()
    if w * h > MAX_IMAGE_PIXELS:
        raise ValueError(f"{name}: {w:,}x{h:,} pixels is larger than the {MAX_IMAGE_PIXELS / 1e6:.0f}-megapixel "
                         f"limit for a picture to draw from")
    side = max(w, h)
    if side > LARGEST_SIDE:
        scale = LARGEST_SIDE / side
        reader.setScaledSize(QSize(max(1, round(w * scale)), max(1, round(h * scale))))
    QImageReader.setAllocationLimit(max(QImageReader.allocationLimit(), 4 * MAX_IMAGE_PIXELS // 2 ** 20 + 1))
    img = reader.read()
    if img.isNull():
        raise ValueError(f"{name}: not an image that can be read ({reader.errorString()})")
    img = img.convertToFormat(QImage.Format_Grayscale8)
    h, w = img.height(), img.width()
    a = np.frombuffer(img.constBits(), np.uint8, img.bytesPerLine() * h).reshape(h, -1)[:, :w]
    a = a.astype(np.float32) / 255.0
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    if np.median(border) > 0.5:  # light background: dark ink
        a = 1.0 - a
    lo = np.median(border) if np.median(border) <= 0.5 else 1.0 - np.median(border)
    return np.clip((a - lo) / max(1e-6, 1 - lo), 0, 1)
