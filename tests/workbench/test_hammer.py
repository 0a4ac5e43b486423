"""Everything at once: training, Inspect on screen, Draw predicting every 40 ms, evaluations.

Every state Inspect shows must equal a fresh trace of the same weights on the same
example, and every Draw answer the same weights' output for the drawn digit: no
job may see weights half-updated by training or activations left by another job.
"""
import numpy as np
from PySide6.QtCore import QTimer

import engine
from engine.data import network_input
from engine.runs.experiment import preset


def fresh_trace(weights, x, label):
    """The same weights rebuilt from their snapshot, traced on their own."""
    net = engine.Net.from_json(weights.to_json())
    return net.trace(x, [label])


def test_hammer(window, qtbot, dataset):
    s = window.session
    assert s.load_experiment(preset("convnetjs-demo").replace(epochs=100))
    shown, answers, evaluations = [], [], []
    s.predictions.inspected.connect(shown.append)
    s.predictions.drawingPredicted.connect(answers.append)
    s.predictions.evaluated.connect(evaluations.append)
    s.predictions.evaluated.connect(lambda _: s.predictions.evaluate())  # one evaluation after another
    s.training.train()
    window.tabs.setCurrentWidget(window.network_view)
    s.predictions.evaluate()
    rng = np.random.default_rng(0)
    canvas = window.draw_panel.canvas

    def draw():  # a new drawing every 40 ms, sent through the Draw place as the pen would
        img = np.clip(np.kron(dataset.train.images[rng.integers(60000), :, :, 0] / 255.0,
                              np.ones((10, 10))), 0, 1).astype(np.float32)
        canvas.set_image(img)

    def pick():  # another example in Inspect
        window.network_view.index.setValue(int(rng.integers(10000)))

    timers = []
    for ms, fn in ((40, draw), (150, pick)):
        t = QTimer()
        t.timeout.connect(fn)
        t.start(ms)
        timers.append(t)

    def enough():
        return (len(shown) > 12 and len({st["weights"].version for st in shown}) >= 3  # Inspect followed
                and len(answers) > 20 and len({r["version"] for r in answers}) >= 3  # so did Draw
                and len(evaluations) >= 2 and evaluations[-1]["examples_seen"] > evaluations[0]["examples_seen"])

    qtbot.waitUntil(enough, timeout=60000)
    for t in timers:
        t.stop()
    s.training.stop()
    assert s.examples_seen > 2000
    for st in shown:
        w = st["weights"]
        kind, _, index = st["source"].partition(" example #")
        pixels = (dataset.test if kind == "test" else dataset.train).images[int(index)]
        x = network_input(pixels[None], w.input_shape)
        np.testing.assert_array_equal(st["input"], x)
        label = st["label"]
        trace = fresh_trace(w, x, label)
        for e, act, grad in zip(st["layers"], trace.acts, trace.grads):
            np.testing.assert_allclose(e["act"], act[0], rtol=1e-4, atol=1e-5)
            if grad is not None:
                np.testing.assert_allclose(e["grad"], grad[0], rtol=1e-4, atol=1e-6)
        slot = w.param_slot(1)
        np.testing.assert_allclose(st["layers"][1]["filter_grads"], trace.param_grads[slot], rtol=1e-4, atol=1e-6)
    for r in answers:
        assert "probs" in r, r.get("message")
        net = engine.Net.from_json(r["weights"].to_json())
        np.testing.assert_allclose(r["probs"], net.forward(r["input"]).reshape(-1), rtol=1e-4, atol=1e-6)
    assert window.network_view.state is shown[-1]
    for ev in evaluations:
        assert ev["matrix"].sum() == 10000
