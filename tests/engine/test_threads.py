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


@pytest.mark.parametrize("threads", [1, 2])
def test_a_training_step_in_pieces_matches_one_whole_pass(threads, monkeypatch):
    """train_step runs each piece forward and straight back; the sums must not change."""
    monkeypatch.setenv("ENGINE_PROCESSES", "0")  # this process's threads only
    whole = engine.Net(DEFS, dtype=np.float64, seed=0, threads=1)
    whole.max_piece = 10 ** 6  # never cut
    pieces = engine.Net(DEFS, dtype=np.float64, seed=0, threads=threads)
    pieces.max_piece = 12
    rng = np.random.default_rng(3)
    x = rng.standard_normal((45, 10, 10, 1))
    y = rng.integers(0, 4, 45)
    assert whole._plan_split(45, 1) is None and len(pieces._plan_split(45, threads)) >= 3
    out_a = whole.forward(x, training=True)
    loss_a = whole.backward(y)
    out_b, loss_b, fwd_s, bwd_s = pieces.train_step(x, y)
    assert pieces._split is not None and fwd_s > 0 and bwd_s > 0
    np.testing.assert_allclose(out_b, out_a, rtol=1e-12)
    assert loss_b == pytest.approx(loss_a, rel=1e-12)
    for a, b in zip(whole.params_and_grads(), pieces.params_and_grads()):
        np.testing.assert_allclose(b["grads"], a["grads"], rtol=1e-10, atol=1e-14)
    for a, b in zip(whole.layers, pieces.layers):
        np.testing.assert_allclose(b.out_act, a.out_act, rtol=1e-12)
        if a.out_grad is not None or b.out_grad is not None:
            np.testing.assert_allclose(b.out_grad, a.out_grad, rtol=1e-10, atol=1e-14)


def test_wrong_labels_for_a_split_batch_get_the_clear_error():
    net = engine.Net(DEFS, seed=0, threads=1)
    net.max_piece = 8
    net.forward(np.zeros((40, 10, 10, 1), np.float32), training=True)
    assert net._split is not None
    with pytest.raises(engine.DataError, match=r"expected 40 labels.*\(39,\)"):
        net.backward(np.zeros(39, int))
    with pytest.raises(engine.DataError, match="label 4 is out of range"):
        net.backward(np.full(40, 4))
