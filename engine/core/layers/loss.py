"""Loss layers: softmax (cross-entropy), svm (structured hinge) and regression (L2).

A loss layer is last in a net. ``forward`` gives its output (probabilities, scores
or values); ``loss(y)`` gives the mean loss over the batch and the gradient of that
mean with respect to the layer's input.
"""
import numbers

import numpy as np

from engine.core import options
from engine.core.errors import DataError
from engine.core.layers.base import Layer


def class_indices(y, n, count, who, what="labels", one="label"):
    """``y`` checked as ``n`` whole class indices below ``count``, as int64; DataError
    naming ``who`` and ``what`` otherwise."""
    y = np.asarray(y)
    if y.ndim == 0:
        y = y.reshape(1)
    if y.shape != (n,):
        raise DataError(f"{who}: expected {n} {what} (one per example), got an array of shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise DataError(f"{who}: {what} must be whole class indices")
    elif y.dtype.kind not in "iub":
        raise DataError(f"{who}: {what} must be class indices, got {y.dtype}")
    y = y.astype(np.int64)
    bad = (y < 0) | (y >= count)
    if bad.any():
        raise DataError(f"{who}: {one} {y[bad][0]} is out of "
                        f"range: the network has {count} classes (0 to {count - 1})")
    return y


class LossLayer(Layer):
    is_loss = True

    def __init__(self, opts, in_shape):
        super().__init__(opts, in_shape)
        self.num_inputs = self.in_sx * self.in_sy * self.in_depth
        self.out_sx = self.out_sy = 1
        self.out_depth = self.num_inputs

    def forward(self, x, training=False, rng=None):
        x2 = x.reshape(x.shape[0], -1)
        out = self._output(x2)
        return out.reshape(x.shape[0], 1, 1, -1), (x2, out, x.shape)

    def _output(self, x):
        return x

    def backward(self, cache, dout, grads=(), need_dx=True):
        raise TypeError("a loss layer's gradient comes from loss(cache, y)")

    def loss(self, cache, y, n_total=None, checked=False):
        """Mean loss over the batch of ``cache`` (from ``forward``), and its gradient with
        respect to the layer's input; the gradient is divided by ``n_total`` (default:
        this batch). ``checked``: ``y`` already came through ``targets``."""
        x2, out, x_shape = cache
        if not checked:
            y = self.targets(y, x2.shape[0], x2.dtype)
        loss, dx = self._loss(x2, out, y, n_total or x2.shape[0])
        return loss, dx.reshape(x_shape)

    def to_json(self):
        j = super().to_json()
        j["num_inputs"] = self.num_inputs
        return j

    def targets(self, y, n, dtype):
        """``y`` checked as the targets of ``n`` examples, as this loss takes them."""
        return self.class_labels(y, n)

    def class_labels(self, y, n):
        """Check ``y`` as ``n`` class indices below ``num_inputs``; return it as int64."""
        return class_indices(y, n, self.num_inputs, self.layer_type, "labels")


class _ClassLoss(LossLayer):
    """A loss over classes: ``num_classes`` (used by the fc before it) is at least 2."""

    def __init__(self, opts, in_shape):
        super().__init__(opts, in_shape)
        if opts.get("num_classes") is not None:
            options.read(opts, self.layer_type, "num_classes")


class SoftmaxLayer(_ClassLoss):
    layer_type = "softmax"

    def describe(self):
        return f"softmax {self.num_inputs} classes"

    def _output(self, x):
        e = x - x.max(axis=1, keepdims=True)
        np.exp(e, out=e)
        e /= e.sum(axis=1, keepdims=True)
        return e

    def _loss(self, x, p, y, n_total):
        n = p.shape[0]
        rows = np.arange(n)
        py = p[rows, y]
        loss = float(-np.mean(np.log(np.maximum(py, np.finfo(p.dtype).tiny))))
        dx = p.copy()
        dx[rows, y] -= 1
        dx *= p.dtype.type(1.0 / n_total)
        return loss, dx


class SVMLayer(_ClassLoss):
    """ConvNetJS's structured hinge: sum over wrong classes of max(0, x_i - x_y + 1)."""
    layer_type = "svm"

    def describe(self):
        return f"svm {self.num_inputs} classes"

    def _loss(self, x, out, y, n_total):
        n = x.shape[0]
        rows = np.arange(n)
        margins = x - x[rows, y][:, None] + 1
        margins[rows, y] = 0
        pos = margins > 0
        loss = float(np.sum(margins[pos]) / n)
        dx = pos.astype(x.dtype)
        dx[rows, y] = -pos.sum(axis=1)
        dx *= x.dtype.type(1.0 / n_total)
        return loss, dx


class RegressionLayer(LossLayer):
    """L2 loss ``0.5 * sum((x - y)^2)`` per example."""
    layer_type = "regression"

    def describe(self):
        return f"regression {self.num_inputs} values"

    def targets(self, y, n, dtype):
        if isinstance(y, numbers.Number):
            y = [y]
        try:
            y = np.asarray(y, dtype=dtype)
        except (TypeError, ValueError):
            raise DataError("regression: targets must be numbers") from None
        if y.shape == (n,) and self.num_inputs == 1:
            y = y.reshape(n, 1)
        if y.shape != (n, self.num_inputs):
            raise DataError(f"regression: expected targets of shape ({n}, {self.num_inputs}), "
                            f"got {y.shape}")
        if not np.all(np.isfinite(y)):
            raise DataError("regression: a target is not finite")
        return y

    def _loss(self, x, out, y, n_total):
        d = x - y
        loss = float(0.5 * np.sum(d * d) / x.shape[0])
        return loss, d * x.dtype.type(1.0 / n_total)


class InputLayer(Layer):
    """The images: ``out_sx`` x ``out_sy`` x ``out_depth`` (or ``sx``/``width``, ...)."""
    layer_type = "input"
    spec_keys = ("out_sx", "out_sy", "out_depth")

    def __init__(self, opts, in_shape=None):
        o = options.parse(opts, "input")
        super().__init__(opts, (o["out_sy"], o["out_sx"], o["out_depth"]))

    def describe(self):
        return f"input {self.out_sx}x{self.out_sy}x{self.out_depth}"

    def forward(self, x, training=False, rng=None):
        return x, None

    def backward(self, cache, dout, grads=(), need_dx=True):
        return dout
