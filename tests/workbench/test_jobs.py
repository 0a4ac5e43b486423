"""Background jobs: one task at a time, the newest request waits, results are plain data.

The tasks read published Weights, an immutable copy of a network: what they give
back must equal what the engine computes on those weights.
"""
import threading

import numpy as np
import pytest

import engine
from engine.data import accuracy, network_input
from engine.runs.experiment import preset
from workbench.state import jobs
from workbench.state.jobs import Cancelled, Job, TaskState
from workbench.state.weights import Weights

from .conftest import TINY


@pytest.fixture(scope="module")
def demo_weights():
    return Weights(preset("convnetjs-demo").build_net(seed=1))


def test_newest_request_waits_and_results_come_in_order(qtbot):
    job = Job("test")
    gate = threading.Event()
    ran, results = [], []
    job.done.connect(results.append)

    def task(state, k):
        ran.append(k)
        if k == 1:
            gate.wait(5)
        return {"k": k}

    job.start(task, 1)
    for k in (2, 3, 4):  # while 1 runs: each replaces the one waiting
        job.start(task, k)
    assert job.busy
    gate.set()
    qtbot.waitUntil(lambda: len(results) == 2, timeout=5000)
    assert ran == [1, 4] and [r["k"] for r in results] == [1, 4]
    qtbot.waitUntil(lambda: not job.busy, timeout=2000)


def test_cancel_drops_the_result_and_the_waiting_request(qtbot):
    job = Job("test")
    results, busy = [], []
    job.done.connect(results.append)
    job.busyChanged.connect(busy.append)
    started = threading.Event()

    def task(state):
        started.set()
        while True:  # a long task that looks at its state
            state.check()
            threading.Event().wait(0.005)

    job.start(task)
    job.start(task)
    assert started.wait(5)
    job.cancel()
    qtbot.waitUntil(lambda: busy == [True, False], timeout=5000)
    assert results == [] and not job.busy


def test_a_failing_task_reports_its_message_and_progress_arrives(qtbot):
    job = Job("test")
    failed, progress = [], []
    job.failed.connect(failed.append)
    job.progress.connect(progress.append)

    def task(state):
        state.set_progress(0.5)
        raise engine.DataError("the images have 3 channels")

    job.start(task)
    qtbot.waitUntil(lambda: bool(failed), timeout=5000)
    assert failed == ["the images have 3 channels"] and progress == [0.5]


def test_task_state():
    state = TaskState()
    state.check()
    state.cancel()
    assert state.cancelled
    with pytest.raises(Cancelled):
        state.check()


def test_published_weights_do_not_follow_the_live_network():
    net = engine.Net(TINY, seed=0)
    w = Weights(net, examples_seen=0)
    before = w.params()
    x = np.random.default_rng(0).random((2, 24, 24, 1), dtype=np.float32) - 0.5
    out = w.forward(x)
    for pg in net.params_and_grads():  # training goes on with the live network
        pg["params"] += 1.0
    for a, b in zip(w.params(), before):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(w.forward(x), out, rtol=1e-5, atol=1e-6)
    assert w.untrained and not Weights(net, examples_seen=20).untrained


def test_inspect_task_equals_a_fresh_trace(demo_weights, dataset):
    image, label = dataset.test.images[3], int(dataset.test.labels[3])
    st = jobs.inspect_example(TaskState(), demo_weights, image, label, "test example #3")
    x = network_input(image[None], demo_weights.input_shape)
    np.testing.assert_array_equal(st["input"], x)
    trace = engine.Net.from_json(demo_weights.to_json()).trace(x, [label])  # the same weights, rebuilt
    assert [e["type"] for e in st["layers"]] == [l["type"] for l in demo_weights.layers]
    for e, act, grad in zip(st["layers"], trace.acts, trace.grads):
        np.testing.assert_allclose(e["act"], act[0], rtol=1e-5, atol=1e-6)
        if grad is None:
            assert e["grad"] is None
        else:
            np.testing.assert_allclose(e["grad"], grad[0], rtol=1e-5, atol=1e-7)
    conv = st["layers"][1]
    np.testing.assert_array_equal(conv["filters"], demo_weights.layer_params(1)[0])
    np.testing.assert_allclose(conv["filter_grads"], trace.param_grads[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(st["probs"], trace.output.reshape(-1), rtol=1e-5, atol=1e-7)
    # the input layer's gradient is the gradient with respect to the image
    assert st["layers"][0]["grad"].shape == (24, 24, 1) and np.abs(st["layers"][0]["grad"]).max() > 0


def test_unlabelled_example_is_explained_by_its_predicted_class(demo_weights):
    digit = np.zeros((28, 28), np.float32)
    digit[6:22, 12:16] = 1.0  # a "1"
    st = jobs.inspect_example(TaskState(), demo_weights, digit, None, "drawn digit")
    x = network_input(digit[None], demo_weights.input_shape)
    np.testing.assert_allclose(st["input"][0, :, :, 0], digit[2:26, 2:26] - 0.5)
    trace = demo_weights.trace(x, [st["predicted"]])
    np.testing.assert_allclose(st["layers"][0]["grad"], trace.grads[0][0], rtol=1e-5, atol=1e-7)


def test_draw_task_answers_or_says_why_not(demo_weights):
    digit = np.zeros((28, 28), np.float32)
    digit[6:22, 12:16] = 1.0
    out = jobs.predict_digit(TaskState(), demo_weights, digit, 1.5)
    x = network_input(digit[None], (24, 24, 1))
    np.testing.assert_allclose(out["probs"], demo_weights.forward(x).reshape(-1), rtol=1e-5, atol=1e-7)
    assert out["crop"] == 24 and out["ms"] >= 1.5 and out["untrained"]
    colour = Weights(engine.Net([{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 3},
                                 {"type": "softmax", "num_classes": 10}]))
    assert "3-channel" in jobs.predict_digit(TaskState(), colour, digit)["message"]
    big = Weights(engine.Net([{"type": "input", "out_sx": 32, "out_sy": 32, "out_depth": 1},
                              {"type": "softmax", "num_classes": 10}]))
    assert "at most 28x28" in jobs.predict_digit(TaskState(), big, digit)["message"]
    reg = Weights(engine.Net([{"type": "input", "out_sx": 28, "out_sy": 28, "out_depth": 1},
                              {"type": "regression", "num_neurons": 2}]))
    assert "regression" in jobs.predict_digit(TaskState(), reg, digit)["message"]


def test_evaluate_task_equals_the_engines_accuracy(demo_weights, dataset):
    part = dataset.test.subset(np.arange(600))
    seen = []
    state = TaskState(seen.append)
    res = jobs.evaluate(state, demo_weights, part.images, part.labels)
    net = engine.Net.from_json(demo_weights.to_json())
    assert res["accuracy"] == pytest.approx(accuracy(net, part), abs=1 / 600)
    assert res["matrix"].sum() == 600 and np.trace(res["matrix"]) == res["right"]
    assert seen and seen[0] == 0.0 and all(0 <= f < 1 for f in seen)
    state.cancel()
    with pytest.raises(Cancelled):
        jobs.evaluate(state, demo_weights, part.images, part.labels)


def test_a_task_state_hands_the_engine_its_progress_and_cancel_check():
    from engine.core.errors import Cancelled as EngineCancelled
    seen = []
    state = TaskState(on_progress=seen.append)
    rep = state.reporter(start=0.5, span=0.5)
    rep.progress(0.5)
    assert seen == [0.75]
    state.cancel()
    assert Cancelled is EngineCancelled
    with pytest.raises(EngineCancelled):
        rep.check()
