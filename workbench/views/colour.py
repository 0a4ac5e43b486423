"""Stored pixels as pictures (grey or colour) and classes by name: small helpers every view shares."""
import numpy as np
from PySide6.QtGui import QImage


def pixels_qimage(pixels, invert=False):
    """uint8 pixels ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` as a QImage (a copy).

    Grey images may be inverted (``invert``: dark ink on white, as the gallery shows digits);
    colour images are shown as they are.
    """
    a = np.asarray(pixels)
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    h, w = a.shape[:2]
    if a.ndim == 3:
        a = np.ascontiguousarray(a[:, :, :3])
        return QImage(a.data, w, h, 3 * w, QImage.Format_RGB888).copy()
    a = np.ascontiguousarray(255 - a if invert else a)
    return QImage(a.data, w, h, w, QImage.Format_Grayscale8).copy()


def unit_qimage(values):
    """Floats in [0, 1], ``(H, W)`` or ``(H, W, 3)``, as a QImage."""
    return pixels_qimage(np.clip(np.asarray(values, np.float32), 0, 1) * 255)


def stored_qimage(pixels):
    """Stored pixels (uint8, 0-255) or a drawing (floats in [0, 1]), grey or colour, as a QImage."""
    a = np.asarray(pixels)
    return pixels_qimage(a) if a.dtype == np.uint8 else unit_qimage(a)


def rgb_tiles(values, per_tile=True):
    """Colour filters ``(n, h, w, 3)`` as pictures in [0, 1]: each scaled to its own range
    (``per_tile``, as ConvNetJS draws a colour filter), or all to the largest magnitude
    around mid grey."""
    v = np.asarray(values, np.float32)
    if per_tile:
        lo = v.min(axis=(1, 2, 3), keepdims=True)
        hi = v.max(axis=(1, 2, 3), keepdims=True)
        return (v - lo) / np.where(hi > lo, hi - lo, 1)
    m = float(np.max(np.abs(v))) or 1.0
    return v / (2 * m) + 0.5


def rgb_mosaic(tiles, pad=1, columns=None, fill=0.5):
    """Tiles ``(n, h, w, 3)`` in one ``(rows*(h+pad)-pad, cols*(w+pad)-pad, 3)`` picture."""
    n, h, w, _ = tiles.shape
    cols = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, 3), fill, np.float32)
    for k in range(n):
        r, c = divmod(k, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = tiles[k]
    return out


def class_name(names, k):
    """The name of class ``k`` (its number when there are no names or it is out of their range)."""
    k = int(k)
    return str(names[k]) if names is not None and 0 <= k < len(names) else str(k)


def named(names):
    """True when the classes have names other than their numbers."""
    return names is not None and list(names) != [str(i) for i in range(len(names))]
