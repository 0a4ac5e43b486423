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

    Each window offset is one contiguous row, so ``W @ cols_t`` is a wide,
    BLAS-friendly product. One strided copy builds it (numpy releases the GIL for
    it, which many small copies would not).
    """
    n = x.shape[0]
    xp = pad_batch(x, pad)[..., 0]
    s0, s1, s2 = xp.strides
    view = as_strided(xp, (sy, sx, n, oh, ow), (s1, s2, s0, s1, s2), writeable=False)
    return np.ascontiguousarray(view).reshape(sy * sx, n * oh * ow)


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


def conv_input_grad(dout, weights, pad):
    """Input gradient of a stride-1 convolution, as a convolution of the output gradient.

    ``dx = windows(dout, pad = s - 1 - pad) @ W'`` where ``W'`` is the filter bank
    flipped in space with its in/out channels swapped: one window copy and one
    product instead of ``sy*sx`` scattered adds.
    """
    nf, sy, sx, c = weights.shape
    n, oh, ow, _ = dout.shape
    if pad > min(sy, sx) - 1:  # rare: crop a full-padding gradient instead
        return None
    ph, pw = sy - 1 - pad, sx - 1 - pad
    h, w = oh + sy - 1 - 2 * pad, ow + sx - 1 - 2 * pad
    wf = weights[:, ::-1, ::-1, :].transpose(1, 2, 0, 3).reshape(sy * sx * nf, c)
    if ph == pw:
        cols = windows(dout, sy, sx, 1, ph, h, w)
    else:
        dp = np.zeros((n, oh + 2 * ph, ow + 2 * pw, nf), dtype=dout.dtype)
        dp[:, ph:ph + oh, pw:pw + ow] = dout
        cols = windows(dp, sy, sx, 1, 0, h, w)
    return (cols @ wf).reshape(n, h, w, c)
