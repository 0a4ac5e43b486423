"""Faults in the app (issue #11): a stopped worker process never hangs Stop, an edit or
closing; a diverging run keeps its last good weights, batchnorm statistics included."""
import math
import os
import signal
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from engine.core.execution import processes as workers


@pytest.fixture(autouse=True)
def every_step_on_the_worker(monkeypatch):
    """These tests stop the worker mid-run: every step must go to it (whether it pays on
    this machine is engine.execution's measured choice, tested in tests/engine)."""
    from engine.core import execution
    monkeypatch.setattr(execution.WorkerChoice, "want_worker", lambda self: True)


def train_on_a_worker_then_stop_it(window, qtbot):
    """Train until the worker process takes shares of batches, then SIGSTOP it; its pid."""
    if not workers.warm_up(1, timeout=60):
        pytest.skip("no worker processes on this platform")
    s = window.session
    worker = workers._pool.workers[0]
    steps = worker.step
    if not s.training.running:
        assert s.training.train()
    qtbot.waitUntil(lambda: worker.step > steps + 5, timeout=20000)
    os.kill(worker.proc.pid, signal.SIGSTOP)
    return worker


def release(worker):
    if worker.proc.poll() is None:
        os.kill(worker.proc.pid, signal.SIGCONT)


def test_stop_an_edit_and_closing_finish_with_a_stopped_worker(tiny, qtbot, monkeypatch):
    """The engine abandons a worker that does not answer within its bounded wait (5 s a
    step) and the threads take over: each of these returns within a few seconds."""
    w, s = tiny, tiny.session
    c = w.train_tab.controls
    w.tabs.setCurrentWidget(w.train_tab)
    timings = {}
    # Stop
    worker = train_on_a_worker_then_stop_it(w, qtbot)
    try:
        t0 = time.monotonic()
        qtbot.mouseClick(c.stop_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: not s.training.running, timeout=30000)
        timings["stop"] = time.monotonic() - t0
    finally:
        release(worker)
    assert worker.proc.wait(timeout=10) is not None  # abandoned: killed, not left stopped
    assert c.train_button.isEnabled() and w.status.run.text() == "idle"
    # an edit while training (the user agrees to stop); from here a shorter bound, to keep the test short
    monkeypatch.setattr(workers, "WAIT_SECONDS", 1.0)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    worker = train_on_a_worker_then_stop_it(w, qtbot)
    try:
        t0 = time.monotonic()
        w.doc.select(1)
        w.build_tab.properties.editors["filters"][1].setValue(6)
        timings["edit"] = time.monotonic() - t0
    finally:
        release(worker)
    assert w.doc.layers[1]["filters"] == 6 and not s.training.running
    # closing while training
    worker = train_on_a_worker_then_stop_it(w, qtbot)
    job = s.training._job
    try:
        t0 = time.monotonic()
        assert w.close()
        timings["close"] = time.monotonic() - t0
    finally:
        release(worker)
    assert not job.alive
    # each returned (a worker that never answers would hang them): how fast is a figure, printed
    print("with a stopped worker:", {k: round(v, 1) for k, v in timings.items()})


BATCHNORM_NET = [{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1},
                 {"type": "conv", "sx": 3, "filters": 4, "stride": 2, "pad": 1},
                 {"type": "batchnorm"}, {"type": "relu"},
                 {"type": "pool", "sx": 2, "stride": 2},
                 {"type": "softmax", "num_classes": 10}]


def test_a_diverged_run_keeps_its_last_good_weights_and_batchnorm_statistics(window, qtbot, tmp_path):
    w, s = window, window.session
    exp = s.experiment().replace(layer_defs=BATCHNORM_NET, name="bn", epochs=50,
                                 trainer=dict(s.settings.trainer, method="sgd", learning_rate=0.01,
                                              momentum=0.9, batch_size=20))
    assert s.load_experiment(exp)
    assert s.training.step(5)  # a few good batches first: running statistics that are not the initial ones
    qtbot.waitUntil(lambda: s.examples_seen == 100, timeout=10000)
    s.training.stop()
    w.train_tab.controls.lr.setValue(1000)
    w.tabs.setCurrentWidget(w.train_tab)
    qtbot.mouseClick(w.train_tab.controls.train_button, Qt.LeftButton)
    c = w.train_tab.controls
    qtbot.waitUntil(lambda: not s.training.running and "diverged" in c.message.text(), timeout=20000)
    assert "try 0.01" in c.message.text() and c.rate_button.isVisible()
    qtbot.mouseClick(c.rate_button, Qt.LeftButton)  # the suggested rate, to train on from these weights
    assert s.learning_rate == pytest.approx(0.01)
    bn = [l for l in s.weights.to_json()["layers"] if l["layer_type"] == "batchnorm"][0]
    for key in ("running_mean", "running_var"):
        values = bn[key] if isinstance(bn[key], list) else bn[key]["w"]
        values = list(values.values()) if isinstance(values, dict) else values
        assert all(math.isfinite(v) for v in values), key
    assert all(np.all(np.isfinite(p)) for p in s.weights.params())
    probs = s.weights.predict(s.data.dataset.test.images[:200])
    assert np.all(np.isfinite(probs)) and np.allclose(probs.sum(1), 1, atol=1e-4)  # not NaN: real predictions
    # the kept weights save, and open again (NaN would be refused as not strict JSON)
    path = tmp_path / "after-divergence.json"
    assert w.files.save_weights(str(path))
    before = s.weights.predict(s.data.dataset.test.images[:50])
    assert w.files.open_snapshot(str(path))
    np.testing.assert_allclose(s.weights.predict(s.data.dataset.test.images[:50]), before, rtol=1e-5, atol=1e-6)
    assert not c.banner.isVisibleTo(w)  # new weights: the message about the old run goes


def test_a_training_thread_stuck_past_every_bound_is_left_behind(tiny, qtbot, monkeypatch):
    """The backstop: if the thread does not end within stop_timeout, the window goes on
    with a copy of the weights and says so."""
    import threading
    _w, s = tiny, tiny.session
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(title))
    assert s.training.train()
    qtbot.waitUntil(lambda: s.examples_seen > 0, timeout=10000)
    stuck = threading.Event()
    run, real = s.training.run, s.training.run.train_batches
    monkeypatch.setattr(run, "train_batches", lambda **kw: (stuck.wait(20), real(**kw))[1])
    qtbot.wait(400)  # the thread enters the stuck chunk
    monkeypatch.setattr(s.training, "stop_timeout", 0.5)
    net, job, training, run = s._net, s.training._job, s.training.current, s.training.run
    s.training.stop(wait=True)
    assert job.alive  # left behind: stop returned while the thread is still stuck (for 20 s)
    assert not s.training.running and shown == ["Training did not stop"]
    assert s._net is not net and s.weights is not None  # its own copy: the stuck thread keeps the old one
    # as far trained as before: counted, asked about on close, and Train goes on from there
    seen = run.examples_seen
    assert s.examples_seen == seen > 0 and s.weights.examples_seen == seen and s.weights_unsaved
    assert s.training.last is not None and s.training.last["run_id"] == s.run_id
    assert training.session is None  # the thread, should it wake, no longer saves into the folder
    stuck.set()
    qtbot.waitUntil(lambda: not job.alive, timeout=10000)
