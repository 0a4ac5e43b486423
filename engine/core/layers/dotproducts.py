"""Layers that compute dot products: convolution and fully connected.

Both keep their weights as one matrix so that every pass is a BLAS product:
conv filters are ``(filters, sy, sx, in_depth)``, i.e. rows of ``sy*sx*in_depth``
in the same order as an input window, and fc weights are ``(num_neurons, num_inputs)``.
"""
import numpy as np

from engine.core import kernels, options
from engine.core.errors import SnapshotError, SpecError
from engine.core.layers.base import Layer, vol_from_json, vol_to_json


def _init_bias(n, opts, dtype):
    return np.full(n, opts.get("bias_pref", 0.0) or 0.0, dtype=dtype)


class ConvLayer(Layer):
    layer_type = "conv"
    has_params = True
    param_attrs = ("weights", "biases")
    grad_attrs = ("dweights", "dbiases")
    spec_keys = ("sx", "sy", "filters", "stride", "pad", "l1_decay_mul", "l2_decay_mul")

    def __init__(self, opts, in_shape):
        super().__init__(opts, in_shape)
        o = options.parse(opts, "conv")
        self.sx, self.sy, self.filters = o["sx"], o["sy"], o["filters"]
        self.stride, self.pad = o["stride"], o["pad"]
        self.l1_decay_mul, self.l2_decay_mul = o["l1_decay_mul"], o["l2_decay_mul"]
        hp, wp = self.in_sy + 2 * self.pad, self.in_sx + 2 * self.pad
        if self.sy > hp or self.sx > wp:
            raise SpecError(f"{self.describe()}: input is {self.in_sx}x{self.in_sy}"
                            f"{' padded to %dx%d' % (wp, hp) if self.pad else ''}, "
                            f"smaller than the {self.sx}x{self.sy} filter")
        self.out_sy = (hp - self.sy) // self.stride + 1
        self.out_sx = (wp - self.sx) // self.stride + 1
        self.out_depth = self.filters

    @property
    def n_params(self):
        return self.filters * (self.sy * self.sx * self.in_depth + 1)

    def describe(self):
        return (f"conv {self.sx}x{self.sy}, {self.filters} filters, "
                f"stride {self.stride}, pad {self.pad}")

    def init_params(self, rng, dtype):
        self.dtype = dtype
        fan_in = self.sx * self.sy * self.in_depth
        shape = (self.filters, self.sy, self.sx, self.in_depth)
        self.weights = (rng.standard_normal(shape) * np.sqrt(1.0 / fan_in)).astype(dtype)
        self.biases = _init_bias(self.filters, self.opts, dtype)
        self.dweights = np.zeros_like(self.weights)
        self.dbiases = np.zeros_like(self.biases)

    def forward(self, x, training=False, rng=None):
        return kernels.conv_forward(x, self.weights, self.biases, self.stride, self.pad)

    def backward(self, cache, dout, grads=(), need_dx=True):
        dweights, dbiases = grads
        return kernels.conv_backward(cache, dout, self.weights, self.stride, self.pad,
                                     dweights, dbiases, need_dx)

    def params_and_grads(self):
        return [
            {"params": self.weights, "grads": self.dweights,
             "l1_decay_mul": self.l1_decay_mul, "l2_decay_mul": self.l2_decay_mul},
            {"params": self.biases, "grads": self.dbiases,
             "l1_decay_mul": 0.0, "l2_decay_mul": 0.0},
        ]

    def to_json(self):
        j = super().to_json()
        j.update(sx=self.sx, sy=self.sy, stride=self.stride, in_depth=self.in_depth,
                 pad=self.pad, l1_decay_mul=self.l1_decay_mul, l2_decay_mul=self.l2_decay_mul,
                 filters=[vol_to_json(f, self.sx, self.sy, self.in_depth) for f in self.weights],
                 biases=vol_to_json(self.biases, 1, 1, self.filters))
        return j

    def load_json_params(self, obj):
        filters = obj.get("filters")
        if not isinstance(filters, list) or len(filters) != self.filters:
            raise SnapshotError(f"{self.describe()}: expected {self.filters} filters")
        shape = (self.sy, self.sx, self.in_depth)
        self.weights[...] = np.stack([vol_from_json(f, shape, f"{self.describe()}, filter {i}",
                                                    self.dtype) for i, f in enumerate(filters)])
        self.biases[...] = vol_from_json(obj.get("biases"), (self.filters,),
                                         f"{self.describe()}, biases", self.dtype)


class FullyConnLayer(Layer):
    layer_type = "fc"
    has_params = True
    param_attrs = ("weights", "biases")
    grad_attrs = ("dweights", "dbiases")
    spec_keys = ("num_neurons", "l1_decay_mul", "l2_decay_mul")

    def __init__(self, opts, in_shape):
        super().__init__(opts, in_shape)
        o = options.parse(opts, "fc")
        self.num_neurons = o["num_neurons"]
        self.num_inputs = self.in_sx * self.in_sy * self.in_depth
        self.l1_decay_mul, self.l2_decay_mul = o["l1_decay_mul"], o["l2_decay_mul"]
        self.out_sx = self.out_sy = 1
        self.out_depth = self.num_neurons

    @property
    def n_params(self):
        return self.num_neurons * (self.num_inputs + 1)

    def describe(self):
        return f"fc {self.num_neurons} neurons"

    def init_params(self, rng, dtype):
        self.dtype = dtype
        shape = (self.num_neurons, self.num_inputs)
        self.weights = (rng.standard_normal(shape) * np.sqrt(1.0 / self.num_inputs)).astype(dtype)
        self.biases = _init_bias(self.num_neurons, self.opts, dtype)
        self.dweights = np.zeros_like(self.weights)
        self.dbiases = np.zeros_like(self.biases)

    def forward(self, x, training=False, rng=None):
        x2 = x.reshape(x.shape[0], -1)
        out = x2 @ self.weights.T
        out += self.biases
        return out.reshape(x.shape[0], 1, 1, self.num_neurons), (x2, x.shape)

    def backward(self, cache, dout, grads=(), need_dx=True):
        x2, x_shape = cache
        dweights, dbiases = grads
        d2 = dout.reshape(-1, self.num_neurons)
        np.matmul(d2.T, x2, out=dweights)
        kernels.column_sums(d2, dbiases)
        if need_dx:
            return (d2 @ self.weights).reshape(x_shape)

    params_and_grads = ConvLayer.params_and_grads

    def to_json(self):
        j = super().to_json()
        j.update(num_inputs=self.num_inputs, l1_decay_mul=self.l1_decay_mul,
                 l2_decay_mul=self.l2_decay_mul,
                 filters=[vol_to_json(f, 1, 1, self.num_inputs) for f in self.weights],
                 biases=vol_to_json(self.biases, 1, 1, self.num_neurons))
        return j

    def load_json_params(self, obj):
        filters = obj.get("filters")
        if not isinstance(filters, list) or len(filters) != self.num_neurons:
            raise SnapshotError(f"{self.describe()}: expected {self.num_neurons} weight rows")
        self.weights[...] = np.stack([vol_from_json(f, (self.num_inputs,),
                                                    f"{self.describe()}, neuron {i}", self.dtype)
                                      for i, f in enumerate(filters)])
        self.biases[...] = vol_from_json(obj.get("biases"), (self.num_neurons,),
                                         f"{self.describe()}, biases", self.dtype)
