"""Networks that exercise every layer type and layout the exporters must get right, and helpers."""
import importlib.util
import sys
import uuid

import numpy as np

from engine import Net
from engine.data import load_mnist, network_input


def _net(defs, seed=3):
    return Net(defs, seed=seed)


def _inp(sx=28, sy=28, depth=1):
    return {"type": "input", "out_sx": sx, "out_sy": sy, "out_depth": depth}


def conv_rect_stride_pad():
    """Rectangular filters, stride 2, padding; an overlapping padded pool; fc over a 7x7 volume."""
    return _net([_inp(),
                 {"type": "conv", "sx": 5, "sy": 3, "filters": 6, "stride": 2, "pad": 1, "activation": "relu"},
                 {"type": "pool", "sx": 3, "stride": 2, "pad": 1},
                 {"type": "fc", "num_neurons": 20, "activation": "tanh"},
                 {"type": "softmax", "num_classes": 10}])


def pool_padded_negative():
    """Max pooling of negative values over padded, overlapping, rectangular windows
    (padding with zeros instead of -inf would win there)."""
    net = _net([_inp(),
                {"type": "conv", "sx": 3, "filters": 4, "stride": 1, "pad": 0},
                {"type": "pool", "sx": 3, "sy": 2, "stride": 2, "pad": 1},
                {"type": "pool", "sx": 4, "stride": 3, "pad": 3},
                {"type": "softmax", "num_classes": 10}])
    net.layers[1].biases[...] = -3.0  # every conv output negative
    return net


def activations():
    """leaky_relu, sigmoid, maxout over conv channels and over fc neurons, tanh, dropout."""
    return _net([_inp(),
                 {"type": "conv", "sx": 5, "filters": 8, "stride": 1, "pad": 2},
                 {"type": "leaky_relu", "alpha": 0.2},
                 {"type": "pool", "sx": 2, "stride": 2},
                 {"type": "conv", "sx": 3, "filters": 8, "stride": 2, "pad": 1, "activation": "maxout",
                  "group_size": 2},
                 {"type": "sigmoid"},
                 {"type": "fc", "num_neurons": 24, "activation": "tanh", "drop_prob": 0.5},
                 {"type": "fc", "num_neurons": 24, "activation": "maxout", "group_size": 3},
                 {"type": "softmax", "num_classes": 10}])


def lrn():
    """lrn with ConvNetJS's window (n 3 and 5), strong enough to matter, also after an fc."""
    return _net([_inp(),
                 {"type": "conv", "sx": 5, "filters": 8, "stride": 1, "pad": 2, "activation": "relu"},
                 {"type": "lrn", "k": 1.0, "n": 3, "alpha": 0.5, "beta": 0.75},
                 {"type": "pool", "sx": 2, "stride": 2},
                 {"type": "conv", "sx": 3, "filters": 7, "pad": 1},
                 {"type": "lrn", "k": 2.0, "n": 5, "alpha": 0.3, "beta": 0.6},
                 {"type": "fc", "num_neurons": 12},
                 {"type": "lrn", "k": 1.5, "n": 5, "alpha": 1.0, "beta": 0.9},
                 {"type": "softmax", "num_classes": 10}])


def batchnorm():
    """batchnorm over conv channels and over fc neurons, with running statistics far from 0/1."""
    net = _net([_inp(),
                {"type": "conv", "sx": 5, "filters": 8, "stride": 1, "pad": 2},
                {"type": "batchnorm", "eps": 1e-3},
                {"type": "relu"},
                {"type": "pool", "sx": 2, "stride": 2},
                {"type": "fc", "num_neurons": 32},
                {"type": "batchnorm"},
                {"type": "relu"},
                {"type": "softmax", "num_classes": 10}])
    rng = np.random.default_rng(5)
    for layer in net.layers:
        if layer.layer_type == "batchnorm":
            d = layer.in_depth
            layer.gamma[...] = rng.uniform(0.5, 1.5, d)
            layer.beta[...] = rng.normal(0, 0.2, d)
            layer.running_mean[...] = rng.normal(0, 0.5, d)
            layer.running_var[...] = rng.uniform(0.3, 2.0, d)
    return net


def svm():
    return _net([_inp(),
                 {"type": "conv", "sx": 5, "filters": 8, "stride": 1, "pad": 2, "activation": "relu"},
                 {"type": "pool", "sx": 3, "stride": 3},
                 {"type": "svm", "num_classes": 10}])


def regression():
    return _net([_inp(),
                 {"type": "conv", "sx": 5, "filters": 6, "stride": 2, "activation": "tanh"},
                 {"type": "fc", "num_neurons": 16, "activation": "sigmoid"},
                 {"type": "regression", "num_neurons": 3}])


def conv_after_fc():
    """Volumes of 1x1 after an fc feeding a 1x1 conv and maxout."""
    return _net([_inp(),
                 {"type": "pool", "sx": 4, "stride": 4},
                 {"type": "fc", "num_neurons": 16, "activation": "relu"},
                 {"type": "conv", "sx": 1, "filters": 12, "activation": "maxout", "group_size": 2},
                 {"type": "softmax", "num_classes": 10}])


def rectangular_rgb():
    """A 20x12x3 input (no dataset fits: random inputs), rectangular windows everywhere."""
    return _net([_inp(sx=20, sy=12, depth=3),
                 {"type": "conv", "sx": 3, "sy": 5, "filters": 5, "stride": 1, "pad": 2, "activation": "relu"},
                 {"type": "pool", "sx": 2, "sy": 3, "stride": 2},
                 {"type": "fc", "num_neurons": 7},
                 {"type": "softmax", "num_classes": 4}])


def loss_after_conv():
    """A snapshot whose softmax follows a 4x4x2 conv directly (32 classes): the loss layer
    flattens in the engine's (y, x, channel) order."""
    net = _net([_inp(),
                {"type": "conv", "sx": 7, "filters": 2, "stride": 7},
                {"type": "softmax", "num_classes": 32}])
    snap = net.to_json()
    del snap["layers"][2]  # the fc the shorthand inserted
    snap["layers"][2]["num_inputs"] = 32
    return Net.from_json(snap)


NETS = {f.__name__: f for f in (conv_rect_stride_pad, pool_padded_negative, activations, lrn, batchnorm,
                                svm, regression, conv_after_fc, rectangular_rgb, loss_after_conv)}

LAYER_TYPES_COVERED = sorted({l.layer_type for f in NETS.values() for l in f().layers})

_MNIST = {}


def mnist():
    if "data" not in _MNIST:
        _MNIST["data"] = load_mnist()
    return _MNIST["data"]


def inputs_for(net, n=1000):
    """The first ``n`` MNIST test images as ``net`` takes them, or seeded noise when they do not fit."""
    sy, sx, depth = net.input_shape
    if depth == 1 and sy == sx and sy <= 28:
        return network_input(mnist().test.images[:n], net.input_shape)
    return np.random.default_rng(0).uniform(-0.5, 0.5, (n, sy, sx, depth)).astype(np.float32)


def engine_out(net, x):
    return np.concatenate([net.forward(x[i:i + 500]).reshape(len(x[i:i + 500]), -1)
                           for i in range(0, len(x), 500)])


def tolerance(net, reference, base=1e-5):
    """1e-5 for probabilities; scaled by the largest magnitude for raw scores and values."""
    if net.layers[-1].layer_type == "softmax":
        return base
    return base * max(1.0, float(np.abs(reference).max()))


def import_file(path, name=None, extra_path=None):
    """Import a Python file under a fresh module name; ``extra_path`` is on sys.path (and any
    ``model`` module from elsewhere out of the way) only while it runs."""
    name = name or f"_test_module_{uuid.uuid4().hex}"
    saved_model = sys.modules.pop("model", None)
    if extra_path is not None:
        sys.path.insert(0, str(extra_path))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        if extra_path is not None:
            while str(extra_path) in sys.path:
                sys.path.remove(str(extra_path))
        sys.modules.pop("model", None)
        if saved_model is not None:
            sys.modules["model"] = saved_model
