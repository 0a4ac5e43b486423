"""Live plots: growing buffers, greyed earlier runs, the hover readout."""
import numpy as np
from PySide6.QtCore import QPointF

from workbench.views.train.plots import AccuracyPlotView, LossPlotView, Series, thin


def test_series_smooths():
    s = Series(alpha=0.5)
    for k, y in enumerate([4.0, 2.0, 2.0, 2.0, 2.0]):
        s.append(k, y)
    x, y = s.data()
    assert list(x) == [0, 1, 2, 3, 4] and list(y) == [4.0, 2.0, 2.0, 2.0, 2.0]
    _, sm = s.smoothed()
    assert sm[0] == 4.0 and 2.0 < sm[-1] < sm[1]  # debiased EMA falls towards 2


def test_series_stays_bounded_over_a_long_run():
    s = Series(max_points=64)
    for k in range(1, 10001):
        s.append(k, float(k % 2))  # alternating 0, 1
    x, y = s.data()
    assert s.n <= 64 and len(s.x) == 64
    assert x[-1] <= 10000 and x[-1] > 9000 and np.all(np.diff(x) > 0)
    np.testing.assert_allclose(y, 0.5)  # averages of the reports each point stands for


def feed(view, n, scale=1.0):
    for k in range(1, n + 1):
        view.add({"tag": "progress", "examples_seen": 100 * k, "cost_loss": scale / k,
                  "decay_loss": 0.01, "train_accuracy": 1 - 0.5 / k})


def test_wide_curves_are_drawn_from_a_few_hundred_points():
    x = np.arange(2000, dtype=float)
    y = np.sin(x / 100)
    tx, ty = thin(x, y, limit=300)
    assert len(tx) <= 300 + 7 and tx[-1] == x[-1] and ty[-1] == y[-1]
    k = -(-2000 // 300)  # 7 neighbours per drawn point
    assert tx[0] == x[k - 1] and ty[0] == y[:k].mean()
    assert np.all(np.diff(tx) > 0)
    short = np.arange(10.0)
    assert thin(short, short)[0] is short  # few points: drawn as they are


def test_a_long_run_keeps_frames_cheap(qtbot):
    """After half an hour's reports the plots draw from bounded, thinned data."""
    view = AccuracyPlotView()
    qtbot.addWidget(view)
    for i in range(20000):
        view.add({"tag": "progress", "examples_seen": 900 * i, "train_accuracy": 0.97})
        if i % 11 == 0:
            view.add({"tag": "eval", "examples_seen": 900 * i, "validation_accuracy": 0.98,
                      "test_accuracy": 0.98})
    view.refresh()
    for curve in (view.train, view.val, view.test):
        assert 0 < len(curve.getData()[0]) <= 310
    assert view.val_s.n > 1000  # the data itself keeps its resolution for CSV and readout


def test_retired_runs_stay_grey(qtbot):
    v = LossPlotView()
    qtbot.addWidget(v)
    feed(v, 50)
    v.refresh()
    v.retire_run()
    assert len(v.old_curves) == 1 and v.cost_s.n == 0
    x, y = v.old_curves[0].getData()
    assert len(x) == 50
    feed(v, 10, 2.0)
    v.refresh()
    assert len(v.raw.getData()[0]) == 10
    v.clear()
    assert not v.old_curves and v.cost_s.n == 0


def test_hover_shows_values_under_the_mouse(qtbot):
    v = AccuracyPlotView()
    qtbot.addWidget(v)
    v.resize(600, 400)
    v.show()
    qtbot.waitExposed(v)
    feed(v, 100)
    v.add({"tag": "eval", "examples_seen": 5000, "validation_accuracy": 0.97, "test_accuracy": 0.96})
    v.refresh()
    vb = v.plot.getPlotItem().vb

    def hover():
        # the axes take the width of their new tick labels, moving the plot area, when the
        # event loop gets to it (100 ms was not always enough on a busy machine): the mouse
        # goes to where 5,000 is now, until the readout shows it
        v.plot.scene().sigMouseMoved.emit(vb.mapViewToScene(QPointF(5000, 0.9)))
        return v.readout.text().startswith("5,0")

    qtbot.waitUntil(hover, timeout=10000)
    text = v.readout.text()
    assert text.startswith("5,0") and "validation accuracy 0.97" in text and "test accuracy 0.96" in text
    assert v.crosshair.isVisible() and abs(v.crosshair.value() - 5000) < 200


def test_a_plot_redraws_on_its_own_at_a_limited_rate_and_only_on_screen(qtbot):
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    from workbench.views.train.plots import REFRESH_MS
    host = QWidget()
    v = LossPlotView(parent=host)
    QVBoxLayout(host).addWidget(v)
    qtbot.addWidget(host)
    feed(v, 5)
    assert v.cost_s.n == 5 and v.raw.getData()[0] is None  # hidden: not drawn
    host.show()
    qtbot.waitExposed(host)
    assert len(v.raw.getData()[0]) == 5  # shown: drawn at once
    calls = []
    real = v.refresh
    v.refresh = lambda: (calls.append(1), real())
    for k in range(6, 60):  # a burst of reports
        v.add({"tag": "progress", "examples_seen": 100 * k, "cost_loss": 1.0 / k, "decay_loss": 0.01})
    assert not calls  # nothing drawn yet: the burst is coalesced
    qtbot.waitUntil(lambda: len(v.raw.getData()[0]) == 59, timeout=REFRESH_MS * 4)
    assert len(calls) == 1


def test_another_dataset_starts_the_examples_axis_again(tiny, qtbot):
    """A run on a new dataset is not squashed at 0 of the axis the old dataset's run made long."""
    s = tiny.session
    v = tiny.train_tab.loss_plot
    for i in range(1, 51):
        v.add({"tag": "progress", "examples_seen": 1400 * i, "cost_loss": 1.0 / i, "decay_loss": 0.0})
    v.refresh()
    assert v.plot.getPlotItem().viewRange()[0][1] >= 70000
    s.data.changed.emit()
    assert len(v.other_data_curves) == 1  # greyed, not forgotten (shown on request: issue #23)
    for i in range(1, 5):
        v.add({"tag": "progress", "examples_seen": 10 * i, "cost_loss": 1.0 / i, "decay_loss": 0.0})
    v.refresh()
    assert v.plot.getPlotItem().viewRange()[0][1] <= 2000


def race_summary(values, examples=(1000, 2000, 3000)):
    """A two-seed race summary of one trainer whose curves all have ``values``."""
    band = [{"mean": v, "sd": v / 10, "min": 0.9 * v, "max": 1.1 * v, "n": 2} for v in values]
    final = dict(band[-1])
    return {"methods": ["adam"], "seeds": [1, 2], "examples_seen": list(examples),
            "results": {"adam": {"curves": {k: band for k in ("validation_accuracy", "cost_loss",
                                                              "train_accuracy")},
                                 "final": {k: final for k in ("validation_accuracy", "cost_loss",
                                                              "train_accuracy")},
                                 "diverged": 0}}}


def axis_labels(plot_item, sides=("left", "bottom")):
    """The axes' labels as drawn, after the view took the range of what is plotted."""
    plot_item.vb.updateAutoRange()
    return {side: plot_item.getAxis(side).labelString() for side in sides}


def test_small_values_keep_their_axes_unscaled(qtbot):
    """Accuracy 0.1-0.7, a loss of 0.0004 after a resume: the axes show the values, never a
    label like "validation accuracy (x0.001)" over ticks 100-900."""
    from workbench.views.runs.race import RaceView
    race = RaceView()
    qtbot.addWidget(race)
    race.show()
    qtbot.waitExposed(race)
    race.show_summary(race_summary([0.1, 0.4, 0.7]), running=False)
    labels = axis_labels(race.plot.getPlotItem())
    assert "validation accuracy" in labels["left"] and "examples seen" in labels["bottom"]
    assert not any("(x" in t for t in labels.values()), labels
    loss = LossPlotView()
    qtbot.addWidget(loss)
    for k in range(1, 20):
        loss.add({"tag": "progress", "examples_seen": 60000 + 100 * k, "cost_loss": 0.0004 / k,
                  "decay_loss": 0.0001})
    loss.refresh()
    accuracy = AccuracyPlotView()
    qtbot.addWidget(accuracy)
    feed(accuracy, 20)
    accuracy.refresh()
    for view, name in ((loss, "loss"), (accuracy, "accuracy")):
        labels = axis_labels(view.plot.getPlotItem())
        assert name in labels["left"] and not any("(x" in t for t in labels.values()), labels


def test_no_plot_of_the_app_scales_its_axes(window, qtbot):
    """Every plot axis of the window (accuracy, loss, learning rate, examples) shows values as
    they are; only the cost axis of the sweep's scatter keeps its prefix (parameters (M))."""
    import pyqtgraph as pg

    from workbench.views.train.lrfind import LrFinderDialog
    lr = LrFinderDialog(window.session, window.experiments.studies)
    qtbot.addWidget(lr)
    plots = window.findChildren(pg.PlotWidget) + [lr.plot]
    assert {"racePlot", "lossPlot", "accuracyPlot", "costScatter", "lrFindPlot"} <= {p.objectName() for p in plots}
    for p in plots:
        pi = p.getPlotItem()
        for side in ("left", "bottom"):
            axis = pi.getAxis(side)
            if not axis.isVisible() or (p.objectName(), side) == ("costScatter", "bottom"):
                continue
            assert not axis.autoSIPrefix, (p.objectName(), side, axis.labelText)


def test_the_race_caption_is_one_sentence_while_racing(qtbot):
    from workbench.views.runs.race import RaceView
    race = RaceView()
    qtbot.addWidget(race)
    race.show()
    qtbot.waitExposed(race)
    race.show_summary(race_summary([0.1, 0.4, 0.7]), running=True)
    qtbot.waitUntil(lambda: "examples each" in race.caption.text(), timeout=2000)  # drawn on a timer
    text = race.caption.text()
    assert text.startswith("1 trainer × 2 seeds, 3,000 examples each: racing. Mean curves"), text
    race.show_summary(race_summary([0.1, 0.4, 0.7]), running=False)
    assert "3,000 examples each: done. Mean curves" in race.caption.text()
    assert "…." not in text and ", 2 seeds)" in race.finals.text()
