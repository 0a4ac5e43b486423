"""A relu followed by a max pool runs as one step (max of the pre-activations, then the
relu on the pooled values). Every number a user can see must equal the layers run one
after the other: outputs, loss, weight gradients, and each layer's out_act and out_grad,
including windows whose values are all negative (where the pool's winner differs)."""
import numpy as np
import pytest

import engine
from engine import net as engine_net


def unfused_step(layers, x, y, input_grad):
    """The layers run one by one, as ConvNetJS does (no pairs folded together)."""
    a = x
    for layer in layers:
        a = layer.forward(a, True)
    loss, d = layers[-1].loss(y)
    layers[-1].out_grad = None
    for i in range(len(layers) - 2, 0, -1):
        d = layers[i].backward(d, need_dx=(i > 1 or input_grad))
    layers[0].out_grad = d if input_grad else None
    return a, loss


def spec(pool):
    return [{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 2},
            {"type": "conv", "sx": 3, "filters": 4, "pad": 1, "bias_pref": -0.3},
            {"type": "relu"}, pool,
            {"type": "conv", "sx": 3, "filters": 3, "pad": 1, "activation": "relu"},
            {"type": "pool", "sx": 2, "stride": 2},
            {"type": "softmax", "num_classes": 3}]


@pytest.mark.parametrize("pool", [{"type": "pool", "sx": 2, "stride": 2},
                                  {"type": "pool", "sx": 3, "stride": 2, "pad": 1}])
@pytest.mark.parametrize("threads,n", [(1, 5), (2, 40)])
def test_folded_relu_and_pool_show_what_the_layers_would(pool, threads, n, monkeypatch):
    monkeypatch.setenv("ENGINE_PROCESSES", "0")
    defs = spec(pool)
    net = engine.Net(defs, dtype=np.float64, seed=0, threads=threads)
    net.max_piece = 16
    ref = engine.Net(defs, dtype=np.float64, seed=0, threads=1)
    assert engine_net._relu_pools(net.layers) == [2, 5]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 8, 8, 2))
    x[0] = -np.abs(x[0])  # with the negative bias: windows with no positive pre-activation
    y = rng.integers(0, 3, n)
    out_ref, loss_ref = unfused_step(ref.layers, x, y, input_grad=True)
    assert (ref.layers[1].out_act[0] < 0).reshape(-1, 4).all(axis=1).any()
    out = net.forward(x, training=True)
    loss = net.backward(y, input_grad=True)
    np.testing.assert_allclose(out, out_ref, rtol=1e-12)
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    for a, b in zip(net.params_and_grads(), ref.params_and_grads()):
        np.testing.assert_allclose(a["grads"], b["grads"], rtol=1e-10, atol=1e-14)
    for i, (a, b) in enumerate(zip(net.layers, ref.layers)):
        np.testing.assert_array_equal(a.out_act, b.out_act, err_msg=f"layer {i} out_act")
        if b.out_grad is None:
            assert a.out_grad is None, i
        else:
            np.testing.assert_allclose(a.out_grad, b.out_grad, rtol=1e-12, atol=1e-15,
                                       err_msg=f"layer {i} out_grad")


def test_a_relu_first_after_the_input_still_shows_its_gradient():
    defs = [{"type": "input", "out_sx": 4, "out_sy": 4, "out_depth": 1}, {"type": "relu"},
            {"type": "pool", "sx": 2, "stride": 2}, {"type": "softmax", "num_classes": 2}]
    net, ref = (engine.Net(defs, dtype=np.float64, seed=0, threads=1) for _ in range(2))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 4, 4, 1)), rng.integers(0, 2, 3)
    unfused_step(ref.layers, x, y, input_grad=False)
    net.forward(x, training=True)
    net.backward(y)
    assert net.layers[0].out_grad is None
    np.testing.assert_allclose(net.layers[1].out_grad, ref.layers[1].out_grad, rtol=1e-12)
    np.testing.assert_array_equal(net.layers[1].out_act, ref.layers[1].out_act)
