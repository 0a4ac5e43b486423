"""Local response normalisation (ConvNetJS's ``lrn``) and spatial batch normalisation."""
import numpy as np

from engine.core import kernels, options
from engine.core.errors import SnapshotError, SpecError
from engine.core.layers.base import Layer, vol_from_json, vol_to_json


def _channel_window_sum(a, half):
    """Sum over channels ``i-half .. i+half`` clipped to the volume (last axis)."""
    d = a.shape[-1]
    c = np.zeros(a.shape[:-1] + (d + 1,), dtype=a.dtype)
    np.cumsum(a, axis=-1, out=c[..., 1:])
    hi = np.minimum(np.arange(d) + half + 1, d)
    lo = np.maximum(np.arange(d) - half, 0)
    return c[..., hi] - c[..., lo]


class LocalResponseNormalizationLayer(Layer):
    """``a / (k + alpha/n * sum_window a^2)^beta`` over a window of ``n`` channels.

    ConvNetJS's backward pass is not the true gradient; this one is.
    """
    layer_type = "lrn"
    spec_keys = ("k", "n", "alpha", "beta")

    def __init__(self, opts, in_shape):
        super().__init__(opts, in_shape)
        o = options.parse(opts, "lrn")
        self.k, self.n, self.alpha, self.beta = o["k"], o["n"], o["alpha"], o["beta"]
        if self.n % 2 == 0:
            raise SpecError(f"lrn: 'n' must be odd (a window centred on each channel), got {self.n}")
        if self.k == 0 and self.alpha == 0:
            raise SpecError("lrn: 'k' and 'alpha' cannot both be 0 (division by zero)")

    def describe(self):
        return f"lrn n {self.n}, k {self.k:g}, alpha {self.alpha:g}, beta {self.beta:g}"

    def forward(self, x, training=False, rng=None):
        s = _channel_window_sum(x * x, self.n // 2)
        scale = s * x.dtype.type(self.alpha / self.n) + x.dtype.type(self.k)
        pw = scale ** x.dtype.type(-self.beta)
        return x * pw, (x, scale, pw)

    def backward(self, cache, dout, grads=(), need_dx=True):
        if not need_dx:
            return None
        x, scale, pw = cache
        # d out_j / d x_i = delta_ij * scale_j^-b - 2ab/n * x_i * x_j * scale_j^(-b-1)
        # for every j whose window holds i; windows are symmetric, so that is i's window.
        t = dout * x * pw / scale
        c = _channel_window_sum(t, self.n // 2)
        return dout * pw - x.dtype.type(2 * self.alpha * self.beta / self.n) * x * c

    def to_json(self):
        j = super().to_json()
        j.update(k=self.k, n=self.n, alpha=self.alpha, beta=self.beta)
        return j


class BatchNormLayer(Layer):
    """Spatial batch normalisation: per channel over the batch and all positions.

    Training normalises with the batch's statistics and updates running ones
    (``running = (1 - momentum) * running + momentum * batch``, as PyTorch);
    inference uses the running statistics. Not in ConvNetJS: its snapshot entry
    is ``layer_type: "batchnorm"`` with ``gamma``/``beta`` volumes and the running
    statistics as lists.
    """
    layer_type = "batchnorm"
    has_params = True
    param_attrs = ("gamma", "beta")
    grad_attrs = ("dgamma", "dbeta")
    state_attrs = ("running_mean", "running_var")
    spec_keys = ("momentum", "eps")

    def __init__(self, opts, in_shape):
        super().__init__(opts, in_shape)
        o = options.parse(opts, "batchnorm")
        self.momentum, self.eps = o["momentum"], o["eps"]

    @property
    def n_params(self):
        return 2 * self.in_depth

    def describe(self):
        return "batchnorm"

    def init_params(self, rng, dtype):
        self.dtype = dtype
        d = self.in_depth
        self.gamma = np.ones(d, dtype=dtype)
        self.beta = np.zeros(d, dtype=dtype)
        self.dgamma = np.zeros_like(self.gamma)
        self.dbeta = np.zeros_like(self.beta)
        self.running_mean = np.zeros(d, dtype=dtype)
        self.running_var = np.ones(d, dtype=dtype)

    def forward(self, x, training=False, rng=None):
        if training:
            m = x.shape[0] * x.shape[1] * x.shape[2]
            mean = kernels.channel_sums(x) / x.dtype.type(m)
            xc = x - mean
            var = kernels.channel_sums(xc * xc) / x.dtype.type(m)
            mom = self.momentum
            self.running_mean *= 1 - mom
            self.running_mean += mom * mean
            self.running_var *= 1 - mom
            self.running_var += mom * var * (m / max(m - 1, 1))
        else:
            xc = x - self.running_mean
            var = self.running_var
        inv_std = 1.0 / np.sqrt(var + x.dtype.type(self.eps))
        xhat = xc * inv_std
        return xhat * self.gamma + self.beta, (xhat, inv_std, training)

    def backward(self, cache, dout, grads=(), need_dx=True):
        xhat, inv_std, training = cache
        dgamma, dbeta = grads
        kernels.channel_sums(dout * xhat, out=dgamma)
        kernels.channel_sums(dout, out=dbeta)
        if not need_dx:
            return None
        dxhat = dout * self.gamma
        if not training:
            return dxhat * inv_std
        m = dout.shape[0] * dout.shape[1] * dout.shape[2]
        # sum(dxhat) = gamma * sum(dout), sum(dxhat * xhat) = gamma * sum(dout * xhat)
        return (inv_std / m) * (m * dxhat - self.gamma * dbeta - xhat * (self.gamma * dgamma))

    def params_and_grads(self):
        return [{"params": self.gamma, "grads": self.dgamma, "l1_decay_mul": 0.0, "l2_decay_mul": 0.0},
                {"params": self.beta, "grads": self.dbeta, "l1_decay_mul": 0.0, "l2_decay_mul": 0.0}]

    def to_json(self):
        j = super().to_json()
        d = self.in_depth
        j.update(momentum=self.momentum, eps=self.eps,
                 gamma=vol_to_json(self.gamma, 1, 1, d), beta=vol_to_json(self.beta, 1, 1, d),
                 running_mean=self.running_mean.astype(float).tolist(),
                 running_var=self.running_var.astype(float).tolist())
        return j

    def load_json_params(self, obj):
        d = self.in_depth
        self.gamma[...] = vol_from_json(obj.get("gamma"), (d,), "batchnorm gamma", self.dtype)
        self.beta[...] = vol_from_json(obj.get("beta"), (d,), "batchnorm beta", self.dtype)
        for name in ("running_mean", "running_var"):
            self_arr = getattr(self, name)
            self_arr[...] = vol_from_json({"w": obj.get(name)}, (d,), f"batchnorm {name}", self.dtype)
        if np.any(self.running_var < 0):
            raise SnapshotError("batchnorm running_var: a variance is negative")
