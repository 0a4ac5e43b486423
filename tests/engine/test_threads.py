"""A batch split across threads gives what one thread gives."""
import os

import numpy as np
import pytest

import engine
from engine.core.execution import plan

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
    assert plan.pieces(many.layers, n, many.threads) is not None
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


def test_a_huge_batch_is_cut_into_a_bounded_number_of_pieces():
    net = engine.Net(DEFS, seed=0, threads=2)
    assert len(plan.pieces(net.layers, 3000, 2)) == plan.MAX_PIECES
    out = net.forward(np.zeros((3000, 10, 10, 1), np.float32))
    assert out.shape == (3000, 1, 1, 4)
    assert net.layers[1].out_act.shape == (3000, 10, 10, 4)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_training_step_in_pieces_matches_one_whole_pass(threads, monkeypatch):
    """train_step runs each piece forward and straight back; the sums must not change."""
    monkeypatch.setenv("ENGINE_PROCESSES", "0")  # this process's threads only
    whole = engine.Net(DEFS, dtype=np.float64, seed=0, threads=1)
    pieces = engine.Net(DEFS, dtype=np.float64, seed=0, threads=threads)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((45, 10, 10, 1))
    y = rng.integers(0, 4, 45)
    monkeypatch.setattr(plan, "MAX_PIECE", 10 ** 6)  # never cut
    assert plan.pieces(whole.layers, 45, 1) is None
    out_a = whole.forward(x, training=True)
    loss_a = whole.backward(y)
    monkeypatch.setattr(plan, "MAX_PIECE", 12)
    assert len(plan.pieces(pieces.layers, 45, threads)) >= 3
    out_b, loss_b, fwd_s, bwd_s = pieces.train_step(x, y)
    assert fwd_s > 0 and bwd_s > 0
    np.testing.assert_allclose(out_b, out_a, rtol=1e-12)
    assert loss_b == pytest.approx(loss_a, rel=1e-12)
    for a, b in zip(whole.params_and_grads(), pieces.params_and_grads()):
        np.testing.assert_allclose(b["grads"], a["grads"], rtol=1e-10, atol=1e-14)
    for a, b in zip(whole.layers, pieces.layers):
        np.testing.assert_allclose(b.out_act, a.out_act, rtol=1e-12)
        if a.out_grad is not None or b.out_grad is not None:
            np.testing.assert_allclose(b.out_grad, a.out_grad, rtol=1e-10, atol=1e-14)


def test_wrong_labels_for_a_split_batch_get_the_clear_error(monkeypatch):
    monkeypatch.setattr(plan, "MAX_PIECE", 8)
    net = engine.Net(DEFS, seed=0, threads=1)
    assert plan.pieces(net.layers, 40, 1) is not None
    net.forward(np.zeros((40, 10, 10, 1), np.float32), training=True)
    with pytest.raises(engine.DataError, match=r"expected 40 labels.*\(39,\)"):
        net.backward(np.zeros(39, int))
    with pytest.raises(engine.DataError, match="label 4 is out of range"):
        net.backward(np.full(40, 4))


def test_passes_on_one_net_from_several_threads_equal_lone_passes():
    """forward, predict and trace may run on one net from several threads at once: each
    call's numbers equal those of the same call made alone (activations, gradients and
    parameter gradients included: nothing of a pass is left on shared objects)."""
    import threading
    net = engine.Net(DEFS, seed=0, threads=2)
    rng = np.random.default_rng(7)
    batches = [(rng.standard_normal((n, 10, 10, 1)).astype(np.float32), rng.integers(0, 4, n))
               for n in (1, 5, 40, 3)]
    lone = [net.trace(x, y) for x, y in batches]
    outs = [net.forward(x) for x, _ in batches]
    errors = []

    def hammer(k):
        try:
            for i in range(30):
                x, y = batches[(k + i) % len(batches)]
                ref = lone[(k + i) % len(batches)]
                which = (k + i) % 3
                if which == 0:
                    t = net.trace(x, y)
                    for a, b in zip(t.acts, ref.acts):
                        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
                    for a, b in zip(t.grads, ref.grads):
                        if b is None:
                            assert a is None
                        else:
                            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-9)
                    for a, b in zip(t.param_grads, ref.param_grads):
                        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-9)
                    assert t.loss == pytest.approx(ref.loss, rel=1e-6)
                elif which == 1:
                    np.testing.assert_allclose(net.forward(x), outs[(k + i) % len(batches)],
                                               rtol=1e-6, atol=1e-7)
                else:
                    np.testing.assert_array_equal(net.predict(x),
                                                  ref.output.reshape(len(x), -1).argmax(axis=1))
        except Exception as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_a_trace_leaves_the_nets_own_record_and_gradients_alone():
    net = engine.Net(DEFS, dtype=np.float64, seed=0, threads=1)
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((6, 10, 10, 1)), rng.integers(0, 4, 6)
    net.forward(x, training=True)
    net.backward(y)
    acts = [l.out_act.copy() for l in net.layers]
    grads = [pg["grads"].copy() for pg in net.params_and_grads()]
    t = net.trace(rng.standard_normal((3, 10, 10, 1)), [0, 1, 2])
    assert t.acts[0].shape[0] == 3 and t.grads[0] is not None  # the input gradient, for views
    for layer, a in zip(net.layers, acts):
        np.testing.assert_array_equal(layer.out_act, a)
    for pg, g in zip(net.params_and_grads(), grads):
        np.testing.assert_array_equal(pg["grads"], g)


def test_a_batch_run_whole_uses_one_blas_thread():
    """A batchnorm net's batch is never split, so it ran on OpenBLAS's own threads, which
    wait busily for each other (3x slower steps on a loaded 2-core machine)."""
    import subprocess
    import sys
    code = ("import numpy as np, engine\n"
            "from threadpoolctl import threadpool_info\n"
            "net = engine.Net([{'type': 'input', 'out_sx': 8, 'out_sy': 8, 'out_depth': 1},"
            "{'type': 'conv', 'sx': 3, 'filters': 4, 'pad': 1}, {'type': 'batchnorm'},"
            "{'type': 'softmax', 'num_classes': 3}], seed=0)\n"
            "net.train_step(np.zeros((64, 8, 8, 1), np.float32), np.zeros(64, int))\n"
            "print([i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'])\n")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="", OMP_NUM_THREADS="")
    env.pop("OPENBLAS_NUM_THREADS")
    env.pop("OMP_NUM_THREADS")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[1]"
