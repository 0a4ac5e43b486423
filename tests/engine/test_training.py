"""The headless training loop: reports, pause/step/stop, schedules, divergence."""
import threading

import numpy as np
import pytest

import engine
from engine.core.schedules import Schedule
from engine.data import Augment, ImageSet
from engine.runs.run import Run
from engine.runs.run import make_run as run_of

DEFS = [{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 1},
        {"type": "conv", "sx": 3, "filters": 4, "pad": 1, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "softmax", "num_classes": 3}]


def toy_data(n=300, seed=0):
    """Three classes: a bright row at the top, middle or bottom of a 10x10 image."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    img = rng.integers(0, 40, (n, 10, 10, 1)).astype(np.uint8)
    for i, c in enumerate(y):
        img[i, 2 + 3 * c, :, 0] = 255
    return ImageSet(img, y)


def make_run(**kw):
    net = engine.Net(DEFS, seed=0)
    opts = {"method": "adam", "learning_rate": 0.01, "batch_size": 10}
    opts.update(kw.pop("trainer", {}))
    trainer = engine.Trainer(net, **opts)
    return Run(trainer, toy_data(), toy_data(60, 1), toy_data(60, 2), seed=0, **kw)


def test_run_learns_and_reports():
    run = make_run(epochs=4, chunk_seconds=0.01, eval_every=300)
    reports = list(run.reports())
    tags = [r["tag"] for r in reports]
    assert tags[-1] == "done" and "progress" in tags and "eval" in tags
    progress = [r for r in reports if r["tag"] == "progress"]
    assert progress[-1]["cost_loss"] < progress[0]["cost_loss"]
    assert run.examples_seen == 1200
    final = [r for r in reports if r["tag"] == "eval"][-1]
    assert final["test_accuracy"] > 0.9 and final["validation_accuracy"] > 0.9
    for key in ("examples_per_second", "fwd_ms_per_example", "bwd_ms_per_example",
                "train_accuracy", "decay_loss", "learning_rate", "epoch"):
        assert key in progress[-1]


def test_default_augment_crops_to_the_network_input():
    run = make_run(epochs=0.1)
    assert run.augment.crop == 8
    with pytest.raises(engine.DataError, match="crops to 6px"):
        make_run(augment=Augment(crop=6))


def test_pause_step_and_stop_from_another_thread():
    run = make_run(chunk_seconds=0.01)
    run.pause()
    gen = run.reports()
    seen = []

    def consume():
        for r in gen:
            seen.append(r)

    t = threading.Thread(target=consume)
    t.start()
    t.join(0.3)
    assert seen == [] and run.examples_seen == 0       # paused: nothing trains
    run.step()
    for _ in range(100):
        if seen:
            break
        t.join(0.02)
    assert run.examples_seen == 10                     # one batch
    t.join(0.2)
    assert run.examples_seen == 10                     # and paused again
    run.resume()
    t.join(0.2)
    assert run.examples_seen > 10
    run.stop()
    t.join(2)
    assert not t.is_alive() and seen[-1]["tag"] == "stopped"


def test_learning_rate_changed_mid_run_reaches_the_trainer():
    run = make_run(chunk_seconds=0.01, trainer={"method": "sgd", "learning_rate": 0.01, "momentum": 0.0})
    gen = run.reports()
    next(gen)
    run.trainer.learning_rate = 0.0
    w = run.net.layers[1].weights.copy()
    next(gen)
    np.testing.assert_array_equal(run.net.layers[1].weights, w)


def test_schedule_sets_the_learning_rate_per_example_seen():
    sched = Schedule("step", base=0.1, factor=0.5, every=100)
    run = make_run(epochs=1, schedule=sched, trainer={"method": "sgd"})
    list(run.reports())
    assert run.trainer.learning_rate == pytest.approx(0.1 * 0.5 ** 2)  # set at example 290


def test_schedules():
    assert Schedule("constant", base=0.3)(10 ** 6) == 0.3
    s = Schedule("exponential", base=1.0, factor=0.1, every=1000)
    assert s(0) == 1.0 and s(1000) == pytest.approx(0.1) and s(500) == pytest.approx(0.1 ** 0.5)
    c = Schedule("cosine", base=1.0, total=100, minimum=0.1)
    assert c(0) == 1.0 and c(50) == pytest.approx(0.55) and c(100) == pytest.approx(0.1) and c(500) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="unknown schedule"):
        Schedule("warp")


def test_huge_learning_rate_diverges_and_keeps_the_last_good_weights():
    run = make_run(trainer={"method": "sgd", "learning_rate": 1e30, "momentum": 0.0},
                   chunk_seconds=0.01)
    good = [pg["params"].copy() for pg in run.net.params_and_grads()]
    reports = list(run.reports())
    assert reports[-1]["tag"] == "diverged"
    assert "learning rate" in reports[-1]["message"] and "too high" in reports[-1]["message"]
    for pg in run.net.params_and_grads():
        assert np.all(np.isfinite(pg["params"]))
    # the weights are the last finite ones: here, the start (it blew up in the first chunk)
    if reports[0]["tag"] == "diverged":
        for pg, g in zip(run.net.params_and_grads(), good):
            np.testing.assert_array_equal(pg["params"], g)


@pytest.fixture(scope="module")
def mnist():
    from engine.data import load_mnist
    return load_mnist()


def demo_run(mnist, lr, net=None, epochs=0.3, **trainer):
    from engine.runs.experiment import preset
    e = preset("convnetjs-demo").replace(
        trainer=dict(method="sgd", learning_rate=lr, momentum=0.9, batch_size=20, l2_decay=0.001,
                     **trainer), epochs=epochs, seed=0)
    net = net or e.build_net()
    return run_of(e, net, e.build_trainer(net), mnist, eval_every=10 ** 9, chunk_seconds=0.05)


@pytest.mark.parametrize("lr", [10.0, 1.0])
def test_a_finite_blow_up_is_caught_and_the_advice_trains(mnist, lr):
    """sgd with momentum 0.9 at 10 or 1 never makes the loss NaN on the demo net: it
    blows up to 6-12 (guessing gives 2.3) and then sits at chance. The run must say so
    at once, keep the weights it started from, and suggest a rate that trains."""
    run = demo_run(mnist, lr)
    start = [a.copy() for a in run.net.state_arrays()]
    reports = list(run.reports())
    last = reports[-1]
    assert last["tag"] == "diverged" and run.examples_seen <= 5000
    assert last["suggested_learning_rate"] == pytest.approx(0.01)
    assert "try 0.01" in last["message"] and "last good weights" in last["message"]
    for a, b in zip(run.net.state_arrays(), start):
        np.testing.assert_array_equal(a, b)


def test_accuracy_collapse_of_a_trained_net_is_caught(mnist):
    from engine.data import RESOURCES
    from engine.runs.snapshots import load_snapshot
    net, _ = load_snapshot(RESOURCES / "snapshots" / "convnetjs-demo-trained.json")
    [a.copy() for a in net.state_arrays()]
    reports = list(demo_run(mnist, 1.0, net=net).reports())
    assert reports[-1]["tag"] == "diverged"
    restored = [a for a in net.state_arrays()]
    assert all(np.all(np.isfinite(a)) for a in restored)
    from engine.data import accuracy
    assert accuracy(net, mnist.test.subset(np.arange(1000))) > 0.95  # the good weights are back


def test_the_demo_presets_own_settings_never_look_diverged(mnist):
    from engine.runs.experiment import preset
    e = preset("convnetjs-demo").replace(epochs=0.5, seed=1)
    net = e.build_net()
    reports = list(run_of(e, net, e.build_trainer(net), mnist, chunk_seconds=0.02,
                              eval_every=10 ** 9).reports())
    assert [r["tag"] for r in reports if r["tag"] == "diverged"] == []


def test_batchnorm_statistics_come_back_after_a_divergence():
    defs = [{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 1},
            {"type": "conv", "sx": 3, "filters": 4, "pad": 1},
            {"type": "batchnorm"}, {"type": "relu"},
            {"type": "softmax", "num_classes": 3}]
    net = engine.Net(defs, seed=0)
    trainer = engine.Trainer(net, method="sgd", learning_rate=1e30, momentum=0.0, batch_size=10)
    run = Run(trainer, toy_data(), None, None, seed=0, chunk_seconds=0.01)
    bn = net.layers[2]
    mean, var = bn.running_mean.copy(), bn.running_var.copy()
    assert list(run.reports())[-1]["tag"] == "diverged"
    np.testing.assert_array_equal(bn.running_mean, mean)
    np.testing.assert_array_equal(bn.running_var, var)
    assert np.all(np.isfinite(net.forward(toy_data(5).images.astype(np.float32)[:, 1:9, 1:9] / 255)))


@pytest.mark.slow
def test_the_suggested_rate_really_trains(mnist):
    reports = list(demo_run(mnist, 10.0).reports())
    rate = reports[-1]["suggested_learning_rate"]
    run = demo_run(mnist, rate)
    assert list(run.reports())[-1]["tag"] == "done"
    from engine.data import accuracy
    assert accuracy(run.net, mnist.test) >= 0.9


def test_two_unlucky_single_batches_are_not_a_collapse():
    """Stepping one batch of ten at a time: two batches at chance after one above one half
    are judged with the batches after them, not as an accuracy collapse."""
    from engine.runs.run import DivergenceWatch
    net = engine.Net(DEFS, seed=0)
    watch = DivergenceWatch(net)
    for acc in (0.8, 0.2, 0.1):
        assert watch.check(1.0, acc, examples=10) == (None, False)
    for _ in range(7):
        assert watch.check(0.9, 0.8, examples=10)[0] is None  # 100 pooled: 66% right
    # a real collapse, a hundred examples at a time, is still caught
    assert watch.check(1.0, 0.3, examples=100)[0] is None
    why, _ = watch.check(1.0, 0.3, examples=100)
    assert "fell from" in why and "chance level" in why


def noise_data(n, seed):
    """Images of noise with labels that have nothing to do with them: nothing to learn."""
    rng = np.random.default_rng(seed)
    return ImageSet(rng.integers(0, 256, (n, 10, 10, 1)).astype(np.uint8), rng.integers(0, 3, n))


def test_a_run_at_chance_says_it_is_not_learning_like_a_divergence():
    """Runs that sat at chance ended "done" (issue 20): it is a done report that says so,
    with a rate to try, after the first epoch (here: 3,000 examples, once 5,000 are seen)."""
    net = engine.Net(DEFS, seed=0)
    trainer = engine.Trainer(net, method="adam", learning_rate=0.01, batch_size=10)
    run = Run(trainer, noise_data(3000, 0), noise_data(300, 1), noise_data(300, 2), seed=0, epochs=5,
              chunk_seconds=0.02, eval_every=3000)
    reports = list(run.reports())
    last = reports[-1]
    assert last["tag"] == "done" and last["not_learning"] is True
    assert run.examples_seen == 6000  # judged at the first evaluation past 5,000 examples: epoch 2
    assert "The validation accuracy is" in last["message"] and "chance level (3" in last["message"]
    assert "not learning; the learning rate (0.01) is too high: try 0.001" in last["message"]
    assert last["suggested_learning_rate"] == pytest.approx(0.001)
    assert all(np.isfinite(a).all() for a in net.state_arrays())
    # a rate far below what trains is told to go up
    assert engine.training.not_learning_advice("sgd", 1e-5, 0.9)[0] == pytest.approx(1e-4)
    assert engine.training.not_learning_advice("adadelta", 1.0)[0] is None


def test_short_runs_and_runs_that_learn_are_not_judged():
    # too few examples to tell: 1,200 of noise end "done" as before
    net = engine.Net(DEFS, seed=0)
    run = Run(engine.Trainer(net, method="adam", learning_rate=0.01, batch_size=10), noise_data(300, 0),
              noise_data(60, 1), None, seed=0, epochs=4, chunk_seconds=0.02)
    last = list(run.reports())[-1]
    assert last["tag"] == "done" and "not_learning" not in last
    # a run that learns, judged at its end
    run = make_run(epochs=20, chunk_seconds=0.02, eval_every=10 ** 9)
    last = list(run.reports())[-1]
    assert run.examples_seen == 6000 and last["tag"] == "done" and "not_learning" not in last


def test_weights_too_large_for_their_norm_are_a_divergence_not_a_warning():
    """Weights of 1e30 overflow float32's dot product: the watch said "overflow encountered in
    dot" (an error under pytest, a warning for users) when a short chunk came first."""
    from engine.runs.run import DivergenceWatch
    net = engine.Net(DEFS, seed=0)
    watch = DivergenceWatch(net)
    net.flat_buffers()[0][:] = 1e30
    why, good = watch.check(1.0, 0.5, examples=10)
    assert "The weights grew" in why and good is False
