"""The Train place as a new user met it: what it says, and where (issue #11)."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt


def fully_visible(window, label):
    """The label shows all of its text: tall enough for it, and inside the window."""
    if not label.isVisible() or label.height() < label.heightForWidth(label.width()):
        return False
    top_left = label.mapTo(window, QPoint(0, 0))
    bottom_right = label.mapTo(window, QPoint(label.width() - 1, label.height() - 1))
    return window.rect().contains(top_left) and window.rect().contains(bottom_right)


def diverge(window, qtbot):
    c = window.train_tab.controls
    c.method.setCurrentIndex(c.method.findData("sgd"))
    c.lr.setValue(1000)
    window.tabs.setCurrentWidget(window.train_tab)
    qtbot.mouseClick(c.train_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not window.session.training.running and "diverged" in c.message.text(), timeout=15000)


@pytest.mark.parametrize("size", [(1280, 800), (1024, 640)])
def test_the_divergence_message_is_fully_visible_and_its_rate_can_be_applied(tiny, qtbot, size):
    w, s = tiny, tiny.session
    w.resize(*size)
    diverge(w, qtbot)
    c = w.train_tab.controls
    qtbot.waitUntil(lambda: fully_visible(w, c.message), timeout=3000)
    assert "too high: try 0.01" in c.message.text() and "last good weights are kept" in c.message.text()
    assert c.rate_button.isVisible() and c.rate_button.text() == "Use learning rate 0.01"
    # scrolling the column does not take it away
    w.train_tab.column.verticalScrollBar().setValue(w.train_tab.column.verticalScrollBar().maximum())
    assert fully_visible(w, c.message)
    kept = [p.copy() for p in s.weights.params()]
    qtbot.mouseClick(c.rate_button, Qt.LeftButton)
    assert s.learning_rate == pytest.approx(0.01) and c.lr.value() == pytest.approx(0.01)
    assert "now 0.01" in c.message.text() and not c.rate_button.isVisible()
    for a, b in zip(s.weights.params(), kept):
        np.testing.assert_array_equal(a, b)  # the last good weights, to go on from
    assert all(np.all(np.isfinite(p)) for p in kept)


@pytest.mark.parametrize("size", [(1280, 800), (1024, 640)])
def test_an_invalid_network_says_why_it_cannot_train_and_offers_the_build_place(window, qtbot, size):
    w = window
    w.resize(*size)
    w.doc.select(2)
    w.build_tab.properties.editors["sx"][1].setValue(40)  # a pool window larger than its input
    assert not w.doc.valid
    w.tabs.setCurrentWidget(w.train_tab)
    c = w.train_tab.controls
    assert not c.train_button.isEnabled()
    qtbot.waitUntil(lambda: fully_visible(w, c.message), timeout=3000)
    assert c.message.text().startswith("Cannot train: layer 2, pool 40x40")
    assert str(w.doc.error) in c.message.text()
    assert c.build_button.isVisible()
    qtbot.mouseClick(c.build_button, Qt.LeftButton)
    assert w.tabs.currentWidget() is w.build_tab
    w.undo_action.trigger()
    assert w.doc.valid and c.train_button.isEnabled() and not c.banner.isVisibleTo(w)


def test_the_training_accuracy_is_a_running_estimate_that_one_step_does_not_jump(window):
    c = window.train_tab.controls

    def progress(seen, examples, acc):
        c.on_report({"tag": "progress", "examples_seen": seen, "epoch": seen / 55000, "learning_rate": 0.01,
                     "examples": examples, "examples_per_second": 1000.0, "fwd_ms_per_example": 0.1,
                     "bwd_ms_per_example": 0.1, "cost_loss": 0.1, "decay_loss": 0.0, "train_accuracy": acc})

    seen = 0
    for _ in range(10):
        seen += 1000
        progress(seen, 1000, 0.962)
    assert c.stat_labels["train"].text() == "96.2%"
    progress(seen + 20, 20, 0.85)  # one Step: a batch of 20, 17 right
    assert c.stat_labels["train"].text() == "96.2%"  # (4,810 + 17) / 5,020 = 96.15%
    caption = c.stat_captions["train"].text()
    assert caption.startswith("Training accuracy (last") and "5,020" in caption
    assert "running estimate" in c.stat_labels["train"].toolTip()


def test_new_weights_clear_the_previous_runs_numbers(tiny, qtbot):
    w, s = tiny, tiny.session
    assert s.training.step(2)
    qtbot.waitUntil(lambda: s.examples_seen == 40, timeout=10000)
    s.training.stop()
    s.training.report.emit({"tag": "eval", "examples_seen": 40, "epoch": 0.0, "batches": 2, "learning_rate": 0.01,
                   "time": 0.0, "validation_accuracy": 0.092, "validation_examples": 1000})
    c = w.train_tab.controls
    assert w.status.accuracy.text() == "validation 9.20%" and c.stat_labels["validation"].text() == "9.20%"
    assert w.files.open_trained_demo()
    assert w.status.accuracy.text() == "" and w.status.examples.text() == ""
    assert all(label.text() == "–" for label in c.stat_labels.values())
    assert c.stat_captions["train"].text() == "Training accuracy"


@pytest.mark.parametrize("size", [(1280, 800), (1024, 640)])
def test_the_plots_keep_off_the_window_edge(window, size):
    w = window
    w.resize(*size)
    w.tabs.setCurrentWidget(w.train_tab)
    w.train_tab.resize(w.centralWidget().size())
    for view in (w.train_tab.loss_plot, w.train_tab.accuracy_plot, w.train_tab.gallery):
        right = view.mapTo(w, QPoint(view.width(), 0)).x()
        assert right <= w.width() - 8, (type(view).__name__, right, w.width())


def test_the_unsaved_mark_follows_the_first_edit_and_undo(window):
    w = window
    assert "*" not in w.status.network.text() and not w.isWindowModified()
    w.doc.select(1)
    w.build_tab.properties.editors["filters"][1].setValue(5)  # the first edit
    assert "*" in w.status.network.text() and w.isWindowModified()
    w.undo_action.trigger()  # back to what was opened
    assert "*" not in w.status.network.text() and not w.isWindowModified()
    w.redo_action.trigger()
    assert "*" in w.status.network.text() and w.isWindowModified()



def small_data(window, qtbot, tmp_path, epochs=1):
    """A new dataset of 8x8 grey images (48 to train on, 12 held out), the network adapted
    to it, ``epochs`` per run, and the Train place on screen."""
    from ..engine import dataset_files as df
    s = window.session
    data = df.write_npz(tmp_path / "small.npz", df.images(60, 8, 8, 1), df.images(15, 8, 8, 1, seed=1))
    with qtbot.waitSignal(s.data.changed, timeout=20000):
        assert s.open_dataset(str(data))
    qtbot.mouseClick(window.build_tab.fit_banner.button, Qt.LeftButton)  # adapt the network to 8x8
    window.tabs.setCurrentWidget(window.train_tab)
    window.train_tab.controls.epochs.setValue(epochs)


def run(s, qtbot, **kwargs):
    with qtbot.waitSignal(s.training.finished, timeout=30000) as done:
        assert s.training.train(**kwargs)
    assert done.args == ["done"]


def test_a_finished_run_says_the_epochs_done(tiny, qtbot, tmp_path):
    """The bar read "epoch 2: 0%" after a run of 1 epoch, "epoch 4: 0%" after 3 of 3."""
    w, s = tiny, tiny.session
    small_data(w, qtbot, tmp_path)
    c = w.train_tab.controls
    run(s, qtbot)
    assert s.examples_seen == 48 and c.progress.text() == "epoch 1: 100%" and c.progress.value() == 1000
    run(s, qtbot, epochs=2)  # 3 epochs in all
    assert s.examples_seen == 3 * 48 and c.progress.text() == "epoch 3: 100%"
    run(s, qtbot, epochs=0.5)
    assert c.progress.text() == "epoch 4: 50%"


def test_the_gallery_shows_the_predictions_of_a_run_too_short_to_show_any(tiny, qtbot, tmp_path):
    """A run on a small new dataset ends before the gallery asked for predictions (it does
    about once a second while training): it said "press Train to start." after the run."""
    w, s = tiny, tiny.session
    small_data(w, qtbot, tmp_path)
    gallery = w.train_tab.gallery
    assert gallery.header.text() == "Test predictions: press Train to start."
    run(s, qtbot)
    qtbot.waitUntil(lambda: gallery.total > 0, timeout=10000)
    assert "right of the last 8 shown" in gallery.header.text()
    # another tab on screen when a run ends: the gallery asks when it is shown again
    s.reset_weights()
    assert gallery.header.text() == "Test predictions: press Train to start."
    w.tabs.setCurrentWidget(w.build_tab)
    run(s, qtbot)
    assert gallery.total == 0
    w.tabs.setCurrentWidget(w.train_tab)
    qtbot.waitUntil(lambda: gallery.total > 0, timeout=10000)


def _rate_changes(s):
    return [c for c in (s.training.current.record.get("changes") or []) if c["setting"] == "learning_rate"]


def test_a_learning_rate_typed_while_training_applies_once_when_the_edit_is_done(tiny, qtbot):
    """Typing "0.005" is one change from 0.01 to 0.005 (never 0.0 on the way, which trained at
    rate 0), one marker on the plots; a step arrow is one change too."""
    s, tp = tiny.session, tiny.train_tab.controls
    s.set_trainer_option("method", "sgd")
    s.set_learning_rate(0.01)
    assert s.training.train()
    qtbot.waitUntil(lambda: s.examples_seen > 0, timeout=10000)
    lr = tp.lr
    lr.setFocus()
    lr.lineEdit().selectAll()
    qtbot.keyClicks(lr.lineEdit(), "0.005")
    assert s.settings.trainer["learning_rate"] == 0.01 and not _rate_changes(s)  # still being typed
    qtbot.keyClick(lr.lineEdit(), Qt.Key_Return)
    assert s.settings.trainer["learning_rate"] == 0.005
    tiny.build_tab.stack.setFocus()  # leaving the field changes nothing more
    qtbot.waitUntil(lambda: len(_rate_changes(s)) == 1, timeout=5000)
    (c,) = _rate_changes(s)
    assert (c["from"], c["to"]) == (0.01, 0.005)
    lr.stepBy(1)  # the arrow: one more change, right away, close to the first on the plots
    overlays = tiny.experiments.overlays
    qtbot.waitUntil(lambda: len(overlays.change_lines) == 2, timeout=5000)
    assert [(c["from"], c["to"]) for c in _rate_changes(s)] == [(0.01, 0.005), (0.005, 0.01)]
    s.training.stop()
    # the two markers are close together (as after a long run: 97,240 and 97,880 examples on a
    # plot of 100,000); their labels stand apart, each readable
    tiny.tabs.setCurrentWidget(tiny.train_tab)
    qtbot.waitExposed(tiny.train_tab)
    xs = [c["examples_seen"] for c, _ in overlays.change_lines]
    assert xs[1] - xs[0] < 5000
    overlays.views["loss"].plot.setXRange(0, 100 * xs[1], padding=0)
    qtbot.wait(100)
    labels = [line.label for _, lines in overlays.change_lines for _, line in lines if getattr(line, "label", None)]
    assert len(labels) == 2 and all(label.isVisible() for label in labels)
    for label in labels:
        label.updatePosition()
    a, b = (label.sceneBoundingRect() for label in labels)
    assert a.height() > 0 and not a.intersects(b)
