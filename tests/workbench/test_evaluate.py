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
