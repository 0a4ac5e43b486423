"""Turn a drawing into an MNIST-style digit.

MNIST's digits were size-normalised to fit a 20x20 box (aspect kept, anti-aliased)
and centred by their centre of mass in a 28x28 field; ``to_mnist`` does the same to
a drawing so that a network trained on MNIST sees what it was trained on.
"""
import numpy as np

FIELD = 28
BOX = 20


def _resample_matrix(n_in, n_out):
    """``(n_out, n_in)`` weights: area averaging when shrinking, linear when growing."""
    m = np.zeros((n_out, n_in))
    if n_out <= n_in:
        scale = n_in / n_out
        for i in range(n_out):
            lo, hi = i * scale, (i + 1) * scale
            for j in range(int(np.floor(lo)), min(int(np.ceil(hi)), n_in)):
                m[i, j] = min(hi, j + 1) - max(lo, j)
    else:
        pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        pos = np.clip(pos, 0, n_in - 1)
        j0 = np.floor(pos).astype(int)
        j1 = np.minimum(j0 + 1, n_in - 1)
        frac = pos - j0
        m[np.arange(n_out), j0] += 1 - frac
        m[np.arange(n_out), j1] += frac
    return m / m.sum(axis=1, keepdims=True)


def resize(image, height, width):
    """Anti-aliased resize of a 2-D array (separable, two small matrix products)."""
    image = np.asarray(image, dtype=np.float64)
    return _resample_matrix(image.shape[0], height) @ image @ _resample_matrix(image.shape[1], width).T


def _shift(image, dy, dx):
    out = np.zeros_like(image)
    h, w = image.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = image[ys, xs]
    return out


def to_mnist(image):
    """An MNIST-style 28x28 digit from a drawing.

    Parameters
    ----------
    image : 2-D array
        Any size; ink high, background 0.

    Returns
    -------
    ndarray (28, 28) float32 in [0, 1]
        The ink's bounding box scaled so that its longer side is 20 px (aspect
        kept), placed with its centre of mass at the centre of the field.
        An empty drawing gives zeros.
    """
    a = np.asarray(image, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"to_mnist expects a 2-D image, got shape {a.shape}")
    a = np.where(np.isfinite(a), a, 0.0)
    a = np.clip(a, 0, None)
    peak = a.max() if a.size else 0.0
    if peak <= 0:
        return np.zeros((FIELD, FIELD), dtype=np.float32)
    a = a / peak
    rows = np.flatnonzero(a.max(axis=1) > 1e-3)
    cols = np.flatnonzero(a.max(axis=0) > 1e-3)
    a = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = a.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    small = resize(a, nh, nw)
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
    return np.clip(field, 0, 1).astype(np.float32)


def center_crop(digit, size):
    """The centre ``size x size`` of a square image (the crop the demo network sees)."""
    n = digit.shape[0]
    if size > n:
        raise ValueError(f"cannot crop {size}x{size} from {n}x{n}")
    o = (n - size) // 2
    return digit[o:o + size, o:o + size]
