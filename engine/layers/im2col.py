"""Window copies (im2col) and their adjoint (fold), for batches ``(N, H, W, D)``.

``windows`` lays every ``sy x sx x D`` window out as one contiguous row, so a
convolution is a single matrix product with the filter matrix. ``fold`` adds rows
back into the image, which is the input gradient of ``windows``.
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


def window_view(xp, sy, sx, stride, oh, ow):
    """A strided view ``(N, oh, ow, sy, sx, D)`` of the windows of a padded batch."""
    s0, s1, s2, s3 = xp.strides
    return as_strided(xp, (xp.shape[0], oh, ow, sy, sx, xp.shape[3]),
                      (s0, s1 * stride, s2 * stride, s1, s2, s3), writeable=False)


def windows(x, sy, sx, stride, pad, oh, ow):
    """Rows ``(N*oh*ow, sy*sx*D)``, one per output position."""
    n, _, _, d = x.shape
    xp = pad_batch(x, pad)
    cols = np.empty((n, oh, ow, sy, sx, d), dtype=x.dtype)
    if d == 1:
        # With one channel the innermost axis has length 1: copy one window row
        # offset at a time so that numpy's inner loop runs over whole output rows.
        x3 = xp[..., 0]
        for i in range(sy):
            for j in range(sx):
                cols[:, :, :, i, j, 0] = x3[:, i:i + stride * oh:stride, j:j + stride * ow:stride]
    else:
        cols[...] = window_view(xp, sy, sx, stride, oh, ow)
    return cols.reshape(n * oh * ow, sy * sx * d)


def windows_t(x, sy, sx, pad, oh, ow):
    """Stride-1 windows of a one-channel batch, transposed: ``(sy*sx, N*oh*ow)``.

    Each window offset is one contiguous row, so building it is ``sy*sx`` plain
    copies, and ``W @ cols_t`` is a wide, BLAS-friendly product.
    """
    n = x.shape[0]
    xp = pad_batch(x, pad)[..., 0]
    cols = np.empty((sy, sx, n, oh, ow), dtype=x.dtype)
    for i in range(sy):
        for j in range(sx):
            cols[i, j] = xp[:, i:i + oh, j:j + ow]
    return cols.reshape(sy * sx, n * oh * ow)


def fold(dcols, x_shape, sy, sx, stride, pad, oh, ow):
    """Sum window rows back into an image: the adjoint of ``windows``."""
    n, h, w, d = x_shape
    dxp = np.zeros((n, h + 2 * pad, w + 2 * pad, d), dtype=dcols.dtype)
    d6 = dcols.reshape(n, oh, ow, sy, sx, d)
    for i in range(sy):
        for j in range(sx):
            dxp[:, i:i + stride * oh:stride, j:j + stride * ow:stride, :] += d6[:, :, :, i, j, :]
    if pad:
        return dxp[:, pad:pad + h, pad:pad + w, :]
    return dxp


def fold_rows(dout, weights, x_shape, pad):
    """Input gradient of a stride-1 convolution with a few wide products.

    Same result as ``fold(dout @ W, ...)`` but with ``sy`` shifted adds instead of
    ``sy*sx``: the ``sx`` columns of each window are summed inside one matrix
    product over row windows of ``dout``.
    """
    n, oh, ow, f = dout.shape
    nf, sy, sx, c = weights.shape
    wp = ow + sx - 1
    rows = np.zeros((n, oh, wp, sx, f), dtype=dout.dtype)
    for j in range(sx):
        rows[:, :, j:j + ow, j, :] = dout
    wr = weights.transpose(2, 0, 1, 3).reshape(sx * f, sy * c)  # (j, f) x (i, c)
    g = (rows.reshape(-1, sx * f) @ wr).reshape(n, oh, wp, sy, c)
    dxp = np.zeros((n, oh + sy - 1, wp, c), dtype=dout.dtype)
    for i in range(sy):
        dxp[:, i:i + oh] += g[:, :, :, i, :]
    h, w = x_shape[1], x_shape[2]
    return dxp[:, pad:pad + h, pad:pad + w]
