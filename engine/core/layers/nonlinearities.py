"""Element-wise activations and maxout."""
import numpy as np

from engine.core import options
from engine.core.errors import SpecError
from engine.core.layers.base import Layer


class ReluLayer(Layer):
    layer_type = "relu"

    def forward(self, x, training=False, rng=None):
        out = np.maximum(x, 0)
        return out, out

    def backward(self, out, dout, grads=(), need_dx=True):
        if need_dx:
            # ConvNetJS: no gradient where the output is <= 0. (A multiply by the
            # boolean mask is an order of magnitude faster than np.where here.)
            return dout * (out > 0)


class LeakyReluLayer(Layer):
    """``x`` where positive, ``alpha * x`` elsewhere (not in ConvNetJS)."""
    layer_type = "leaky_relu"
    spec_keys = ("alpha",)

    def __init__(self, opts, in_shape):
        super().__init__(opts, in_shape)
        self.alpha = options.read(opts, "leaky_relu", "alpha")

    def describe(self):
        return f"leaky_relu alpha {self.alpha:g}"

    def forward(self, x, training=False, rng=None):
        pos = x > 0
        return np.where(pos, x, x * x.dtype.type(self.alpha)), pos

    def backward(self, pos, dout, grads=(), need_dx=True):
        if need_dx:
            return np.where(pos, dout, dout * dout.dtype.type(self.alpha))

    def to_json(self):
        j = super().to_json()
        j["alpha"] = self.alpha
        return j


class SigmoidLayer(Layer):
    layer_type = "sigmoid"

    def forward(self, x, training=False, rng=None):
        # 0.5*(1+tanh(x/2)) is the logistic function without overflow in exp.
        y = 0.5 * (1 + np.tanh(0.5 * x))
        return y, y

    def backward(self, y, dout, grads=(), need_dx=True):
        if need_dx:
            return dout * y * (1 - y)


class TanhLayer(Layer):
    layer_type = "tanh"

    def forward(self, x, training=False, rng=None):
        y = np.tanh(x)
        return y, y

    def backward(self, y, dout, grads=(), need_dx=True):
        if need_dx:
            return dout * (1 - y * y)


class MaxoutLayer(Layer):
    """Max over consecutive groups of ``group_size`` channels."""
    layer_type = "maxout"
    spec_keys = ("group_size",)

    def __init__(self, opts, in_shape):
        super().__init__(opts, in_shape)
        self.group_size = options.read(opts, "maxout", "group_size")
        if self.in_depth % self.group_size:
            raise SpecError(f"maxout group {self.group_size}: input depth {self.in_depth} "
                            f"is not divisible by the group size")
        self.out_depth = self.in_depth // self.group_size

    def describe(self):
        return f"maxout group {self.group_size}"

    def forward(self, x, training=False, rng=None):
        g = x.reshape(x.shape[:3] + (self.out_depth, self.group_size))
        idx = g.argmax(axis=-1)
        return np.take_along_axis(g, idx[..., None], axis=-1)[..., 0], idx

    def backward(self, idx, dout, grads=(), need_dx=True):
        if not need_dx:
            return None
        dx = np.zeros(dout.shape + (self.group_size,), dtype=dout.dtype)
        np.put_along_axis(dx, idx[..., None], dout[..., None], axis=-1)
        return dx.reshape(dout.shape[:3] + (self.in_depth,))

    def to_json(self):
        j = super().to_json()
        j["group_size"] = self.group_size
        return j
