"""Max pooling (ConvNetJS's ``pool``): padded cells never win a window."""
import numpy as np

from ..errors import SpecError
from .base import Layer, int_opt
from .im2col import pad_batch


class PoolLayer(Layer):
    layer_type = "pool"
    spec_keys = ("sx", "sy", "stride", "pad")

    def __init__(self, opts, in_shape):
        super().__init__(opts, in_shape)
        self.sx = int_opt(opts, "sx", "pool")
        self.sy = int_opt(opts, "sy", "pool", default=self.sx)
        self.stride = int_opt(opts, "stride", "pool", default=2)
        self.pad = int_opt(opts, "pad", "pool", default=0, minimum=0)
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
        self._tiles = self.pad == 0 and self.stride == self.sx == self.sy

    def describe(self):
        return f"pool {self.sx}x{self.sy} stride {self.stride}" + (f" pad {self.pad}" if self.pad else "")

    def _offsets(self, xp):
        s, oh, ow = self.stride, self.out_sy, self.out_sx
        for i in range(self.sy):
            for j in range(self.sx):
                yield i, j, xp[:, i:i + s * oh:s, j:j + s * ow:s, :]

    def forward(self, x, training=False):
        self._x = x
        n, oh, ow, s = x.shape[0], self.out_sy, self.out_sx, self.stride
        if self._tiles:
            t = x[:, :oh * s, :ow * s, :].reshape(n, oh, s, ow * s, x.shape[3])
            rows = t.max(axis=2)                              # max over rows of each window,
            out = rows.reshape(n, oh, ow, s, x.shape[3]).max(axis=3)  # then over its columns
        else:
            xp = pad_batch(x, self.pad, -np.inf)
            out = None
            for _, _, v in self._offsets(xp):
                out = v.copy() if out is None else np.maximum(out, v, out=out)
        self.out_act = out
        return out

    def backward(self, dout, need_dx=True):
        self.out_grad = dout
        if not need_dx:
            return None
        x, out = self._x, self.out_act
        xp = pad_batch(x, self.pad, -np.inf)
        dxp = np.zeros(xp.shape, dtype=dout.dtype)
        taken = np.zeros(out.shape, dtype=bool)
        s, oh, ow = self.stride, self.out_sy, self.out_sx
        # Each window sends its gradient to exactly one cell holding the max (the first).
        for i, j, v in self._offsets(xp):
            hit = v == out
            hit &= ~taken
            taken |= hit
            dxp[:, i:i + s * oh:s, j:j + s * ow:s, :] += np.where(hit, dout, 0)
        if self.pad:
            p = self.pad
            return dxp[:, p:p + x.shape[1], p:p + x.shape[2], :]
        return dxp

    def to_json(self):
        j = super().to_json()
        j.update(sx=self.sx, sy=self.sy, stride=self.stride, in_depth=self.in_depth, pad=self.pad)
        return j

    @classmethod
    def opts_from_json(cls, obj):
        return {"sx": obj.get("sx"), "sy": obj.get("sy"), "stride": obj.get("stride", 2),
                "pad": obj.get("pad", 0)}
