"""A relu followed by a max pool runs as one step (max of the pre-activations, then the
relu on the pooled values). Every number a user can see must equal the layers run one
after the other: outputs, loss, weight gradients, and each layer's out_act and out_grad,
including windows whose values are all negative (where the pool's winner differs)."""
import numpy as np
import pytest

import engine
from engine.core.execution import plan


def unfused_step(layers, x, y, input_grad):
    """The layers run one by one, as ConvNetJS does (no pairs folded together):
    ``(acts, grads, loss)``; the parameter gradients land in the layers' own arrays."""
    acts, caches = [], []
    a = x
    for layer in layers:
        a, cache = layer.forward(a, True)
        acts.append(a)
        caches.append(cache)
    loss, d = layers[-1].loss(caches[-1], y)
    grads = [None] * len(layers)
    for i in range(len(layers) - 2, 0, -1):
        grads[i] = d
        own = tuple(getattr(layers[i], g) for g in layers[i].grad_attrs)
        d = layers[i].backward(caches[i], d, own, need_dx=(i > 1 or input_grad))
    grads[0] = d if input_grad else None
    return acts, grads, loss


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
    monkeypatch.setattr(plan, "MAX_PIECE", 16)
    defs = spec(pool)
    net = engine.Net(defs, dtype=np.float64, seed=0, threads=threads)
    ref = engine.Net(defs, dtype=np.float64, seed=0, threads=1)
    assert [(kind, i) for kind, i in net.plan if kind == plan.RELU_POOL] == [
        (plan.RELU_POOL, 2), (plan.RELU_POOL, 5)]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 8, 8, 2))
    x[0] = -np.abs(x[0])  # with the negative bias: windows with no positive pre-activation
    y = rng.integers(0, 3, n)
    acts_ref, grads_ref, loss_ref = unfused_step(ref.layers, x, y, input_grad=True)
    assert (acts_ref[1][0] < 0).reshape(-1, 4).all(axis=1).any()
    out = net.forward(x, training=True)
    loss = net.backward(y, input_grad=True)
    # A batch cut into pieces multiplies matrices of other shapes (summation orders
    # differ between BLAS kernels): equal to float64's precision, not bit for bit.
    np.testing.assert_allclose(out, acts_ref[-1], rtol=1e-12)
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    for a, b in zip(net.params_and_grads(), ref.params_and_grads()):
        np.testing.assert_allclose(a["grads"], b["grads"], rtol=1e-10, atol=1e-14)
    for i, a in enumerate(net.layers):
        np.testing.assert_allclose(a.out_act, acts_ref[i], rtol=1e-12, atol=1e-14,
                                   err_msg=f"layer {i} out_act")
        if grads_ref[i] is None:
            assert a.out_grad is None, i
        else:
            np.testing.assert_allclose(a.out_grad, grads_ref[i], rtol=1e-12, atol=1e-15,
                                       err_msg=f"layer {i} out_grad")
    # The same numbers in a trace (inference: no dropout here, so the same pass).
    t = net.trace(x, y)
    for i in range(len(net.layers)):
        np.testing.assert_allclose(t.acts[i], acts_ref[i], rtol=1e-12, atol=1e-14)
        if grads_ref[i] is not None:
            np.testing.assert_allclose(t.grads[i], grads_ref[i], rtol=1e-12, atol=1e-15)


def test_a_relu_first_after_the_input_still_shows_its_gradient():
    defs = [{"type": "input", "out_sx": 4, "out_sy": 4, "out_depth": 1}, {"type": "relu"},
            {"type": "pool", "sx": 2, "stride": 2}, {"type": "softmax", "num_classes": 2}]
    net, ref = (engine.Net(defs, dtype=np.float64, seed=0, threads=1) for _ in range(2))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 4, 4, 1)), rng.integers(0, 2, 3)
    acts_ref, grads_ref, _ = unfused_step(ref.layers, x, y, input_grad=False)
    net.forward(x, training=True)
    net.backward(y)
    assert net.layers[0].out_grad is None
    np.testing.assert_allclose(net.layers[1].out_grad, grads_ref[1], rtol=1e-12)
    np.testing.assert_array_equal(net.layers[1].out_act, acts_ref[1])
