"""Max pooling (ConvNetJS's ``pool``): padded cells never win a window."""
from engine.core import kernels, options
from engine.core.errors import SpecError
from engine.core.layers.base import Layer


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

    def describe(self):
        return f"pool {self.sx}x{self.sy} stride {self.stride}" + (f" pad {self.pad}" if self.pad else "")

    def forward(self, x, training=False, rng=None):
        return kernels.pool_forward(x, self.sy, self.sx, self.stride, self.pad)

    def backward(self, cache, dout, grads=(), need_dx=True):
        if need_dx:
            return kernels.pool_backward(cache, dout)

    def to_json(self):
        j = super().to_json()
        j.update(sx=self.sx, sy=self.sy, stride=self.stride, in_depth=self.in_depth, pad=self.pad)
        return j

