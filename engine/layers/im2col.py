"""Window copies (im2col) and their adjoint (fold), for batches ``(N, H, W, D)``.

``tiled_windows`` lays the windows of ``t`` neighbouring output positions out as
one contiguous row, so a convolution is a single matrix product with the filter
matrix of ``tiled_filters``. ``fold`` adds plain (``t = 1``) window rows back into
the image, which is their input gradient.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided


def pad_batch(x, pad, value=0.0):
    if pad == 0:
        return x
    n, h, w, d = x.shape
    xp = np.full((n, h + 2 * pad, w + 2 * pad, d), value, dtype=x.dtype)
    xp[:, pad:pad + h, pad:pad + w, :] = x
    return xp


def tile_width(ow, filters, stride=1, columns=32):
    """How many neighbouring output positions share one window row (see ``tiled_windows``).

    Enough for a product about ``columns`` wide, and a divisor of the output width;
    1 (plain im2col) for strided convolutions.
    """
    if stride != 1:
        return 1
    for t in range(min(ow, max(1, -(-columns // filters))), 0, -1):
        if ow % t == 0:
            return t
    return 1


def tile_for(tile, positions):
    """The tile width to use for a batch of ``positions`` outputs: building the tiled
    filter matrix costs a few microseconds, which only larger batches win back."""
    return tile if positions >= 512 else 1


def tiled_windows(xp, sy, sx, stride, oh, ow, t):
    """Rows ``(N*oh*ow/t, sy*((t-1)*stride+sx)*D)`` of a padded batch, one per ``t``
    neighbouring output positions of a row.

    With ``t = 1`` these are the plain im2col rows. A wider ``t`` copies each input
    cell fewer times (neighbouring windows overlap) and, multiplied by
    ``tiled_filters``, gives a product ``t`` times wider: for the narrow products
    of small convolutions both are faster than plain im2col, though the product
    multiplies some zeros. One strided copy builds it.
    """
    n, _, _, d = xp.shape
    wt = (t - 1) * stride + sx
    s0, s1, s2, s3 = xp.strides
    shape, strides = (n, oh, ow // t, sy, wt, d), (s0, s1 * stride, s2 * stride * t, s1, s2, s3)
    if xp.flags.c_contiguous:  # a few microseconds cheaper than as_strided (batch 1 feels it)
        view = np.ndarray(shape, xp.dtype, xp, 0, strides)
    else:
        view = as_strided(xp, shape, strides, writeable=False)
    return np.ascontiguousarray(view).reshape(n * oh * (ow // t), sy * wt * d)


def tiled_filters(w, stride, t):
    """The filter bank ``(F, sy, sx, D)`` as a ``(sy*wt*D, t*F)`` matrix for ``tiled_windows``:
    column ``k*F + f`` is filter ``f`` placed at output position ``k`` of the tile."""
    f, sy, sx, d = w.shape
    if t == 1:
        return w.reshape(f, -1).T
    wt = (t - 1) * stride + sx
    b = np.zeros((sy, wt, d, t, f), w.dtype)
    wr = w.transpose(1, 2, 3, 0)
    for k in range(t):
        b[:, k * stride:k * stride + sx, :, k, :] = wr
    return b.reshape(sy * wt * d, t * f)


def untile_filter_grad(g, w_shape, stride, t, out):
    """Sum the gradient of a ``tiled_filters`` matrix back into filters ``(F, sy, sx, D)``."""
    f, sy, sx, d = w_shape
    g5 = g.reshape(sy, (t - 1) * stride + sx, d, t, f)
    acc = g5[:, 0:sx, :, 0, :].copy()
    for k in range(1, t):
        acc += g5[:, k * stride:k * stride + sx, :, k, :]
    out[...] = acc.transpose(3, 0, 1, 2)


def fold(dcols, x_shape, sy, sx, stride, pad, oh, ow):
    """Sum window rows back into an image: the adjoint of ``tiled_windows`` with ``t = 1``."""
    n, h, w, d = x_shape
    dxp = np.zeros((n, h + 2 * pad, w + 2 * pad, d), dtype=dcols.dtype)
    d6 = dcols.reshape(n, oh, ow, sy, sx, d)
    for i in range(sy):
        for j in range(sx):
            dxp[:, i:i + stride * oh:stride, j:j + stride * ow:stride, :] += d6[:, :, :, i, j, :]
    if pad:
        return dxp[:, pad:pad + h, pad:pad + w, :]
    return dxp


def conv_input_grad(dout, weights, pad):
    """Input gradient of a stride-1 convolution, as a convolution of the output gradient.

    ``dx = windows(dout padded by s - 1 - pad) @ W'`` where ``W'`` is the filter bank
    flipped in space with its in/out channels swapped: one window copy and one
    product instead of ``sy*sx`` scattered adds.
    """
    nf, sy, sx, c = weights.shape
    n, oh, ow, _ = dout.shape
    if pad > min(sy, sx) - 1:  # rare: crop a full-padding gradient instead
        return None
    ph, pw = sy - 1 - pad, sx - 1 - pad
    h, w = oh + sy - 1 - 2 * pad, ow + sx - 1 - 2 * pad
    flipped = weights[:, ::-1, ::-1, :].transpose(3, 1, 2, 0)  # (c, sy, sx, nf)
    t = tile_for(tile_width(w, c), n * h * w)
    if ph == pw:
        dp = pad_batch(dout, ph)
    else:
        dp = np.zeros((n, oh + 2 * ph, ow + 2 * pw, nf), dtype=dout.dtype)
        dp[:, ph:ph + oh, pw:pw + ow] = dout
    cols = tiled_windows(dp, sy, sx, 1, h, w, t)
    return (cols @ tiled_filters(flipped, 1, t)).reshape(n, h, w, c)
