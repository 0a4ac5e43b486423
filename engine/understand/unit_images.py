"""What a unit wants: an input made by gradient ascent that makes a class or a filter fire.

Starting from a grey image (0 in the network's input scaling, half way between black
and white), the input is moved up the gradient of the unit's activation, with the usual
regularisers of activation maximisation (Erhan et al. 2009, Simonyan et al. 2013,
Yosinski et al. 2015): a random shift of up to ``jitter`` pixels before each step (the
image must work wherever it sits, so it cannot rely on one pixel's exact place), a small
L2 decay towards grey, a light Gaussian blur every few steps (it removes the
checkerboard noise a gradient alone builds up), and pixels kept in the range an image
can have (-0.5 to 0.5).

A unit is a class (``layer=None``: its centred score ``s_c - mean_k s_k``, as in
``engine.explain``) or channel ``k`` of a layer's output, whose mean over all positions
is maximised (for a conv layer, its pre-activation output: the gradient then reaches
every position, also where the relu would be off). One image per unit, all of them in
one batch.
"""
import numbers

import numpy as np

from engine.core.errors import DataError, OptionError
from engine.core.tasks import Reporter


def unit_layer(net, layer):
    """``layer`` checked: None (the classes) or the index of a layer whose channels are units."""
    last = len(net.layers) - 1
    if layer is None or layer == last:
        if net.loss_layer.layer_type == "regression":
            return last - 1  # the values' fc: its units are the outputs
        return None
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not 0 < layer < last:
        raise OptionError(f"layer must be None (the classes) or the index of a layer between "
                          f"the input and the loss layer (1 to {last - 1}), got {layer!r}")
    return int(layer)


def count_units(net, layer=None):
    """How many units (classes, or channels of ``layer``) there are."""
    layer = unit_layer(net, layer)
    return net.loss_layer.num_inputs if layer is None else net.layers[layer].out_depth


def unit_activations(net, x, layer=None):
    """``(N, units)``: each unit's activation on each example of ``x``: the centred class
    scores (``layer=None``), or the mean over positions of each channel of ``layer``."""
    x = net.check_batch(x)
    idx = unit_layer(net, layer)
    if idx is None:
        s = net.trace(x).acts[-2].reshape(len(x), -1).astype(np.float64)
        return s - s.mean(axis=1, keepdims=True)
    return net.trace(x).acts[idx].mean(axis=(1, 2)).astype(np.float64)


def _blur(x, sigma):
    """A separable Gaussian blur of a batch ``(N, H, W, C)``, edges repeated."""
    dtype = x.dtype
    r = max(1, int(np.ceil(2 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    for axis in (1, 2):
        pad = [(0, 0)] * 4
        pad[axis] = (r, r)
        p = np.pad(x, pad, mode="edge")
        size = x.shape[axis]
        x = sum(w * np.take(p, np.arange(i, i + size), axis=axis) for i, w in enumerate(k))
    return x.astype(dtype)


def unit_images(net, layer=None, units=None, steps=200, step_size=0.05, l2=0.002, jitter=1,
                blur_every=4, blur_sigma=0.5, seed=0, progress=None, cancelled=None):
    """Inputs that make each unit fire, by regularised gradient ascent from grey.

    Parameters
    ----------
    net : engine.Net
    layer : int, optional
        None (default): one image per class. Otherwise the index in ``net.layers`` of a
        layer (a conv, usually): one image per channel (filter) of its output.
    units : sequence of int, optional
        Which classes or channels (default: all of them).
    steps : int
        Gradient steps. Each moves every pixel by at most ``step_size`` times its share of
        the gradient (the gradient divided by its mean absolute value per image).
    l2 : float
        Decay towards grey per step.
    jitter : int
        Largest random shift (pixels) before each step.
    blur_every, blur_sigma
        A Gaussian blur of ``blur_sigma`` pixels every ``blur_every`` steps (0: never).
    seed : int
        For the jitter.
    progress, cancelled : callables, optional
        ``progress(fraction_done)`` every few steps; ``cancelled() -> bool``, when true,
        stops with ``engine.errors.Cancelled``.

    Returns
    -------
    images : ndarray ``(U, H, W, C)`` float32
        In the network's input scaling (-0.5 black to 0.5 white).
    """
    idx = unit_layer(net, layer)
    n_units = count_units(net, layer)
    if units is None:
        units = np.arange(n_units)
    units = np.asarray(units)
    if units.ndim != 1 or units.size == 0 or units.dtype.kind not in "iu":
        raise DataError(f"units: expected a list of unit indices, got {units!r}")
    if units.min() < 0 or units.max() >= n_units:
        raise DataError(f"units: {units[(units < 0) | (units >= n_units)][0]} is out of range "
                        f"(0 to {n_units - 1})")
    for name, value in (("steps", steps), ("jitter", jitter), ("blur_every", blur_every)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise OptionError(f"{name} must be a whole number >= 0, got {value!r}")
    for name, value in (("step_size", step_size), ("l2", l2), ("blur_sigma", blur_sigma)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
            raise OptionError(f"{name} must be a number >= 0, got {value!r}")
    report = Reporter(progress, cancelled)
    rng = np.random.default_rng(seed)
    u = len(units)
    h, w, c = net.input_shape
    target = len(net.layers) - 2 if idx is None else idx  # the scores' fc, or the layer
    out_shape = net.layers[target].out_shape
    # d objective / d (target's output): one-hot over channels, spread over positions
    d = np.zeros((u,) + out_shape, net.dtype)
    d[np.arange(u), :, :, units] = 1.0 / (out_shape[0] * out_shape[1])
    if idx is None and net.loss_layer.layer_type != "regression":
        d -= 1.0 / (out_shape[0] * out_shape[1] * out_shape[2])  # centred score
    x = np.zeros((u, h, w, c), net.dtype)
    for step in range(steps):
        if step % 10 == 0:
            report.progress(step / steps)
        dy, dx = rng.integers(-jitter, jitter + 1, 2) if jitter else (0, 0)
        shifted = np.roll(x, (dy, dx), axis=(1, 2))
        g = np.roll(net.trace(shifted, out_grad=(target, d)).input_grad, (-dy, -dx), axis=(1, 2))
        scale = np.abs(g).mean(axis=(1, 2, 3), keepdims=True)
        x += step_size * g / np.maximum(scale, 1e-12)
        x *= 1 - l2
        if blur_every and blur_sigma > 0 and (step + 1) % blur_every == 0:
            x = _blur(x, blur_sigma)
        np.clip(x, -0.5, 0.5, out=x)
    report.progress(1.0)
    return np.ascontiguousarray(x, dtype=np.float32)
