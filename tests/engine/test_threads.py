"""A batch split across threads gives what one thread gives."""
import numpy as np
import pytest

import engine

DEFS = [{"type": "input", "out_sx": 10, "out_sy": 10, "out_depth": 1},
        {"type": "conv", "sx": 5, "filters": 4, "pad": 2, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "conv", "sx": 3, "filters": 6, "pad": 1, "activation": "tanh"},
        {"type": "fc", "num_neurons": 8, "activation": "maxout", "group_size": 2},
        {"type": "softmax", "num_classes": 4}]


@pytest.mark.parametrize("n", [16, 33])
def test_split_batch_matches_single_thread(n):
    one = engine.Net(DEFS, dtype=np.float64, seed=0, threads=1)
    many = engine.Net(DEFS, dtype=np.float64, seed=0, threads=3)
    assert many._plan_split(n, many.threads) is not None
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 10, 10, 1))
    y = rng.integers(0, 4, n)
    np.testing.assert_allclose(one.forward(x, training=True), many.forward(x, training=True))
    la = one.backward(y, input_grad=True)
    lb = many.backward(y, input_grad=True)
    assert la == pytest.approx(lb, rel=1e-12)
    for a, b in zip(one.params_and_grads(), many.params_and_grads()):
        np.testing.assert_allclose(a["grads"], b["grads"], rtol=1e-10, atol=1e-14)
    for a, b in zip(one.layers, many.layers):
        np.testing.assert_allclose(a.out_act, b.out_act)
        if a.out_grad is not None or b.out_grad is not None:
            np.testing.assert_allclose(a.out_grad, b.out_grad, rtol=1e-10, atol=1e-14)


def test_trainers_agree_and_rebound_weights_are_seen():
    one = engine.Net(DEFS, dtype=np.float64, seed=0, threads=1)
    many = engine.Net(DEFS, dtype=np.float64, seed=0, threads=2)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((40, 10, 10, 1))
    y = rng.integers(0, 4, 40)
    ta = engine.Trainer(one, method="adam", learning_rate=0.01)
    tb = engine.Trainer(many, method="adam", learning_rate=0.01)
    for _ in range(3):
        ta.train(x, y)
        tb.train(x, y)
    for a, b in zip(one.params_and_grads(), many.params_and_grads()):
        np.testing.assert_allclose(a["params"], b["params"], rtol=1e-9)
    # Replacing a weight array (not writing into it) still reaches every thread.
    for net in (one, many):
        net.layers[1].weights = np.zeros_like(net.layers[1].weights)
    np.testing.assert_allclose(one.forward(x), many.forward(x))


def test_a_huge_batch_keeps_a_bounded_number_of_replicas():
    net = engine.Net(DEFS, seed=0, threads=2)
    out = net.forward(np.zeros((3000, 10, 10, 1), np.float32))
    assert out.shape == (3000, 1, 1, 4)
    assert len(net._replicas) <= net.max_pieces
    assert net.layers[1].out_act.shape == (3000, 10, 10, 4)
