"""Drawings made of strokes, rendered as the Draw place's canvas renders the mouse's.

Tests and benchmarks of teaching (``engine.teach``) need drawings of a style a person
would make: a 7 with a crossbar, a circle, a triangle. ``render`` draws polylines with a
round, anti-aliased brush on a square canvas of the canvas's size (280 px, brush 22 px),
ink high, so that ``engine.digits.to_mnist`` turns them into what the network sees exactly
as it does a drawing made with the mouse. ``drawings(style, n, seed)`` makes ``n`` of a
style with the jitter of a hand: position, size, slant, rotation, brush width, and every
point moved a little.
"""
import numpy as np

from engine.data.digits import to_mnist

CANVAS = 280
BRUSH = 22.0

#: Each style: strokes (polylines) in canvas pixels of a 280 x 280 canvas.
_E = [(140 + 75 * np.cos(t), 140 + 80 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 33)]
STYLES = {
    # a 7 as it is written in much of Europe: a crossbar through the stem
    "seven-crossbar": [[(80, 60), (200, 60), (125, 225)], [(115, 145), (190, 145)]],
    "seven": [[(80, 60), (200, 60), (125, 225)]],
    # a 1 with serifs at the top and the foot, as typed (the demo network reads most as 5, 2 or 3)
    "one-serifs": [[(140, 55), (140, 225)], [(100, 225), (180, 225)], [(100, 55), (180, 55)]],
    # a 1 with a flag and a base
    "one-flag": [[(105, 95), (145, 55), (145, 225)], [(100, 225), (190, 225)]],
    "circle": [_E],
    "cross": [[(75, 75), (205, 205)], [(205, 75), (75, 205)]],
    "triangle": [[(140, 55), (220, 215), (60, 215), (140, 55)]],
}


def render(strokes, size=CANVAS, width=BRUSH):
    """Polylines ``[[(x, y), ...], ...]`` drawn with a round brush ``width`` px wide, anti-aliased.

    Returns a ``(size, size)`` float32 array in [0, 1], ink high (a stroke of one point is a dot).
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    dist = np.full((size, size), np.inf)
    for stroke in strokes:
        pts = np.asarray(stroke, dtype=np.float64).reshape(-1, 2)
        if len(pts) == 1:
            pts = np.vstack([pts, pts])
        for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:]):
            dx, dy = x1 - x0, y1 - y0
            length2 = dx * dx + dy * dy
            t = 0.0 if length2 == 0 else np.clip(((xx - x0) * dx + (yy - y0) * dy) / length2, 0, 1)
            d = np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy))
            np.minimum(dist, d, out=dist)
    return np.clip(width / 2 - dist + 0.5, 0, 1).astype(np.float32)


def jitter(strokes, rng, amount=1.0):
    """The strokes as a hand would draw them another time: moved, scaled, slanted, rotated,
    every point a little off (``amount`` scales all of it)."""
    a = amount
    angle = np.deg2rad(rng.normal(0, 7 * a))
    shear = rng.normal(0, 0.12 * a)
    sx, sy = np.exp(rng.normal(0, 0.12 * a, 2))
    scale = np.exp(rng.normal(0, 0.15 * a))
    c, s = np.cos(angle), np.sin(angle)
    m = scale * np.array([[c, -s], [s, c]]) @ np.array([[sx, shear], [0, sy]])
    centre = np.array([CANVAS / 2, CANVAS / 2])
    move = rng.normal(0, 12 * a, 2)
    out = []
    for stroke in strokes:
        pts = np.asarray(stroke, dtype=np.float64)
        pts = (pts - centre) @ m.T + centre + move + rng.normal(0, 5 * a, pts.shape)
        out.append(np.clip(pts, 5, CANVAS - 5))
    return out


def drawings(style, n, seed=0, amount=1.0):
    """``n`` canvas images ``(n, 280, 280)`` float32 of ``style`` (a name in ``STYLES`` or
    strokes), each jittered, with brush widths from 16 to 30 px."""
    strokes = STYLES[style] if isinstance(style, str) else style
    rng = np.random.default_rng(seed)
    return np.stack([render(jitter(strokes, rng, amount), width=float(rng.uniform(16, 30)))
                     for _ in range(n)])


def digits(style, n, seed=0, amount=1.0):
    """``drawings`` as the network sees them: ``(n, 28, 28)`` float32 from ``to_mnist``."""
    return np.stack([to_mnist(d) for d in drawings(style, n, seed, amount)])
