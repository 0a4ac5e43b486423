"""Evaluate's second look: the examples of a confusion-matrix cell, per-class figures, stale results."""
import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.data import predict
from engine.runs.snapshots import load_snapshot
from workbench.tasks.understand import cell_examples, class_metrics
from workbench.window.files import TRAINED_DEMO


def test_precision_recall_f1_by_hand():
    m = np.array([[5, 1, 0],     # true 0: 5 right, 1 taken for a 1
                  [2, 3, 1],     # true 1
                  [0, 0, 0]])    # no examples of 2 (but one predicted as 2)
    r = class_metrics(m)
    np.testing.assert_allclose(r["precision"][:2], [5 / 7, 3 / 4])
    np.testing.assert_allclose(r["recall"][:2], [5 / 6, 3 / 6])
    np.testing.assert_allclose(r["f1"][:2], [2 * (5 / 7) * (5 / 6) / (5 / 7 + 5 / 6), 2 * 0.75 * 0.5 / 1.25])
    assert r["precision"][2] == 0 and np.isnan(r["recall"][2]) and np.isnan(r["f1"][2])
    assert list(r["support"]) == [6, 6, 0]


def test_metrics_table_shows_the_figures(qtbot):
    from workbench.views.evaluate.confused import ClassMetricsTable
    t = ClassMetricsTable()
    qtbot.addWidget(t)
    t.show_matrix(np.array([[5, 1, 0], [2, 3, 1], [0, 0, 0]]), ["cat", "dog", "<b>bird</b>"])
    rows = [[t.item(r, c).text() for c in range(4)] for r in range(4)]
    assert rows[0] == ["0.714", "0.833", "0.769", "6"]
    assert rows[1] == ["0.750", "0.500", "0.600", "6"]
    assert rows[2] == ["0.000", "–", "–", "0"]
    f1 = 2 * (5 / 7) * (5 / 6) / (5 / 7 + 5 / 6)
    # means over the classes where each is defined
    assert rows[3] == [f"{(5 / 7 + 0.75 + 0) / 3:.3f}", f"{(5 / 6 + 0.5) / 2:.3f}", f"{(f1 + 0.6) / 2:.3f}", "12"]
    assert t.verticalHeaderItem(2).text() == "<b>bird</b>"


def test_cell_examples_orders():
    probs = np.array([[0.1, 0.9], [0.4, 0.6], [0.45, 0.55], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    labels = np.array([0, 0, 0, 0, 1, 0])
    assert list(cell_examples(probs, labels, 0, 1, "most_wrong")) == [0, 1, 2]
    assert list(cell_examples(probs, labels, 0, 1, "least_sure")) == [2, 1, 0]
    assert list(cell_examples(probs, labels, 0, 0, "most_wrong")) == [3, 5]
    assert list(cell_examples(probs, labels, 0, 1, "class")) == [0, 1, 2, 5, 3]  # least p(0) first


@pytest.fixture
def evaluated(window, qtbot):
    assert window.files.open_trained_demo()
    ev = window.evaluate
    window.tabs.setCurrentWidget(ev)
    ev.button.click()
    qtbot.waitUntil(lambda: ev.button.isEnabled() and ev.last is not None, timeout=30000)
    return ev


def click_cell(qtbot, table, row, col):
    rect = table.visualItemRect(table.item(row, col))
    qtbot.mouseClick(table.viewport(), Qt.LeftButton, Qt.NoModifier, rect.center())


def test_clicking_a_cell_lists_its_examples_most_confident_first(window, evaluated, qtbot):
    ev = evaluated
    net, _ = load_snapshot(TRAINED_DEMO)
    test = window.session.data.dataset.test
    probs = predict(net, test.images)
    pred = probs.argmax(axis=1)
    m = ev.last["matrix"]
    off = m - np.diag(np.diag(m))
    t, p = np.unravel_index(np.argmax(off), off.shape)  # the most common mistake
    assert m[t, p] >= 3
    click_cell(qtbot, ev.table, t, p)
    gallery = ev.confused.gallery
    assert gallery.objectName() == "confusionExamples"
    want = np.flatnonzero((test.labels == t) & (pred == p))
    shown = gallery.indices
    assert sorted(shown) == sorted(want) and len(shown) == m[t, p] == gallery.model().rowCount()
    conf = probs[shown, p]
    assert np.all(np.diff(conf) <= 1e-6)                          # most confident mistakes first
    assert f"{len(want)} examples of {t} predicted as {p}" in ev.confused.caption.text()

    ev.confused.view.setCurrentIndex(ev.confused.view.findData("least_sure"))
    shown = gallery.indices
    top2 = np.sort(probs[shown], axis=1)[:, -2:]
    assert sorted(shown) == sorted(want) and np.all(np.diff(top2[:, 1] - top2[:, 0]) >= -1e-6)

    ev.confused.view.setCurrentIndex(ev.confused.view.findData("class"))
    shown = gallery.indices
    assert sorted(shown) == sorted(np.flatnonzero(test.labels == t))
    assert np.all(np.diff(probs[shown, t]) >= -1e-6)              # least sure of the class first

    # a card shows its top-3 bars: the first (red, a mistake) as long as its probability
    ev.confused.view.setCurrentIndex(0)
    qtbot.waitExposed(gallery)
    first = gallery.indices[0]
    img = gallery.viewport().grab(gallery.card_rect(0)).toImage()
    reds = sum(1 for x in range(img.width()) for y in range(img.height())
               if img.pixelColor(x, y).red() > 180 and img.pixelColor(x, y).green() < 100)
    assert reds > 20

    # clicking an example opens it in Inspect
    qtbot.mouseClick(gallery.viewport(), Qt.LeftButton, Qt.NoModifier, gallery.card_rect(0).center())
    assert window.tabs.currentWidget() is window.network_view
    assert window.network_view.example_source() == ("test", int(first))
    qtbot.waitUntil(lambda: window.network_view.state is not None
                    and window.network_view.state["source"] == f"test example #{first}", timeout=10000)


def test_results_are_marked_stale_when_the_weights_change(window, evaluated, qtbot):
    ev = evaluated
    assert not ev.stale.isVisible() and ev.stale.isHidden()
    window.session.reset_weights()
    assert ev.stale.isVisible() and "changed since this evaluation" in ev.stale.text()
    assert ev.last["matrix"].sum() == 10000                  # the old figures stay, marked
    ev.button.click()
    qtbot.waitUntil(lambda: ev.button.isEnabled() and not ev.stale.isVisible(), timeout=30000)
    assert ev.last["accuracy"] < 0.5                        # now of the fresh weights
