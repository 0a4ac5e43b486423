"""Drawing a digit with the mouse and reading the network's answer."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QPushButton

from engine.data.digits import resize


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
    assert window.files.open_trained_demo()
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
    # the picture changes at once; the answer for it comes from a background job after it
    qtbot.waitUntil(lambda: not np.allclose(bars.probs[1], 1.0, atol=1e-3) or bars.top_class != 1, timeout=3000)


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
    view = window.network_view
    qtbot.waitUntil(lambda: view.state is not None and view.state["source"] == "drawn digit", timeout=5000)
    st = view.state
    np.testing.assert_allclose(st["layers"][0]["act"][:, :, 0], draw.digit[2:26, 2:26] - 0.5, atol=1e-6)


@pytest.mark.parametrize("dark_on_light", [True, False])
def test_open_an_image_file(draw, dataset, tmp_path, dark_on_light, qtbot):
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
    qtbot.waitUntil(lambda: draw.bars.probs is not None, timeout=3000)
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
    window.session.reset_weights()
    window.tabs.setCurrentWidget(window.draw_panel)
    stroke(qtbot, window.draw_panel.canvas, [(0.5, 0.2), (0.5, 0.8)])
    window.draw_panel.update_prediction()
    qtbot.waitUntil(lambda: "3-channel" in window.draw_panel.bars.message, timeout=3000)
    assert window.draw_panel.bars.probs is None


def test_prediction_while_training_uses_published_weights_that_never_change(window, qtbot):
    from tests.workbench.conftest import TINY
    s = window.session
    s.load_experiment(s.experiment().replace(layer_defs=TINY, name="tiny", epochs=50))
    s.training.train()
    window.tabs.setCurrentWidget(window.draw_panel)
    qtbot.waitUntil(lambda: s.examples_seen > 0, timeout=5000)
    stroke(qtbot, window.draw_panel.canvas, [(0.5, 0.2), (0.5, 0.8)])
    qtbot.waitUntil(lambda: window.draw_panel.bars.probs is not None, timeout=5000)
    assert window.draw_panel.last_ms > 0  # how fast is a figure (the GUI bench prints it), not a test
    published = s.weights
    before = published.params()
    qtbot.waitUntil(lambda: s.weights.version > published.version and s.examples_seen > published.examples_seen
                    + 2000, timeout=10000)
    # training went on, and the weights it published earlier stayed as they were
    for a, b in zip(published.params(), before):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(s.weights.params(), before))
    # the drawing is asked again with the new weights, which have been trained
    version = s.weights.version
    qtbot.waitUntil(lambda: window.draw_panel.last_version >= version, timeout=5000)
    assert "Untrained" not in window.draw_panel.timing.text()
    s.training.stop()


def _fresh_answer(window):
    """Draw's probabilities as a forward pass of the drawn digit with the current weights gives them."""
    from engine.data import network_input
    net = window.session.weights.network()
    x = network_input(window.draw_panel.digit[None], net.input_shape)
    return np.asarray(net.trace(x).output).reshape(-1)


def _shows_the_current_weights(window):
    draw = window.draw_panel
    return (draw.bars.probs is not None and draw.last_version == window.session.weights.version
            and np.allclose(draw.bars.probs, _fresh_answer(window), atol=1e-5))


def test_draw_answers_with_the_weights_there_are_after_a_reset_a_run_and_a_snapshot(draw, window, qtbot, tmp_path):
    """Draw asks again whenever the weights change, on screen or not: after Reset weights it
    no longer says what the trained demo said, and so on."""
    s = window.session
    stroke(qtbot, draw.canvas, [(0.5, 0.15), (0.5, 0.85)])
    qtbot.waitUntil(lambda: _shows_the_current_weights(window), timeout=5000)
    demo = draw.bars.probs.copy()
    assert draw.bars.top_class == 1 and demo[1] > 0.9
    s.weights.save(str(tmp_path / "demo.json"))
    window.tabs.setCurrentWidget(window.train_tab)  # Train > Reset weights, Draw off screen
    assert s.reset_weights()
    qtbot.waitUntil(lambda: _shows_the_current_weights(window), timeout=5000)
    assert not np.allclose(draw.bars.probs, demo, atol=1e-3)
    reset = draw.bars.probs.copy()
    assert s.training.train(epochs=0.005)  # a short run, to its end
    qtbot.waitUntil(lambda: not s.training.running, timeout=20000)
    qtbot.waitUntil(lambda: _shows_the_current_weights(window), timeout=5000)
    assert s.examples_seen > 0 and not np.allclose(draw.bars.probs, reset, atol=1e-6)
    assert window.files.open_snapshot(str(tmp_path / "demo.json"))
    qtbot.waitUntil(lambda: _shows_the_current_weights(window), timeout=5000)
    np.testing.assert_allclose(draw.bars.probs, demo, atol=1e-5)
    window.tabs.setCurrentWidget(window.draw_panel)
    assert draw.bars.top_class == 1
