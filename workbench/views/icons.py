"""Layer icons drawn in code with QPainter, one small picture per layer type."""
import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

GROUP_COLORS = {
    "input": "#5b8def", "conv": "#e0823d", "pool": "#d9a441", "fc": "#9b6fd6",
    "relu": "#3aa676", "leaky_relu": "#3aa676", "sigmoid": "#3aa676", "tanh": "#3aa676",
    "maxout": "#3aa676", "dropout": "#8a8f98", "batchnorm": "#8a8f98", "lrn": "#8a8f98",
    "softmax": "#d6566b", "svm": "#d6566b", "regression": "#d6566b",
}


def color_for(layer_type):
    return QColor(GROUP_COLORS.get(layer_type, "#888888"))


def _curve(p, f, r):
    path = QPainterPath()
    for i in range(41):
        t = -1 + i / 20
        y = f(t)
        pt = QPointF(r.left() + (t + 1) / 2 * r.width(), r.center().y() - y * r.height() / 2)
        path.moveTo(pt) if i == 0 else path.lineTo(pt)
    p.drawPath(path)


def paint_icon(p, rect, layer_type):
    """Draw the icon of ``layer_type`` inside ``rect``."""
    c = color_for(layer_type)
    r = QRectF(rect).adjusted(3, 3, -3, -3)
    p.save()
    p.setRenderHint(QPainter.Antialiasing)
    p.setPen(Qt.NoPen)
    bg = QColor(c)
    bg.setAlpha(40)
    p.setBrush(bg)
    p.drawRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), 5, 5)
    pen = QPen(c, 1.8)
    pen.setCapStyle(Qt.RoundCap)
    p.setPen(pen)
    p.setBrush(Qt.NoBrush)
    w, h = r.width(), r.height()
    t = layer_type
    if t == "input":
        for i in range(3):
            for j in range(3):
                fill = QColor(c)
                fill.setAlpha(60 + 60 * ((i + j) % 3))
                p.fillRect(QRectF(r.left() + j * w / 3, r.top() + i * h / 3, w / 3 - 1, h / 3 - 1), fill)
    elif t == "conv":
        for k in range(3):
            p.drawRect(QRectF(r.left() + k * w * 0.15, r.top() + k * h * 0.15, w * 0.6, h * 0.6))
        p.fillRect(QRectF(r.left() + w * 0.05, r.top() + h * 0.05, w * 0.22, h * 0.22), c)
    elif t == "pool":
        for i in range(2):
            for j in range(2):
                p.drawRect(QRectF(r.left() + j * w * 0.25, r.top() + i * h * 0.25, w * 0.25, h * 0.25))
        p.fillRect(QRectF(r.left() + w * 0.65, r.top() + h * 0.55, w * 0.3, h * 0.3), c)
        p.drawLine(QPointF(r.left() + w * 0.5, r.top() + h * 0.5), QPointF(r.left() + w * 0.65, r.top() + h * 0.62))
    elif t == "fc":
        left = [QPointF(r.left() + 2, r.top() + h * k / 3 + h / 6) for k in range(3)]
        right = [QPointF(r.right() - 2, r.top() + h * k / 2 + h / 4) for k in range(2)]
        thin = QPen(c, 0.9)
        p.setPen(thin)
        for a in left:
            for b in right:
                p.drawLine(a, b)
        p.setBrush(c)
        for pt in left + right:
            p.drawEllipse(pt, 2.2, 2.2)
    elif t in ("relu", "leaky_relu", "sigmoid", "tanh"):
        f = {"relu": lambda x: max(0.0, x) * 1.6 - 0.8,
             "leaky_relu": lambda x: (x if x > 0 else 0.2 * x) * 1.4 - 0.4,
             "sigmoid": lambda x: 1.6 / (1 + math.exp(-6 * x)) - 0.8,
             "tanh": lambda x: 0.8 * math.tanh(4 * x)}[t]
        axis = QPen(QColor(c.red(), c.green(), c.blue(), 90), 0.8)
        p.setPen(axis)
        p.drawLine(QPointF(r.left(), r.center().y()), QPointF(r.right(), r.center().y()))
        p.setPen(pen)
        _curve(p, f, r)
    elif t == "maxout":
        heights = [0.4, 0.8, 0.5, 0.3]
        for k, hh in enumerate(heights):
            bar = QRectF(r.left() + k * w / 4 + 1, r.bottom() - hh * h, w / 4 - 2, hh * h)
            p.fillRect(bar, c if k == 1 else QColor(c.red(), c.green(), c.blue(), 90))
    elif t == "dropout":
        for i in range(3):
            for j in range(3):
                pt = QPointF(r.left() + w * (j + 0.5) / 3, r.top() + h * (i + 0.5) / 3)
                if (i * 3 + j) % 3 == 1:
                    p.drawLine(pt + QPointF(-2.5, -2.5), pt + QPointF(2.5, 2.5))
                    p.drawLine(pt + QPointF(-2.5, 2.5), pt + QPointF(2.5, -2.5))
                else:
                    p.setBrush(c)
                    p.drawEllipse(pt, 2.2, 2.2)
                    p.setBrush(Qt.NoBrush)
    elif t == "batchnorm":
        _curve(p, lambda x: 1.6 * math.exp(-8 * x * x) - 0.8, r)
    elif t == "lrn":
        for k in range(5):
            hh = 0.3 + 0.5 * math.exp(-((k - 2) ** 2) / 2)
            p.drawLine(QPointF(r.left() + w * (k + 0.5) / 5, r.bottom()),
                       QPointF(r.left() + w * (k + 0.5) / 5, r.bottom() - hh * h))
    elif t == "softmax":
        for k, hh in enumerate([0.2, 0.9, 0.35, 0.15]):
            p.fillRect(QRectF(r.left() + k * w / 4 + 1, r.bottom() - hh * h, w / 4 - 2, hh * h), c)
    elif t == "svm":
        p.drawLine(QPointF(r.left(), r.bottom()), QPointF(r.right(), r.top()))
        dash = QPen(c, 1.0, Qt.DashLine)
        p.setPen(dash)
        p.drawLine(QPointF(r.left(), r.bottom() - h * 0.35), QPointF(r.right() - w * 0.35, r.top()))
        p.drawLine(QPointF(r.left() + w * 0.35, r.bottom()), QPointF(r.right(), r.top() + h * 0.35))
    elif t == "regression":
        p.setBrush(c)
        for x, y in [(0.1, 0.7), (0.3, 0.55), (0.5, 0.5), (0.7, 0.3), (0.9, 0.2)]:
            p.drawEllipse(QPointF(r.left() + x * w, r.top() + y * h), 1.8, 1.8)
        p.setBrush(Qt.NoBrush)
        p.drawLine(QPointF(r.left(), r.top() + 0.8 * h), QPointF(r.right(), r.top() + 0.1 * h))
    p.restore()


_cache = {}


def layer_icon(layer_type, size=28):
    key = (layer_type, size)
    if key not in _cache:
        pm = QPixmap(size * 2, size * 2)
        pm.setDevicePixelRatio(2)
        pm.fill(Qt.transparent)
        p = QPainter(pm)
        paint_icon(p, QRectF(0, 0, size, size), layer_type)
        p.end()
        _cache[key] = QIcon(pm)
    return _cache[key]
