"""The numerical kernels behind the layers, for batches ``(N, H, W, D)``.

Pure functions: a forward kernel returns its output and a cache (plain arrays) for
its backward kernel; nothing is kept anywhere else, so any number of threads may
run them at once. How they reach their speed stays here:

- convolution is one BLAS product over *tiled window rows*: ``tiled_windows`` lays
  the windows of ``t`` neighbouring output positions out as one contiguous row, so
  the product with ``tiled_filters`` is ``t`` times wider than plain im2col's (which
  BLAS runs at half speed when it is only 8 or 16 columns wide) and each input cell
  is copied fewer times; ``fold`` adds plain window rows back into the image;
- max pooling over non-overlapping windows is a max over rows then over columns,
  recording the winners without masked copies; overlapping or padded windows take
  the max over the window's offsets, ties going to the cell ConvNetJS picks.
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


# -- convolution --------------------------------------------------------------------
_ONES = {}


def column_sums(d2, out):
    """``d2.sum(axis=0)`` into ``out`` as a product with ones: many times faster for tall, narrow d2."""
    key = (d2.shape[0], d2.dtype.char)
    ones = _ONES.get(key)
    if ones is None:
        if len(_ONES) > 64:  # batch sizes come and go: keep the table small
            _ONES.clear()
        ones = _ONES[key] = np.ones(d2.shape[0], dtype=d2.dtype)
    np.matmul(ones, d2, out=out)


def channel_sums(a, out=None):
    """The sum over every axis but the last (channels) of ``a``, as a product with ones:
    numpy's reduction over the leading axes of a batch with few channels runs a slow
    strided loop (a batchnorm's sums over 64x24x24x16 took 10x longer)."""
    d = a.shape[-1]
    if out is None:
        out = np.empty(d, dtype=a.dtype)
    column_sums(np.ascontiguousarray(a).reshape(-1, d), out)
    return out


def add_bias(out, biases):
    """``out += biases`` over rows ``(..., k * len(biases))``: one long row at a time
    (numpy broadcasts a short vector slowly)."""
    reps = out.shape[-1] // biases.shape[0]
    if reps > 1 and out.size >= 8192:
        out += np.tile(biases, reps)
    else:
        rows = out.reshape(-1, biases.shape[0])
        rows += biases


def conv_forward(x, weights, biases, stride, pad):
    """Convolution of ``x`` by filters ``(F, sy, sx, D)``: ``(out, cache)``."""
    n, h, w, _ = x.shape
    f, sy, sx, _ = weights.shape
    oh, ow = (h + 2 * pad - sy) // stride + 1, (w + 2 * pad - sx) // stride + 1
    t = tile_for(tile_width(ow, f, stride), n * oh * ow)
    cols = tiled_windows(pad_batch(x, pad), sy, sx, stride, oh, ow, t)
    out = cols @ tiled_filters(weights, stride, t)
    add_bias(out.reshape(n * oh, ow * f), biases)
    return out.reshape(n, oh, ow, f), (x.shape, cols, t)


def conv_backward(cache, dout, weights, stride, pad, dweights, dbiases, need_dx=True):
    """Filter and bias gradients into ``dweights``/``dbiases``; returns the input gradient."""
    x_shape, cols, t = cache
    f, sy, sx, _ = weights.shape
    if t == 1:
        np.matmul(dout.reshape(-1, f).T, cols, out=dweights.reshape(f, -1))
    else:
        untile_filter_grad(cols.T @ dout.reshape(-1, t * f), weights.shape, stride, t, dweights)
    column_sums(dout.reshape(-1, f), dbiases)
    if not need_dx:
        return None
    if stride == 1:
        dx = conv_input_grad(dout, weights, pad)
        if dx is not None and dx.shape == x_shape:
            return dx
    dcols = dout.reshape(-1, f) @ weights.reshape(f, -1)
    return fold(dcols, x_shape, sy, sx, stride, pad, dout.shape[1], dout.shape[2])


# -- max pooling -----------------------------------------------------------------------
def pool_shape(h, w, sy, sx, stride, pad):
    return (h + 2 * pad - sy) // stride + 1, (w + 2 * pad - sx) // stride + 1


def _take(a, axis, k, s):
    index = [slice(None)] * a.ndim
    index[axis] = slice(k, None, s)
    return tuple(index)


def _max_groups(x, axis, s):
    """Max over consecutive groups of ``s`` along ``axis``, and the winner in each group
    (the first, on ties): a bool "second won" for pairs, else the index as uint8."""
    parts = [x[_take(x, axis, k, s)] for k in range(s)]
    out = np.maximum(parts[0], parts[1])
    arg = np.greater(parts[1], parts[0])
    if s == 2:
        return out, arg
    arg = arg.view(np.uint8)
    for k in range(2, s):
        # Strictly greater than every earlier cell: k wins, and k is the largest index so far.
        won = np.greater(parts[k], out).view(np.uint8)
        np.maximum(out, parts[k], out=out)
        won *= k
        np.maximum(arg, won, out=arg)
    return out, arg


def _route_groups(dout, arg, axis, s):
    """Send each group's gradient back to its winner (the adjoint of ``_max_groups``)."""
    shape = list(dout.shape)
    shape[axis] *= s
    dx = np.empty(shape, dtype=dout.dtype)
    if s == 2:
        second = dx[_take(dx, axis, 1, s)]
        np.multiply(dout, arg, out=second)
        # The first cell gets dout - dout or dout - 0: exact, for finite gradients.
        np.subtract(dout, second, out=dx[_take(dx, axis, 0, s)])
        return dx
    for k in range(s):
        np.multiply(dout, arg == k, out=dx[_take(dx, axis, k, s)])
    return dx


def _window_offsets(xp, sy, sx, stride, oh, ow):
    for j in range(sx):  # ConvNetJS's order: on ties, the first of these wins
        for i in range(sy):
            yield i, j, xp[:, i:i + stride * oh:stride, j:j + stride * ow:stride, :]


def pool_forward(x, sy, sx, stride, pad):
    """Max pooling (padded cells never win): ``(out, cache)``."""
    n, h, w, _ = x.shape
    oh, ow = pool_shape(h, w, sy, sx, stride, pad)
    if pad == 0 and stride == sx == sy == 1:  # a 1x1 window keeps every cell
        return x.copy(), ("identity", x.shape, None, None, (sy, sx, stride, pad))
    if pad == 0 and stride == sx == sy:
        # Non-overlapping windows: max over each window's rows, then over its
        # columns, remembering which row/column won (the first, on ties).
        s = stride
        rows, row_arg = _max_groups(x[:, :oh * s, :ow * s], 1, s)
        out, col_arg = _max_groups(rows, 2, s)
        return out, ("tiles", x.shape, row_arg, col_arg, (sy, sx, stride, pad))
    xp = pad_batch(x, pad, -np.inf)
    out = None
    for _, _, v in _window_offsets(xp, sy, sx, stride, oh, ow):
        out = v.copy() if out is None else np.maximum(out, v, out=out)
    return out, ("windows", x, out, None, (sy, sx, stride, pad))


def pool_backward(cache, dout):
    """The input gradient of max pooling: each window's gradient goes to one winner."""
    kind, a, b, c, (sy, sx, stride, pad) = cache
    if kind == "identity":
        return dout.copy()
    if kind == "tiles":
        x_shape, row_arg, col_arg = a, b, c
        s, oh, ow = stride, dout.shape[1], dout.shape[2]
        drows = _route_groups(dout, col_arg, 2, s)
        if x_shape[1:3] == (oh * s, ow * s):
            return _route_groups(drows, row_arg, 1, s)
        dx = np.zeros(x_shape, dtype=dout.dtype)
        dx[:, :oh * s, :ow * s] = _route_groups(drows, row_arg, 1, s)
        return dx
    x, out = a, b
    oh, ow = out.shape[1:3]
    xp = pad_batch(x, pad, -np.inf)
    dxp = np.zeros(xp.shape, dtype=dout.dtype)
    taken = np.zeros(out.shape, dtype=bool)
    # Each window sends its gradient to exactly one cell holding the max (the first).
    for i, j, v in _window_offsets(xp, sy, sx, stride, oh, ow):
        hit = v == out
        hit &= ~taken
        taken |= hit
        dxp[:, i:i + stride * oh:stride, j:j + stride * ow:stride, :] += dout * hit
    if pad:
        return dxp[:, pad:pad + x.shape[1], pad:pad + x.shape[2], :]
    return dxp
