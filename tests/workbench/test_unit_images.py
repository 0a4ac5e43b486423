"""What a unit wants, in Inspect's side panel: made in the background, with progress and Cancel."""
import numpy as np

import engine
from engine.understand.unit_images import unit_images


def units_panel(window, qtbot):
    window.tabs.setCurrentWidget(window.network_view)
    side = window.network_view.side
    side.setCurrentWidget(side.units)
    qtbot.waitExposed(side.units)
    return side.units


def test_class_and_filter_images(tiny, qtbot):
    panel = units_panel(tiny, qtbot)
    assert panel.layer_box.currentData() is None and panel.layer_box.currentText() == "the classes"
    panel.button.click()
    qtbot.waitUntil(lambda: panel.last is not None and panel.button.isEnabled(), timeout=30000)
    r = panel.last
    net = engine.Net.from_json(tiny.session.weights.to_json())
    want = np.clip(unit_images(net) + 0.5, 0, 1)
    assert r["images"].shape == (10, 24, 24, 1)
    np.testing.assert_allclose(r["images"], want, atol=1e-4)
    grid = panel.grid
    assert len(grid.images) == 10 and grid.captions[3].startswith("3 · ")
    p = net.trace(unit_images(net)).output.reshape(10, -1)
    np.testing.assert_allclose([float(c.split(" · ")[1]) for c in grid.captions], np.diag(p), atol=0.006)
    # the grid is drawn: the tiles are not all one grey
    img = grid.grab().toImage()
    values = {img.pixelColor(x, y).red() for x in range(4, 76, 3) for y in range(4, 76, 3)}
    assert len(values) > 5

    conv = panel.layer_box.findData(1)
    assert "conv" in panel.layer_box.itemText(conv) and "4 filters" in panel.layer_box.itemText(conv)
    panel.layer_box.setCurrentIndex(conv)
    panel.button.click()
    qtbot.waitUntil(lambda: panel.last["layer"] == 1 and panel.button.isEnabled(), timeout=30000)
    assert panel.last["images"].shape[0] == 4 and grid.captions == [f"filter {k}" for k in range(4)]
    assert "one per filter of layer 1" in panel.status.text()

    tiny.session.reset_weights()
    assert "changed since" in panel.status.text()


def test_cancel(window, qtbot):
    assert window.files.open_trained_demo()
    panel = units_panel(window, qtbot)
    panel.button.click()
    assert panel.progress.isVisible() and panel.cancel.isVisible() and not panel.button.isEnabled()
    panel.cancel.click()
    qtbot.waitUntil(lambda: panel.button.isEnabled(), timeout=30000)
    assert panel.status.text() == "Cancelled." and panel.last is None and not panel.grid.images
    assert not panel.progress.isVisible()
