"""Dropout.

ConvNetJS scales activations by ``1 - drop_prob`` at inference; here dropout is
inverted (kept activations scaled by ``1/(1 - drop_prob)`` while training, identity
at inference), which gives the same expectations and lets inference skip the layer.
"""
import numpy as np

from engine.core import options
from engine.core.layers.base import Layer


class DropoutLayer(Layer):
    layer_type = "dropout"
    spec_keys = ("drop_prob",)

    def __init__(self, opts, in_shape):
        super().__init__(opts, in_shape)
        self.drop_prob = options.read(opts, "dropout", "drop_prob")

    def describe(self):
        return f"dropout {self.drop_prob:g}"

    def forward(self, x, training=False, rng=None):
        """Training needs ``rng`` (the caller's generator: the net's, or a piece's own)."""
        if not (training and self.drop_prob > 0):
            return x, None
        keep = rng.random(x.shape, dtype=np.float32) >= self.drop_prob
        mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.drop_prob))
        return x * mask, mask

    def backward(self, mask, dout, grads=(), need_dx=True):
        if need_dx:
            return dout if mask is None else dout * mask

    def to_json(self):
        j = super().to_json()
        j["drop_prob"] = self.drop_prob
        return j
