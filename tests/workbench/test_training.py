"""Training on the worker thread, as the user drives it from the Train place."""
import numpy as np
from PySide6.QtCore import Qt


def examples(window):
    return window.session.examples_seen


def start(window, qtbot):
    window.tabs.setCurrentWidget(window.train_tab)
    qtbot.mouseClick(window.train_tab.controls.train_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.train_tab.loss_plot.cost_s.n >= 2, timeout=10000)


def test_training_starts_and_the_loss_curve_grows(tiny, qtbot):
    w = tiny
    start(w, qtbot)
    assert w.session.training.running and w.status.run.text() == "training"
    n = w.train_tab.loss_plot.cost_s.n
    qtbot.waitUntil(lambda: w.train_tab.loss_plot.cost_s.n > n + 2, timeout=10000)
    qtbot.wait(300)  # a plot refresh
    x, y = w.train_tab.loss_plot.raw.getData()
    assert len(x) >= n + 2 and np.all(np.diff(x) > 0)
    assert w.train_tab.controls.stat_labels["examples"].text() not in ("", "–")
    assert float(w.train_tab.controls.stat_labels["speed"].text().replace(",", "")) > 0
    assert not w.train_tab.controls.train_button.isEnabled() and w.train_tab.controls.stop_button.isEnabled()


def test_the_window_trains_with_the_worker_process(tiny, qtbot, monkeypatch):
    """Batches of 20 go half to the engine's worker process, from the training thread
    (every step: whether it pays on this machine is engine.execution's measured choice)."""
    import pytest

    from engine.core import execution
    from engine.core.execution import processes as workers
    monkeypatch.setattr(execution.WorkerChoice, "want_worker", lambda self: True)
    if not workers.warm_up(1, timeout=60):
        pytest.skip("no worker processes on this platform")
    w = tiny
    steps = workers._pool.workers[0].step
    start(w, qtbot)
    qtbot.waitUntil(lambda: workers._pool.workers[0].step > steps + 20, timeout=10000)
    qtbot.waitUntil(lambda: w.train_tab.loss_plot.cost_s.n >= 4, timeout=10000)
    assert np.all(np.isfinite(w.train_tab.loss_plot.cost_s.data()[1]))
    w.session.training.stop()
    assert not w.session.training.running


def test_pause_stops_the_examples_count_and_step_adds_one_batch(tiny, qtbot):
    w = tiny
    start(w, qtbot)
    qtbot.mouseClick(w.train_tab.controls.pause_button, Qt.LeftButton)
    assert w.session.training.paused and w.train_tab.controls.pause_button.text() == "Resume"
    qtbot.wait(400)  # the chunk in progress finishes and reports
    seen = examples(w)
    qtbot.wait(500)
    assert examples(w) == seen  # really paused
    batch = w.train_tab.controls.batch.value()
    qtbot.mouseClick(w.train_tab.controls.step_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: examples(w) == seen + batch, timeout=5000)
    qtbot.wait(300)
    assert examples(w) == seen + batch  # one batch, then paused again
    qtbot.mouseClick(w.train_tab.controls.pause_button, Qt.LeftButton)  # resume
    qtbot.waitUntil(lambda: examples(w) > seen + batch, timeout=5000)


def test_settings_changed_mid_run_reach_the_trainer(tiny, qtbot):
    w = tiny
    start(w, qtbot)
    w.train_tab.controls.method.setCurrentIndex(w.train_tab.controls.method.findData("sgd"))
    w.train_tab.controls.lr.setValue(0.0234)
    w.train_tab.controls.batch.setValue(7)
    w.train_tab.controls.momentum.setValue(0.5)
    t = w.session.trainer
    assert (t.method, t.learning_rate, t.batch_size, t.momentum) == ("sgd", 0.0234, 7, 0.5)
    seen = examples(w)
    qtbot.waitUntil(lambda: examples(w) > seen + 50, timeout=5000)
    # the run now trains in batches of 7
    w.session.training.pause()
    qtbot.wait(400)
    seen = examples(w)
    w.session.training.step()
    qtbot.waitUntil(lambda: examples(w) == seen + 7, timeout=5000)


def test_stop_and_close_end_the_thread(tiny, qtbot):
    w = tiny
    start(w, qtbot)
    qtbot.mouseClick(w.train_tab.controls.stop_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.session.training.running, timeout=5000)
    assert not w.session.training.running and w.status.run.text() == "idle"
    seen = examples(w)
    # Train again continues the same weights (no new run)
    run_id = w.session.run_id
    start(w, qtbot)
    qtbot.waitUntil(lambda: examples(w) > seen, timeout=5000)
    assert w.session.run_id == run_id
    job = w.session.training._job
    w.close()  # while training: the thread is stopped and joined
    assert not w.session.training.running and not job.alive


def test_huge_learning_rate_ends_in_the_diverged_message(tiny, qtbot):
    w = tiny
    w.train_tab.controls.method.setCurrentIndex(w.train_tab.controls.method.findData("sgd"))
    w.train_tab.controls.lr.setValue(1000)
    w.tabs.setCurrentWidget(w.train_tab)
    qtbot.mouseClick(w.train_tab.controls.train_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.session.training.running and "diverged" in w.train_tab.controls.message.text(),
                    timeout=15000)
    text = w.train_tab.controls.message.text()
    assert "learning rate" in text and "too high" in text and "try 0.01" in text
    for p in w.session.weights.params():
        assert np.all(np.isfinite(p))  # the last good weights are kept


def test_reset_weights_greys_the_old_curves(tiny, qtbot):
    w = tiny
    start(w, qtbot)
    w.session.training.stop()
    old = w.session.weights.params()
    qtbot.mouseClick(w.train_tab.controls.reset_button, Qt.LeftButton)
    assert len(w.train_tab.loss_plot.old_curves) == 1 and w.train_tab.loss_plot.cost_s.n == 0
    assert w.train_tab.gallery.total == 0
    new = w.session.weights.params()
    assert not all(np.array_equal(a, b) for a, b in zip(old, new))


def test_editing_the_network_while_training_asks_first(tiny, qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox
    w = tiny
    start(w, qtbot)
    answers = [QMessageBox.Cancel, QMessageBox.Yes]
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or answers.pop(0))
    w.doc.select(1)
    w.build_tab.properties.editors["filters"][1].setValue(6)
    assert asked and "Stop training" in asked[0]
    assert w.doc.layers[1]["filters"] == 4 and w.session.training.running  # refused: nothing changed
    assert w.build_tab.properties.editors["filters"][1].value() == 4
    w.build_tab.properties.editors["filters"][1].setValue(6)
    assert w.doc.layers[1]["filters"] == 6 and not w.session.training.running
    start(w, qtbot)  # trains the new structure from fresh weights
    assert w.session.weights.layers[1]["shape"][2] == 6


def test_inspect_shows_every_layer_and_the_gallery_fills(tiny, qtbot):
    w = tiny
    start(w, qtbot)
    qtbot.waitUntil(lambda: w.train_tab.gallery.total > 0, timeout=8000)
    assert w.train_tab.gallery.header.text().startswith("Test predictions:")
    w.tabs.setCurrentWidget(w.network_view)
    qtbot.waitUntil(lambda: w.network_view.state is not None, timeout=8000)
    st = w.network_view.state
    types = [e["type"] for e in st["layers"]]
    assert types == [l["type"] for l in w.session.weights.layers]
    conv = st["layers"][1]
    assert conv["act"].shape == (12, 12, 4) and conv["filters"].shape == (4, 3, 3, 1)
    assert conv["grad"] is not None and conv["filter_grads"] is not None
    rows = [r for r in w.network_view.rows if r.isVisible()]
    assert len(rows) == len(types)
    assert "4,0" not in rows[1].title.text() and "12x12x4" in rows[1].title.text()
    assert rows[1].filters.isVisible() and rows[1].act.image is not None
    # choosing another example changes what is shown
    w.session.training.stop()
    before = w.network_view.state["layers"][0]["act"].copy()
    w.network_view.index.setValue(5)
    qtbot.waitUntil(lambda: w.network_view.state["source"] == "test example #5", timeout=5000)
    assert not np.array_equal(before, w.network_view.state["layers"][0]["act"])


def test_plot_exports(tiny, qtbot, tmp_path):
    w = tiny
    start(w, qtbot)
    w.session.training.stop()
    w.train_tab.loss_plot.refresh()
    w.train_tab.loss_plot.save_csv(str(tmp_path / "loss.csv"))
    w.train_tab.loss_plot.save_png(str(tmp_path / "loss.png"))
    lines = (tmp_path / "loss.csv").read_text().splitlines()
    assert lines[0] == "series,examples_seen,value" and len(lines) > 2
    assert (tmp_path / "loss.png").stat().st_size > 1000
    w.train_tab.loss_plot.log.setChecked(True)
    assert w.train_tab.loss_plot.plot.getPlotItem().ctrl.logYCheck.isChecked()


def test_step_from_idle_trains_exactly_one_batch(tiny, qtbot):
    w = tiny
    qtbot.mouseClick(w.train_tab.controls.step_button, Qt.LeftButton)
    batch = w.train_tab.controls.batch.value()
    qtbot.waitUntil(lambda: examples(w) == batch, timeout=5000)
    qtbot.wait(300)
    assert examples(w) == batch and w.session.training.paused
    # paused: Resume is the Pause button's word only (Train starts runs; both read "Resume" before)
    c = w.train_tab.controls
    assert c.pause_button.text() == "Resume" and c.pause_button.isChecked() and c.pause_button.isEnabled()
    assert c.train_button.text() == "Train" and not c.train_button.isEnabled()
    qtbot.mouseClick(c.pause_button, Qt.LeftButton)
    assert not w.session.training.paused and c.pause_button.text() == "Pause"


def test_one_more_epoch_trains_one_pass_then_stops(tiny, qtbot):
    w = tiny
    w.train_tab.controls.validation.setValue(20000)  # 40,000 training images left
    w.train_tab.controls.batch.setValue(200)
    qtbot.mouseClick(w.train_tab.controls.epoch_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.session.training.running and examples(w) > 0, timeout=30000)
    assert examples(w) == 40000
    assert w.train_tab.controls.message.text() == "Finished."
    assert w.train_tab.accuracy_plot.val_s.n >= 1  # the final evaluation reached the plot


def test_a_run_at_chance_ends_in_a_not_learning_message_like_a_divergence(tiny, qtbot, monkeypatch):
    """A run that sat at chance ended "Finished." (issue 20): it says so as a divergence does,
    with the rate to try on its button. (Judged here from the first example on, so that a run
    of 1,100 examples at a rate far too low stands for an epoch at chance.)"""
    import engine.training
    monkeypatch.setattr(engine.training, "NOT_LEARNING_MIN_EXAMPLES", 0)
    w = tiny
    s = w.session
    assert s.load_experiment(s.experiment().replace(
        epochs=0.02, trainer=dict(s.settings.trainer, method="sgd", learning_rate=1e-7, momentum=0.0,
                                  batch_size=20)))
    ended = []
    s.training.finished.connect(ended.append)
    w.tabs.setCurrentWidget(w.build_tab)
    qtbot.mouseClick(w.train_tab.controls.train_button, Qt.LeftButton)
    c = w.train_tab.controls
    qtbot.waitUntil(lambda: bool(ended), timeout=60000)
    assert ended == ["not learning"] and w.tabs.currentWidget() is w.train_tab
    text = c.message.text()
    assert "not learning" in text and "may be too low: try 1e-06" in text and "Finished" not in text
    assert c.rate_button.isVisible() and c.rate_button.text() == "Use learning rate 1e-06"
