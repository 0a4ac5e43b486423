"""Turn a drawing into an MNIST-style digit.

MNIST's digits were size-normalised to fit a 20x20 box (aspect kept, anti-aliased)
and centred by their centre of mass in a 28x28 field; ``to_mnist`` does the same to
a drawing so that a network trained on MNIST sees what it was trained on.
"""
import numpy as np

FIELD = 28
BOX = 20
WORK = 4 * BOX          # strokes are normalised with the digit's longer side at 80 px
# Stroke widths of MNIST digits at that size (2A/P of the ink): 10th to 90th percentile
# of 2,000 training digits was 5.7 to 11.3 px, median 7.8. Drawings outside are brought in.
WIDTH_RANGE = (6.0, 10.5)


def _resample_matrix(n_in, n_out, scale=None):
    """``(n_out, n_in)`` weights: area averaging when shrinking, linear when growing.

    With ``scale`` (output pixels per input pixel, at most n_out/n_in) the image
    covers a fractional number of output pixels and the last one is partly covered,
    so a stroke 1.4 px wide stays 1.4 px of ink instead of rounding to 1.
    """
    scale = n_out / n_in if scale is None else scale
    m = np.zeros((n_out, n_in))
    if scale <= 1:
        step = 1 / scale
        for i in range(n_out):
            lo, hi = i * step, min((i + 1) * step, n_in)
            for j in range(int(np.floor(lo)), min(int(np.ceil(hi)), n_in)):
                m[i, j] = max(0.0, min(hi, j + 1) - max(lo, j))
        return m / step
    pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    j0 = np.floor(pos).astype(int)
    j1 = np.minimum(j0 + 1, n_in - 1)
    frac = pos - j0
    m[np.arange(n_out), j0] += 1 - frac
    m[np.arange(n_out), j1] += frac
    return m


def resize(image, height, width):
    """Anti-aliased resize of a 2-D array (separable, two small matrix products)."""
    image = np.asarray(image, dtype=np.float64)
    return _resample_matrix(image.shape[0], height) @ image @ _resample_matrix(image.shape[1], width).T


def stroke_width(ink):
    """Mean stroke width of a boolean ink mask: twice its area over its perimeter."""
    area = np.count_nonzero(ink)
    perimeter = (np.count_nonzero(ink[1:] != ink[:-1]) + np.count_nonzero(ink[:, 1:] != ink[:, :-1])
                 + np.count_nonzero(ink[0]) + np.count_nonzero(ink[-1])
                 + np.count_nonzero(ink[:, 0]) + np.count_nonzero(ink[:, -1]))
    return 2.0 * area / perimeter if perimeter else 0.0


def _filter(a, k, op):
    """Separable max (dilation) or min (erosion) filter with a k x k square, zero outside."""
    p = k // 2
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (p, p)
        w = np.lib.stride_tricks.sliding_window_view(np.pad(a, pad), k, axis=axis)
        a = w.max(axis=-1) if op == "max" else w.min(axis=-1)
    return a


def normalize_strokes(a):
    """Thicken strokes thinner than MNIST's, thin those thicker (``a`` at WORK scale)."""
    width = stroke_width(a > 0.5)
    if width <= 0:
        return a
    target = min(max(width, WIDTH_RANGE[0]), WIDTH_RANGE[1])
    r = int(round((target - width) / 2))
    if r > 0:  # room around the ink for it to grow into
        return _filter(np.pad(a, r), 2 * r + 1, "max")
    if r < 0:
        r = min(-r, int(width / 3))  # never erode a stroke away
        return _filter(a, 2 * r + 1, "min") if r else a
    return a


def _shift(image, dy, dx):
    out = np.zeros_like(image)
    h, w = image.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = image[ys, xs]
    return out


def to_mnist(image, frame=False):
    """An MNIST-style 28x28 digit from a drawing.

    Parameters
    ----------
    image : 2-D array
        Any size; ink high, background 0.
    frame : bool
        Also return where the drawing went (for a picture of the digit, an explanation
        map, laid back over the drawing).

    Returns
    -------
    ndarray (28, 28) float32 in [0, 1]
        The ink's bounding box scaled so that its longer side is 20 px (aspect
        kept), placed with its centre of mass at the centre of the field.
        An empty drawing gives zeros.
    ((ay, by), (ax, bx)), with ``frame``
        The field's coordinates of a point of the drawing: ``field_y = ay * y + by``,
        ``field_x = ax * x + bx``, in pixel-edge coordinates (pixel ``i`` spans ``i``
        to ``i + 1``). None for an empty drawing.
    """
    a = np.asarray(image, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"to_mnist expects a 2-D image, got shape {a.shape}")
    a = np.where(np.isfinite(a), a, 0.0)
    a = np.clip(a, 0, None)
    peak = a.max() if a.size else 0.0
    if peak <= 0:
        empty = np.zeros((FIELD, FIELD), dtype=np.float32)
        return (empty, None) if frame else empty
    a = a / peak
    rows = np.flatnonzero(a.max(axis=1) > 1e-3)
    cols = np.flatnonzero(a.max(axis=0) > 1e-3)
    a = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = a.shape
    # Strokes drawn much thinner or thicker than MNIST's are brought into MNIST's range,
    # at four times the final size so that the last resize still anti-aliases.
    work = WORK / max(h, w)
    h1, w1 = max(1, int(round(h * work))), max(1, int(round(w * work)))
    a = normalize_strokes(resize(a, h1, w1))
    # each resize maps pixel edges linearly; a thickened stroke is padded on every side
    sy, sx = h1 / h, w1 / w
    pad_y, pad_x = (a.shape[0] - h1) / 2, (a.shape[1] - w1) / 2
    h, w = a.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, int(np.ceil(h * scale - 1e-9))), max(1, int(np.ceil(w * scale - 1e-9)))
    small = _resample_matrix(h, nh, scale) @ a @ _resample_matrix(w, nw, scale).T
    small /= max(small.max(), 1e-12)
    field = np.zeros((FIELD, FIELD))
    top, left = (FIELD - nh) // 2, (FIELD - nw) // 2
    field[top:top + nh, left:left + nw] = small
    mass = field.sum()
    cy = (field.sum(axis=1) @ np.arange(FIELD)) / mass
    cx = (field.sum(axis=0) @ np.arange(FIELD)) / mass
    # Move the centre of mass to the field's centre, keeping the box inside the field.
    dy = int(np.clip(round((FIELD - 1) / 2 - cy), -top, FIELD - top - nh))
    dx = int(np.clip(round((FIELD - 1) / 2 - cx), -left, FIELD - left - nw))
    field = _shift(field, dy, dx)
    field = np.clip(field, 0, 1).astype(np.float32)
    if not frame:
        return field
    ay, ax = sy * scale, sx * scale
    return field, ((ay, (pad_y - rows[0] * sy) * scale + top + dy),
                   (ax, (pad_x - cols[0] * sx) * scale + left + dx))


def center_crop(digit, size):
    """The centre ``size x size`` of a square image (the crop the demo network sees)."""
    n = digit.shape[0]
    if size > n:
        raise ValueError(f"cannot crop {size}x{size} from {n}x{n}")
    o = (n - size) // 2
    return digit[o:o + size, o:o + size]
