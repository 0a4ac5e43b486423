"""Evaluate: the test accuracy and confusion matrix of the current weights."""
import numpy as np


def test_evaluate_the_trained_demo(window, qtbot):
    assert window.files.open_trained_demo()
    window.tabs.setCurrentWidget(window.evaluate)
    window.evaluate.button.click()
    qtbot.waitUntil(lambda: window.evaluate.button.isEnabled() and "Test accuracy" in window.evaluate.result.text(),
                    timeout=30000)
    m = window.evaluate.last["matrix"]
    assert m.shape == (10, 10) and m.sum() == 10000
    assert window.evaluate.last["accuracy"] > 0.985
    assert np.trace(m) == round(window.evaluate.last["accuracy"] * 10000)
    t = window.evaluate.table
    assert t.horizontalHeaderItem(0).text() == "0" and t.item(3, 3).text() == str(m[3, 3])


def test_new_weights_cancel_an_evaluation_of_the_old_ones(window, qtbot):
    assert window.files.open_trained_demo()
    ev = window.evaluate
    window.tabs.setCurrentWidget(ev)
    ev.button.click()
    assert window.session.predictions.evaluating and not ev.button.isEnabled() and ev.progress.isVisible()
    window.session.reset_weights()
    qtbot.waitUntil(lambda: not window.session.predictions.evaluating, timeout=30000)
    assert ev.last is None and ev.result.text() == "Cancelled." and ev.button.isEnabled()


def test_evaluating_without_weights_says_so(qtbot, dataset):
    from workbench.state.session import Session
    from workbench.views.evaluate.place import EvaluatePanel
    s = Session(dataset)  # nothing loaded
    ev = EvaluatePanel(s)
    qtbot.addWidget(ev)
    ev.button.click()
    assert "no weights yet" in ev.result.text()


def test_evaluating_a_new_dataset_does_not_say_the_dataset_changed(window, qtbot, tmp_path):
    """Evaluate says its figures are of another dataset only until it evaluates the new one;
    an evaluation running when the dataset changes is dropped (its images are gone)."""
    from tests.engine.dataset_files import write_small_mnist
    s, ev = window.session, window.evaluate
    assert window.files.open_trained_demo()
    window.tabs.setCurrentWidget(ev)
    ev.button.click()
    qtbot.waitUntil(lambda: "Test accuracy" in ev.result.text(), timeout=30000)
    assert ev.last["matrix"].sum() == 10000
    ev.button.click()  # still running when the new dataset has loaded
    assert s.open_dataset(str(write_small_mnist(tmp_path / "small.npz", 2000, 500)))
    qtbot.waitUntil(lambda: not s.data.busy and not s.predictions.evaluating, timeout=30000)
    assert len(s.data.dataset.test) == 500
    assert ev.stale.isVisible() and "dataset has changed" in ev.stale.text()
    assert "dataset changed" in ev.confused.caption.text()
    assert ev.last["matrix"].sum() == 10000  # the old figures, said to be old; nothing of the dropped run
    ev.button.click()
    qtbot.waitUntil(lambda: ev.button.isEnabled() and "Test accuracy" in ev.result.text(), timeout=30000)
    assert ev.last["matrix"].sum() == 500
    assert not ev.stale.isVisible()
    assert "changed" not in ev.confused.caption.text()
    assert ev.confused.caption.text().startswith("Click a cell")
