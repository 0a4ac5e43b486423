"""Drawing a digit with the mouse and reading the network's answer."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QPushButton

from engine.digits import resize


def at(canvas, fx, fy):
    side = min(canvas.width(), canvas.height())
    return QPoint(int((canvas.width() - side) / 2 + fx * side), int((canvas.height() - side) / 2 + fy * side))


def stroke(qtbot, canvas, points, steps=12):
    qtbot.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, at(canvas, *points[0]))
    for (a, b), (x, y) in zip(points[:-1], points[1:]):
        for k in range(1, steps + 1):
            qtbot.mouseMove(canvas, at(canvas, a + (x - a) * k / steps, b + (y - b) * k / steps))
    qtbot.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, at(canvas, *points[-1]))


@pytest.fixture
def draw(window, qtbot):
    assert window.open_trained_demo()
    window.tabs.setCurrentWidget(window.draw_panel)
    qtbot.waitExposed(window.draw_panel.canvas)
    return window.draw_panel


def test_strokes_change_the_image_and_the_prediction(draw, qtbot):
    canvas, bars = draw.canvas, draw.bars
    assert bars.probs is None and not draw.pixels.pixels.any()
    stroke(qtbot, canvas, [(0.5, 0.15), (0.5, 0.85)])          # a "1"
    qtbot.waitUntil(lambda: bars.probs is not None, timeout=3000)
    one = draw.pixels.pixels.copy()
    assert one.shape == (28, 28) and one.max() == pytest.approx(1.0)
    assert bars.top_class == 1
    assert bars.probs.sum() == pytest.approx(1.0, abs=1e-4) and len(bars.probs) == 10
    stroke(qtbot, canvas, [(0.3, 0.3), (0.7, 0.3)])             # a bar on top: now a "7"-ish digit
    qtbot.waitUntil(lambda: not np.array_equal(draw.pixels.pixels, one), timeout=3000)
    assert not np.allclose(bars.probs[1], 1.0, atol=1e-3) or bars.top_class != 1


def test_undo_removes_the_last_stroke_and_clear_empties(draw, qtbot):
    canvas = draw.canvas
    stroke(qtbot, canvas, [(0.5, 0.15), (0.5, 0.85)])
    qtbot.waitUntil(lambda: draw.bars.probs is not None, timeout=3000)
    first = draw.pixels.pixels.copy()
    stroke(qtbot, canvas, [(0.2, 0.5), (0.8, 0.5)])
    qtbot.waitUntil(lambda: not np.array_equal(draw.pixels.pixels, first), timeout=3000)
    assert len(canvas.strokes) == 2
    qtbot.mouseClick(draw.findChild(QPushButton, "undoStrokeButton"), Qt.LeftButton)
    assert len(canvas.strokes) == 1
    np.testing.assert_allclose(draw.pixels.pixels, first, atol=1e-6)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key_Escape)
    assert canvas.is_empty() and not canvas.image().any()
    assert draw.bars.probs is None and not draw.pixels.pixels.any()


def test_brush_width_changes_the_stroke(draw, qtbot):
    draw.width_slider.setValue(8)
    stroke(qtbot, draw.canvas, [(0.5, 0.2), (0.5, 0.8)])
    thin = draw.canvas.image().sum()
    draw.canvas.clear()
    draw.width_slider.setValue(40)
    stroke(qtbot, draw.canvas, [(0.5, 0.2), (0.5, 0.8)])
    assert draw.canvas.image().sum() > 3 * thin


def test_drawn_digit_in_the_network_view(window, draw, qtbot):
    stroke(qtbot, draw.canvas, [(0.5, 0.15), (0.5, 0.85)])
    qtbot.waitUntil(lambda: draw.bars.probs is not None, timeout=3000)
    qtbot.mouseClick(draw.findChild(QPushButton, "showInNetworkButton"), Qt.LeftButton)
    assert window.tabs.currentWidget() is window.network_view
    st = window.network_view.state
    assert st["source"] == "drawn digit"
    np.testing.assert_allclose(st["layers"][0]["act"][:, :, 0], draw.digit[2:26, 2:26] - 0.5, atol=1e-6)


@pytest.mark.parametrize("dark_on_light", [True, False])
def test_open_an_image_file(draw, dataset, tmp_path, dark_on_light):
    idx = 7
    img = resize(dataset.test.images[idx, :, :, 0] / 255.0, 200, 150)  # any size, not square
    img = np.clip(img, 0, 1)
    pixels = (255 * (1 - img) if dark_on_light else 255 * img).astype(np.uint8)
    path = tmp_path / "digit.png"
    q = QImage(np.ascontiguousarray(pixels).data, pixels.shape[1], pixels.shape[0], pixels.shape[1],
               QImage.Format_Grayscale8)
    assert q.save(str(path))
    assert draw.open_image(str(path))
    draw.update_prediction()
    assert draw.bars.top_class == int(dataset.test.labels[idx])


def test_bad_image_file_is_a_clear_message(draw, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda p, t, text, *a: shown.append(text))
    (tmp_path / "x.png").write_bytes(b"not a png")
    assert not draw.open_image(str(tmp_path / "x.png"))
    assert "not an image" in shown[0] and draw.canvas.is_empty()


def test_network_with_colour_input_gets_a_message(window, qtbot):
    window.doc.load([{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 3},
                     {"type": "softmax", "num_classes": 10}], "colour")
    window.reset_weights()
    window.tabs.setCurrentWidget(window.draw_panel)
    stroke(qtbot, window.draw_panel.canvas, [(0.5, 0.2), (0.5, 0.8)])
    window.draw_panel.update_prediction()
    assert window.draw_panel.bars.probs is None
    assert "3-channel" in window.draw_panel.bars.message


def test_prediction_while_training_uses_a_consistent_copy(window, qtbot):
    from tests.workbench.conftest import TINY
    window.doc.load(TINY, "tiny")
    window.start_training()
    window.tabs.setCurrentWidget(window.draw_panel)
    qtbot.waitUntil(lambda: window.controller.net_copy() is not None, timeout=5000)
    stroke(qtbot, window.draw_panel.canvas, [(0.5, 0.2), (0.5, 0.8)])
    qtbot.waitUntil(lambda: window.draw_panel.bars.probs is not None, timeout=5000)
    copy = window.controller.net_copy()
    assert copy is not window.controller.net
    assert copy.layers[1].weights is not window.controller.net.layers[1].weights
    assert window.draw_panel.last_ms < 50
