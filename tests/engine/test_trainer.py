"""Trainer formulas against steps computed by hand, and options that change mid-run."""
import re

import numpy as np
import pytest

import engine

DEFS = [{"type": "input", "out_sx": 1, "out_sy": 1, "out_depth": 3},
        {"type": "regression", "num_neurons": 2}]


def setup(method, **opts):
    net = engine.Net(DEFS, dtype=np.float64, seed=0)
    fc = net.layers[1]
    fc.weights[...] = [[0.5, -0.2, 0.1], [0.3, 0.0, -0.4]]
    fc.biases[...] = [0.05, -0.1]
    fc.l1_decay_mul = 1.0  # ConvNetJS's default is 0 for weights; exercise the l1 term
    trainer = engine.Trainer(net, method=method, **opts)
    x = np.array([[1.0, 2.0, -1.0], [0.5, -1.0, 2.0]]).reshape(2, 1, 1, 3)
    y = np.array([[1.0, 0.0], [-0.5, 0.25]])
    return net, fc, trainer, x, y


def grads(fc, x, y, l2=0.0, l1=0.0, n=2):
    """Hand-computed g = mean_grad + (l2*p + l1*sign(p))/N for the fc weights."""
    x2 = x.reshape(n, 3)
    out = x2 @ fc.weights.T + fc.biases
    d = (out - y) / n
    gw = d.T @ x2 + (l2 * fc.weights + l1 * np.where(fc.weights > 0, 1, -1)) / n
    gb = d.sum(0)  # biases: no decay
    return gw, gb


def test_nesterov_two_steps():
    net, fc, tr, x, y = setup("nesterov", learning_rate=0.1, momentum=0.9, l2_decay=0.01)
    v_w = np.zeros((2, 3))
    for _ in range(2):
        gw, _ = grads(fc, x, y, l2=0.01)
        w = fc.weights.copy()
        dx = v_w.copy()
        v_w = 0.9 * v_w + 0.1 * gw
        expected = w + 0.9 * dx - 1.9 * v_w
        tr.train(x, y)
        np.testing.assert_allclose(fc.weights, expected, rtol=1e-12)


def test_adam_three_steps_with_bias_correction():
    net, fc, tr, x, y = setup("adam", learning_rate=0.01, beta1=0.9, beta2=0.999, eps=1e-8,
                              l1_decay=0.001)
    m = np.zeros((2, 3))
    v = np.zeros((2, 3))
    for t in range(1, 4):
        gw, _ = grads(fc, x, y, l1=0.001)
        m = 0.9 * m + 0.1 * gw
        v = 0.999 * v + 0.001 * gw * gw
        expected = fc.weights - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        tr.train(x, y)
        np.testing.assert_allclose(fc.weights, expected, rtol=1e-9)


def test_plain_sgd_and_decay_losses():
    net, fc, tr, x, y = setup("sgd", learning_rate=0.5, momentum=0.0, l2_decay=0.1, l1_decay=0.2)
    gw, gb = grads(fc, x, y, l2=0.1, l1=0.2)
    w, b = fc.weights.copy(), fc.biases.copy()
    stats = tr.train(x, y)
    np.testing.assert_allclose(fc.weights, w - 0.5 * gw)
    np.testing.assert_allclose(fc.biases, b - 0.5 * gb)
    assert stats["l2_decay_loss"] == pytest.approx(0.5 * 0.1 * np.sum(w * w))
    assert stats["l1_decay_loss"] == pytest.approx(0.2 * np.sum(np.abs(w)))
    assert stats["loss"] == pytest.approx(stats["cost_loss"] + stats["l1_decay_loss"] + stats["l2_decay_loss"])
    assert stats["fwd_time"] > 0 and stats["bwd_time"] > 0


def test_options_changed_between_calls_take_effect():
    net, fc, tr, x, y = setup("sgd", learning_rate=0.1, momentum=0.0)
    tr.train(x, y)
    tr.learning_rate = 0.0
    w = fc.weights.copy()
    tr.train(x, y)
    np.testing.assert_array_equal(fc.weights, w)
    tr.method = "adagrad"
    tr.learning_rate = 0.1
    tr.train(x, y)
    assert not np.array_equal(fc.weights, w)


def test_unknown_method_is_a_clear_error():
    with pytest.raises(engine.OptionError, match="unknown trainer method 'rmsprop'"):
        setup("rmsprop")
    net, fc, tr, x, y = setup("sgd")
    tr.method = "rmsprop"  # options are plain attributes: checked at the next step
    with pytest.raises(engine.OptionError, match="unknown trainer method 'rmsprop'"):
        tr.train(x, y)


@pytest.mark.parametrize("key,value,words", [
    ("learning_rate", None, "learning rate ('learning_rate') must be a number, got None"),
    ("learning_rate", -1, "must be at least 0"), ("learning_rate", float("nan"), "must be a number"),
    ("momentum", 1.0, "momentum ('momentum') must be below 1"), ("batch_size", 0, "at least 1"),
    ("batch_size", 2.5, "whole number"), ("l2_decay", "0.1", "must be a number"),
    ("eps", 0.0, "must be above 0"), ("beta2", 1.5, "below 1"), ("ro", True, "must be a number")])
def test_bad_trainer_options_are_clear_errors(key, value, words):
    net = engine.Net(DEFS, seed=0)
    with pytest.raises(engine.OptionError, match=re.escape(words)):
        engine.Trainer(net, **{key: value})
    tr = engine.Trainer(net)
    setattr(tr, key, value)
    x = np.zeros((2,) + net.input_shape, np.float32)
    with pytest.raises(engine.OptionError, match=re.escape(words)):
        tr.train(x, np.zeros((2, 2)))


def test_a_nan_pixel_is_refused_before_it_reaches_the_weights():
    net = engine.Net(DEFS, seed=0)
    tr = engine.Trainer(net, method="sgd")
    before = [pg["params"].copy() for pg in net.params_and_grads()]
    x = np.zeros((3,) + net.input_shape, np.float32)
    x[1, 0, 0, 2] = np.nan
    with pytest.raises(engine.DataError, match="example 1 holds nan"):
        tr.train(x, np.zeros((3, 2)))
    for pg, b in zip(net.params_and_grads(), before):
        np.testing.assert_array_equal(pg["params"], b)


@pytest.mark.parametrize("kwargs,words", [({"dtype": "int8"}, "dtype must be float32 or float64"),
                                          ({"dtype": "nonsense"}, "dtype must be"),
                                          ({"seed": -3}, "seed must be"), ({"seed": "x"}, "seed must be"),
                                          ({"seed": 1.5}, "seed must be"), ({"threads": 0}, "threads")])
def test_bad_net_options_are_clear_errors(kwargs, words):
    with pytest.raises(engine.OptionError, match=words):
        engine.Net(DEFS, **kwargs)


def test_defaults_match_the_contract():
    net = engine.Net(DEFS)
    tr = engine.Trainer(net)
    assert (tr.method, tr.learning_rate, tr.momentum, tr.batch_size, tr.l1_decay, tr.l2_decay,
            tr.ro, tr.eps, tr.beta1, tr.beta2) == ("sgd", 0.01, 0.9, 1, 0.0, 0.0, 0.95, 1e-8, 0.9, 0.999)
