"""Dropout.

ConvNetJS scales activations by ``1 - drop_prob`` at inference; here dropout is
inverted (kept activations scaled by ``1/(1 - drop_prob)`` while training, identity
at inference), which gives the same expectations and lets inference skip the layer.
"""
import numpy as np

from .. import options
from .base import Layer


class DropoutLayer(Layer):
    layer_type = "dropout"
    spec_keys = ("drop_prob",)

    def __init__(self, opts, in_shape):
        super().__init__(opts, in_shape)
        self.drop_prob = options.read(opts, "dropout", "drop_prob")
        self.rng = np.random.default_rng()

    def describe(self):
        return f"dropout {self.drop_prob:g}"

    def forward(self, x, training=False):
        if training and self.drop_prob > 0:
            keep = self.rng.random(x.shape, dtype=np.float32) >= self.drop_prob
            self._mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.drop_prob))
            self.out_act = x * self._mask
        else:
            self._mask = None
            self.out_act = x
        return self.out_act

    def backward(self, dout, need_dx=True):
        self.out_grad = dout
        if need_dx:
            return dout if self._mask is None else dout * self._mask

    def to_json(self):
        j = super().to_json()
        j["drop_prob"] = self.drop_prob
        return j
