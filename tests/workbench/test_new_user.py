"""Rough edges a new user hit (issue #23): what the window says and shows, where a test can see it."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QWidget


def inside(window, widget):
    """The whole of ``widget`` is inside the window."""
    tl = widget.mapTo(window, QPoint(0, 0))
    br = widget.mapTo(window, QPoint(widget.width() - 1, widget.height() - 1))
    return widget.isVisible() and window.rect().contains(tl) and window.rect().contains(br)


# -- 10. a greyed setting says why -----------------------------------------------------------------
def test_the_greyed_learning_rate_says_adadelta_has_none(window):
    c = window.train_tab.controls
    caption = c.caption_of(c.lr)
    assert caption.text() == "Learning rate"
    c.method.setCurrentIndex(c.method.findData("adadelta"))
    assert window.session.settings.trainer["method"] == "adadelta"
    assert not c.lr.isEnabled()
    for w in (c.lr, caption):
        assert "adadelta has no learning rate" in w.toolTip() and "choose another Method" in w.toolTip()
    assert not c.momentum.isEnabled() and "adadelta does not use momentum" in c.momentum.toolTip()
    c.method.setCurrentIndex(c.method.findData("sgd"))
    assert c.lr.isEnabled() and c.momentum.isEnabled()
    assert c.lr.toolTip().startswith("Step size") and caption.toolTip().startswith("Step size")
    assert c.momentum.toolTip() == "Momentum for sgd and nesterov."
