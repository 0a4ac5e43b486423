"""Guard against Qt bindings that crash while painting (PySide6 6.12.0 on Python 3.11).

That release drops a reference to None in every void QPainter call, so a live
pyqtgraph plot dies with "Fatal Python error: none_dealloc" after a few hundred
repaints. This test repaints a real plot far more often than that.
"""
import sys


def test_plot_survives_many_repaints(qtbot):
    from workbench.views.train.plots import LossPlotView
    view = LossPlotView()
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    refs = sys.getrefcount(None)
    for k in range(600):
        view.add({"tag": "progress", "examples_seen": 100 * (k + 1), "cost_loss": 2.0 / (k + 1),
                  "decay_loss": 0.01})
        view.refresh()
        view.plot.viewport().repaint()
    # None's reference count does not drain away with every paint
    assert sys.getrefcount(None) >= refs - 1000
    assert view.cost_s.n == 600
    img = view.plot.grab().toImage()
    assert img.width() > 100 and len({img.pixel(x, 200) for x in range(0, img.width(), 5)}) > 2
