"""Numerical gradient checks in float64 for every layer type and for stacks of them."""
import numpy as np
import pytest

import engine
from engine.core.layers import LAYER_TYPES


def inp(sx, sy, depth):
    return {"type": "input", "out_sx": sx, "out_sy": sy, "out_depth": depth}


SMX = {"type": "softmax", "num_classes": 3}

# One small net per layer type (and per interesting option), each ending in a loss.
CASES = {
    "conv": [inp(6, 5, 2), {"type": "conv", "sx": 3, "filters": 3, "stride": 1, "pad": 1}, SMX],
    "conv_stride2_rect": [inp(7, 6, 2), {"type": "conv", "sx": 3, "sy": 2, "filters": 2, "stride": 2, "pad": 1}, SMX],
    "conv_depth1": [inp(5, 5, 1), {"type": "conv", "sx": 3, "filters": 2, "pad": 2}, SMX],
    # Tiles of 4 of the 8 output columns, forward and in the input gradient (8 channels),
    # with unequal row/column padding of the output gradient (pad 1 on a 2x3 filter).
    "conv_tiled_rect": [inp(8, 4, 8), {"type": "conv", "sx": 3, "sy": 2, "filters": 8, "pad": 1}, SMX],
    "fc": [inp(3, 2, 2), {"type": "fc", "num_neurons": 4}, SMX],
    "pool": [inp(6, 6, 2), {"type": "pool", "sx": 2, "stride": 2}, SMX],
    "pool_overlap_pad": [inp(5, 5, 2), {"type": "pool", "sx": 3, "stride": 2, "pad": 1}, SMX],
    "pool_ragged": [inp(7, 7, 2), {"type": "pool", "sx": 3, "stride": 3}, SMX],
    "relu": [inp(3, 3, 2), {"type": "fc", "num_neurons": 5}, {"type": "relu"}, SMX],
    "leaky_relu": [inp(3, 3, 2), {"type": "fc", "num_neurons": 5, "activation": "leaky_relu"}, SMX],
    "sigmoid": [inp(3, 3, 2), {"type": "fc", "num_neurons": 5, "activation": "sigmoid"}, SMX],
    "tanh": [inp(3, 3, 2), {"type": "tanh"}, SMX],
    "maxout": [inp(3, 3, 4), {"type": "maxout", "group_size": 2}, SMX],
    "dropout": [inp(3, 3, 2), {"type": "dropout", "drop_prob": 0.3}, SMX],
    "lrn": [inp(3, 3, 6), {"type": "lrn", "k": 1.0, "n": 3, "alpha": 0.5, "beta": 0.75}, SMX],
    "lrn_wide": [inp(2, 2, 4), {"type": "lrn", "k": 2.0, "n": 5, "alpha": 1.0, "beta": 0.75}, SMX],
    "batchnorm": [inp(3, 3, 3), {"type": "conv", "sx": 1, "filters": 3}, {"type": "batchnorm"}, SMX],
    "softmax": [inp(2, 2, 3), SMX],
    "svm": [inp(2, 2, 3), {"type": "svm", "num_classes": 4}],
    "regression": [inp(2, 2, 3), {"type": "regression", "num_neurons": 2}],
    "input": [inp(2, 1, 2), SMX],
    "stack_demo": [inp(8, 8, 1),
                   {"type": "conv", "sx": 3, "filters": 3, "pad": 1, "activation": "relu"},
                   {"type": "pool", "sx": 2, "stride": 2},
                   {"type": "conv", "sx": 3, "filters": 4, "pad": 1, "activation": "tanh"},
                   {"type": "lrn", "k": 1, "n": 3, "alpha": 0.1, "beta": 0.75},
                   {"type": "pool", "sx": 2, "stride": 2},
                   {"type": "fc", "num_neurons": 6, "activation": "maxout", "group_size": 2},
                   {"type": "softmax", "num_classes": 3}],
    "stack_mlp": [inp(4, 4, 1), {"type": "fc", "num_neurons": 8, "activation": "sigmoid", "drop_prob": 0.2},
                  {"type": "batchnorm"}, {"type": "fc", "num_neurons": 6, "activation": "leaky_relu"},
                  {"type": "svm", "num_classes": 3}],
}


def test_every_layer_type_is_checked():
    covered = {l.layer_type for defs in CASES.values() for l in engine.Net(defs).layers}
    assert covered == set(LAYER_TYPES)


def _targets(net, n, rng):
    if net.layers[-1].layer_type == "regression":
        return rng.standard_normal((n, net.num_outputs))
    return rng.integers(0, net.num_outputs, n)


@pytest.mark.parametrize("name", sorted(CASES))
def test_numerical_gradients(name):
    defs = CASES[name]
    net = engine.Net(defs, dtype=np.float64, seed=1)
    rng = np.random.default_rng(2)
    n = 3
    x = rng.standard_normal((n,) + net.input_shape)
    y = _targets(net, n, rng)
    for pg in net.params_and_grads():  # move biases and gammas away from special values
        pg["params"][...] += 0.1 * rng.standard_normal(pg["params"].shape)

    def loss_at():
        net.rng.bit_generator.state = np.random.default_rng(7).bit_generator.state  # same dropout mask
        net.forward(x, training=True)
        return net.backward(y)

    loss_at()
    net.backward(y, input_grad=True)
    analytic = [pg["grads"].copy() for pg in net.params_and_grads()]
    analytic_x = net.layers[0].out_grad.copy()
    h = 1e-6

    def numeric(arr):
        g = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + h
            lp = loss_at()
            arr[i] = old - h
            lm = loss_at()
            arr[i] = old
            g[i] = (lp - lm) / (2 * h)
        return g

    for pg, a in zip(net.params_and_grads(), analytic):
        np.testing.assert_allclose(a, numeric(pg["params"]), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(analytic_x, numeric(x), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_step_raises_true_class_probability(name):
    """ConvNetJS's own spec: one sgd step on an example makes its target more likely."""
    defs = CASES[name]
    net = engine.Net(defs, dtype=np.float64, seed=3)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1,) + net.input_shape)
    y = _targets(net, 1, rng)
    trainer = engine.Trainer(net, method="sgd", learning_rate=0.01, momentum=0.0)
    is_reg = net.layers[-1].layer_type == "regression"
    has_bn = any(l.layer_type == "batchnorm" for l in net.layers)
    if has_bn:  # batch statistics of one example are degenerate; use a batch
        x = np.repeat(x, 4, axis=0) + 0.5 * rng.standard_normal((4,) + net.input_shape)
        y = np.repeat(y, 4, axis=0)

    def score():
        net.rng.bit_generator.state = np.random.default_rng(7).bit_generator.state
        out = net.forward(x, training=True).reshape(len(x), -1)
        if is_reg:
            return -np.sum((out - y) ** 2)
        if net.layers[-1].layer_type == "svm":
            return -np.sum(np.maximum(0, out - out[np.arange(len(x)), y][:, None] + 1))
        return np.sum(np.log(out[np.arange(len(x)), y]))

    before = score()
    net.rng.bit_generator.state = np.random.default_rng(7).bit_generator.state
    trainer.train(x, y)
    assert score() > before


@pytest.mark.parametrize("name", sorted(CASES))
def test_shapes_match_infer_shapes(name):
    defs = CASES[name]
    shapes = engine.infer_shapes(defs)
    net = engine.Net(defs, seed=0)
    x = np.zeros((2,) + net.input_shape, dtype=np.float32)
    net.forward(x)
    assert len(shapes) == len(net.layers)
    for s, layer in zip(shapes, net.layers):
        assert layer.out_act.shape == (2, s["out_sy"], s["out_sx"], s["out_depth"])
        assert s["params"] == sum(pg["params"].size for pg in layer.params_and_grads())
        assert s["type"] == layer.layer_type


def test_float32_is_default_and_float64_goes_end_to_end():
    defs = CASES["stack_demo"]
    for dtype in (np.float32, np.float64):
        net = engine.Net(defs, dtype=dtype, seed=0) if dtype is np.float64 else engine.Net(defs, seed=0)
        x = np.ones((2,) + net.input_shape)
        out = net.forward(x, training=True)
        net.backward(np.array([0, 1]), input_grad=True)
        assert out.dtype == dtype
        assert all(pg["params"].dtype == dtype and pg["grads"].dtype == dtype
                   for pg in net.params_and_grads())
        assert all(l.out_grad.dtype == dtype for l in net.layers[:-1])


@pytest.mark.parametrize("t,stride", [(1, 1), (7, 1), (1, 2)])
def test_tiled_windows_of_a_strided_view_equal_those_of_a_copy(t, stride):
    from engine.core import kernels as im2col
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 9, 9, 3)).transpose(0, 2, 1, 3)  # not C-contiguous
    oh = ow = (9 - 3) // stride + 1
    assert not x.flags.c_contiguous and ow % t == 0
    a = im2col.tiled_windows(x, 3, 3, stride, oh, ow, t)
    b = im2col.tiled_windows(np.ascontiguousarray(x), 3, 3, stride, oh, ow, t)
    np.testing.assert_array_equal(a, b)
    w = rng.standard_normal((4, 3, 3, 3))
    out = (a @ im2col.tiled_filters(w, stride, t)).reshape(2, oh, ow, 4)
    ref = np.einsum("nyxijc,fijc->nyxf", np.lib.stride_tricks.sliding_window_view(
        x, (3, 3), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3)[:, ::stride, ::stride], w)
    np.testing.assert_allclose(out, ref, rtol=1e-12)


def test_a_trace_from_a_score_gradient_gives_that_scores_input_gradient():
    """``score_grad`` one-hot on class c: the input gradient is d(score c)/d(input), whole
    batch or cut into pieces (explanations are built on it)."""
    from engine.runs.experiment import preset
    net = preset("convnetjs-demo").build_net(dtype=np.float64, seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 24, 24, 1)) * 0.3
    g = np.zeros((40, 10))
    g[:, 3] = 1
    t = net.trace(x, score_grad=g)
    assert t.loss is None and t.grads[-1] is None

    def score(xx):
        return net.trace(xx).acts[-2].reshape(len(xx), -1)[:, 3]

    for n, i, j in [(0, 5, 7), (17, 12, 12), (39, 20, 3)]:
        e = np.zeros_like(x)
        e[n, i, j, 0] = 1e-5
        numeric = (score(x + e)[n] - score(x - e)[n]) / 2e-5
        assert t.grads[0][n, i, j, 0] == pytest.approx(numeric, rel=1e-5, abs=1e-9)
    with pytest.raises(engine.DataError, match=r"score_grad: expected shape \(40, 10\)"):
        net.trace(x, score_grad=g[:, :3])


@pytest.mark.parametrize("start", [1, 2, 3, 4, 5])
def test_a_trace_from_any_layers_output_gradient_is_the_numerical_gradient(start):
    """``out_grad=(i, g)`` starts the backward pass at layer i's output: from a conv, from a
    relu folded into the pool after it (2), from that pool (3), from a later layer."""
    defs = [{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 2},
            {"type": "conv", "sx": 3, "filters": 4, "pad": 1, "bias_pref": -0.1},
            {"type": "relu"}, {"type": "pool", "sx": 2, "stride": 2},
            {"type": "conv", "sx": 3, "filters": 5, "pad": 1, "activation": "tanh"},
            {"type": "softmax", "num_classes": 3}]
    net = engine.Net(defs, dtype=np.float64, seed=1)
    assert (1, 2) in net.plan  # the relu really is folded
    rng = np.random.default_rng(start)
    x = rng.uniform(-0.5, 0.5, (2, 8, 8, 2))
    d = rng.standard_normal((2,) + net.layers[start].out_shape)
    t = net.trace(x, out_grad=(start, d))
    assert t.loss is None and all(g is None for g in t.grads[start + 1:])

    def objective(xx):
        return float(np.sum(net.trace(xx).acts[start] * d))

    for pos in [(0, 1, 1, 0), (1, 6, 3, 1), (0, 4, 7, 1)]:
        a, b = x.copy(), x.copy()
        a[pos] += 1e-6
        b[pos] -= 1e-6
        assert t.input_grad[pos] == pytest.approx((objective(a) - objective(b)) / 2e-6,
                                                  rel=1e-5, abs=1e-9)
    with pytest.raises(engine.DataError, match="out_grad: layer 2's output gradient must have shape"):
        net.trace(x, out_grad=(2, d[:, :1]))
