"""Training on the worker thread, as the user drives it from the Train place."""
import numpy as np
from PySide6.QtCore import Qt


def examples(window):
    return window.controller.examples_seen


def start(window, qtbot):
    window.tabs.setCurrentWidget(window.train_tab)
    qtbot.mouseClick(window.train_panel.train_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.loss_plot.cost_s.n >= 2, timeout=10000)


def test_training_starts_and_the_loss_curve_grows(tiny, qtbot):
    w = tiny
    start(w, qtbot)
    assert w.controller.running and w.status_run.text() == "training"
    n = w.loss_plot.cost_s.n
    qtbot.waitUntil(lambda: w.loss_plot.cost_s.n > n + 2, timeout=10000)
    qtbot.wait(300)  # a plot refresh
    x, y = w.loss_plot.raw.getData()
    assert len(x) >= n + 2 and np.all(np.diff(x) > 0)
    assert w.train_panel.stat_labels["examples"].text() not in ("", "–")
    assert float(w.train_panel.stat_labels["speed"].text().replace(",", "")) > 0
    assert not w.train_panel.train_button.isEnabled() and w.train_panel.stop_button.isEnabled()


def test_the_window_trains_with_the_worker_process(tiny, qtbot):
    """Batches of 20 go half to the engine's worker process, from the training thread."""
    import pytest
    from engine.execution import processes as workers
    if not workers.warm_up(1, timeout=60):
        pytest.skip("no worker processes on this platform")
    w = tiny
    steps = workers._pool.workers[0].step
    start(w, qtbot)
    qtbot.waitUntil(lambda: workers._pool.workers[0].step > steps + 20, timeout=10000)
    qtbot.waitUntil(lambda: w.loss_plot.cost_s.n >= 4, timeout=10000)
    assert np.all(np.isfinite(w.loss_plot.cost_s.data()[1]))
    w.controller.stop()
    qtbot.waitUntil(lambda: not w.controller.running, timeout=10000)


def test_pause_stops_the_examples_count_and_step_adds_one_batch(tiny, qtbot):
    w = tiny
    start(w, qtbot)
    qtbot.mouseClick(w.train_panel.pause_button, Qt.LeftButton)
    assert w.controller.paused and w.train_panel.pause_button.text() == "Resume"
    qtbot.wait(400)  # the chunk in progress finishes and reports
    seen = examples(w)
    qtbot.wait(500)
    assert examples(w) == seen  # really paused
    batch = w.train_panel.batch.value()
    qtbot.mouseClick(w.train_panel.step_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: examples(w) == seen + batch, timeout=5000)
    qtbot.wait(300)
    assert examples(w) == seen + batch  # one batch, then paused again
    qtbot.mouseClick(w.train_panel.pause_button, Qt.LeftButton)  # resume
    qtbot.waitUntil(lambda: examples(w) > seen + batch, timeout=5000)


def test_settings_changed_mid_run_reach_the_trainer(tiny, qtbot):
    w = tiny
    start(w, qtbot)
    w.train_panel.method.setCurrentIndex(w.train_panel.method.findData("sgd"))
    w.train_panel.lr.setValue(0.0234)
    w.train_panel.batch.setValue(7)
    w.train_panel.momentum.setValue(0.5)
    t = w.controller.trainer
    assert (t.method, t.learning_rate, t.batch_size, t.momentum) == ("sgd", 0.0234, 7, 0.5)
    seen = examples(w)
    qtbot.waitUntil(lambda: examples(w) > seen + 50, timeout=5000)
    # the run now trains in batches of 7
    w.controller.pause()
    qtbot.wait(400)
    seen = examples(w)
    w.controller.step()
    qtbot.waitUntil(lambda: examples(w) == seen + 7, timeout=5000)


def test_stop_and_close_end_the_thread(tiny, qtbot):
    w = tiny
    start(w, qtbot)
    qtbot.mouseClick(w.train_panel.stop_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.controller.running, timeout=5000)
    assert w.controller._thread is None and w.status_run.text() == "idle"
    seen = examples(w)
    # Train again continues the same weights (no new run)
    run_id = w.controller.run_id
    start(w, qtbot)
    qtbot.waitUntil(lambda: examples(w) > seen, timeout=5000)
    assert w.controller.run_id == run_id
    thread = w.controller._thread
    w.close()  # while training: the thread is stopped and joined
    assert w.controller._thread is None and thread.isFinished() if thread is not None else True


def test_huge_learning_rate_ends_in_the_diverged_message(tiny, qtbot):
    w = tiny
    w.train_panel.method.setCurrentIndex(w.train_panel.method.findData("sgd"))
    w.train_panel.lr.setValue(1000)
    w.tabs.setCurrentWidget(w.train_tab)
    qtbot.mouseClick(w.train_panel.train_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.controller.running and "diverged" in w.train_panel.message.text(),
                    timeout=15000)
    text = w.train_panel.message.text()
    assert "learning rate" in text and "too high" in text and "try 100" in text
    for pg in w.controller.net.params_and_grads():
        assert np.all(np.isfinite(pg["params"]))  # the last good weights are kept


def test_reset_weights_greys_the_old_curves(tiny, qtbot):
    w = tiny
    start(w, qtbot)
    w.controller.stop()
    old = [pg["params"].copy() for pg in w.controller.net.params_and_grads()]
    qtbot.mouseClick(w.train_panel.reset_button, Qt.LeftButton)
    assert len(w.loss_plot.old_curves) == 1 and w.loss_plot.cost_s.n == 0
    assert w.gallery.total == 0
    new = [pg["params"] for pg in w.controller.net.params_and_grads()]
    assert not all(np.array_equal(a, b) for a, b in zip(old, new))


def test_editing_the_network_while_training_asks_first(tiny, qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox
    w = tiny
    start(w, qtbot)
    answers = [QMessageBox.Cancel, QMessageBox.Yes]
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or answers.pop(0))
    w.doc.select(1)
    w.properties.editors["filters"][1].setValue(6)
    assert asked and "Stop training" in asked[0]
    assert w.doc.layers[1]["filters"] == 4 and w.controller.running  # refused: nothing changed
    assert w.properties.editors["filters"][1].value() == 4
    w.properties.editors["filters"][1].setValue(6)
    assert w.doc.layers[1]["filters"] == 6 and not w.controller.running
    start(w, qtbot)  # trains the new structure from fresh weights
    assert w.controller.net.layers[1].filters == 6


def test_inspect_shows_every_layer_and_the_gallery_fills(tiny, qtbot):
    w = tiny
    start(w, qtbot)
    qtbot.waitUntil(lambda: w.gallery.total > 0, timeout=8000)
    assert w.gallery.header.text().startswith("Test predictions:")
    w.tabs.setCurrentWidget(w.network_view)
    qtbot.waitUntil(lambda: w.network_view.state is not None, timeout=8000)
    st = w.network_view.state
    types = [e["type"] for e in st["layers"]]
    assert types == [l.layer_type for l in w.controller.net.layers]
    conv = st["layers"][1]
    assert conv["act"].shape == (12, 12, 4) and conv["filters"].shape == (4, 3, 3, 1)
    assert conv["grad"] is not None and conv["filter_grads"] is not None
    rows = [r for r in w.network_view.rows if r.isVisible()]
    assert len(rows) == len(types)
    assert "4,0" not in rows[1].title.text() and "12x12x4" in rows[1].title.text()
    assert rows[1].filters.isVisible() and rows[1].act.image is not None
    # choosing another example changes what is shown
    w.controller.stop()
    before = w.network_view.state["layers"][0]["act"].copy()
    w.network_view.index.setValue(5)
    assert not np.array_equal(before, w.network_view.state["layers"][0]["act"])


def test_plot_exports(tiny, qtbot, tmp_path):
    w = tiny
    start(w, qtbot)
    w.controller.stop()
    w.loss_plot.refresh()
    w.loss_plot.save_csv(str(tmp_path / "loss.csv"))
    w.loss_plot.save_png(str(tmp_path / "loss.png"))
    lines = (tmp_path / "loss.csv").read_text().splitlines()
    assert lines[0] == "series,examples_seen,value" and len(lines) > 2
    assert (tmp_path / "loss.png").stat().st_size > 1000
    w.loss_plot.log.setChecked(True)
    assert w.loss_plot.plot.getPlotItem().ctrl.logYCheck.isChecked()


def test_step_from_idle_trains_exactly_one_batch(tiny, qtbot):
    w = tiny
    qtbot.mouseClick(w.train_panel.step_button, Qt.LeftButton)
    batch = w.train_panel.batch.value()
    qtbot.waitUntil(lambda: examples(w) == batch, timeout=5000)
    qtbot.wait(300)
    assert examples(w) == batch and w.controller.paused
    assert w.train_panel.train_button.text() == "Resume"


def test_one_more_epoch_trains_one_pass_then_stops(tiny, qtbot):
    w = tiny
    w.train_panel.validation.setValue(20000)  # 40,000 training images left
    w.train_panel.batch.setValue(200)
    qtbot.mouseClick(w.train_panel.epoch_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.controller.running and examples(w) > 0, timeout=30000)
    assert examples(w) == 40000
    assert w.train_panel.message.text() == "Finished."
    assert w.accuracy_plot.val_s.n >= 1  # the final evaluation reached the plot
