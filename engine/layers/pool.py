"""Max pooling (ConvNetJS's ``pool``): padded cells never win a window."""
import numpy as np

from ..errors import SpecError
from .. import options
from .base import Layer
from .im2col import pad_batch


class PoolLayer(Layer):
    layer_type = "pool"
    spec_keys = ("sx", "sy", "stride", "pad")

    def __init__(self, opts, in_shape):
        super().__init__(opts, in_shape)
        o = options.parse(opts, "pool")
        self.sx, self.sy, self.stride, self.pad = o["sx"], o["sy"], o["stride"], o["pad"]
        if self.pad >= min(self.sx, self.sy):
            raise SpecError(f"{self.describe()}: 'pad' must be smaller than the window, "
                            f"or some windows would hold only padding")
        hp, wp = self.in_sy + 2 * self.pad, self.in_sx + 2 * self.pad
        if self.sy > hp or self.sx > wp:
            raise SpecError(f"{self.describe()}: input is {self.in_sx}x{self.in_sy}, "
                            f"smaller than the window")
        self.out_sy = (hp - self.sy) // self.stride + 1
        self.out_sx = (wp - self.sx) // self.stride + 1
        self.out_depth = self.in_depth
        # Non-overlapping windows without padding: max over a reshaped view.
        self.tiles = self.pad == 0 and self.stride == self.sx == self.sy

    def describe(self):
        return f"pool {self.sx}x{self.sy} stride {self.stride}" + (f" pad {self.pad}" if self.pad else "")

    def _offsets(self, xp):
        s, oh, ow = self.stride, self.out_sy, self.out_sx
        for j in range(self.sx):  # ConvNetJS's order: on ties, the first of these wins
            for i in range(self.sy):
                yield i, j, xp[:, i:i + s * oh:s, j:j + s * ow:s, :]

    def forward(self, x, training=False):
        self._x = x
        if self.tiles:
            # Non-overlapping windows: max over each window's rows, then over its
            # columns, remembering which row/column won (the first, on ties).
            s, oh, ow = self.stride, self.out_sy, self.out_sx
            rows, self._row_arg = _max_groups(x[:, :oh * s, :ow * s], 1, s)
            out, self._col_arg = _max_groups(rows, 2, s)
        else:
            xp = pad_batch(x, self.pad, -np.inf)
            out = None
            for _, _, v in self._offsets(xp):
                out = v.copy() if out is None else np.maximum(out, v, out=out)
            self._max = out  # out_act may be replaced (a relu folded in after it)
        self.out_act = out
        return out

    def backward(self, dout, need_dx=True):
        self.out_grad = dout
        if not need_dx:
            return None
        x = self._x
        if self.tiles:
            s, oh, ow = self.stride, self.out_sy, self.out_sx
            drows = _route_groups(dout, self._col_arg, 2, s)
            if x.shape[1:3] == (oh * s, ow * s):
                return _route_groups(drows, self._row_arg, 1, s)
            dx = np.zeros(x.shape, dtype=dout.dtype)
            dx[:, :oh * s, :ow * s] = _route_groups(drows, self._row_arg, 1, s)
            return dx
        out = self._max
        xp = pad_batch(x, self.pad, -np.inf)
        dxp = np.zeros(xp.shape, dtype=dout.dtype)
        taken = np.zeros(out.shape, dtype=bool)
        s, oh, ow = self.stride, self.out_sy, self.out_sx
        # Each window sends its gradient to exactly one cell holding the max (the first).
        for i, j, v in self._offsets(xp):
            hit = v == out
            hit &= ~taken
            taken |= hit
            dxp[:, i:i + s * oh:s, j:j + s * ow:s, :] += dout * hit
        if self.pad:
            p = self.pad
            return dxp[:, p:p + x.shape[1], p:p + x.shape[2], :]
        return dxp

    def to_json(self):
        j = super().to_json()
        j.update(sx=self.sx, sy=self.sy, stride=self.stride, in_depth=self.in_depth, pad=self.pad)
        return j


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
