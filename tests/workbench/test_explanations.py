"""Explanations in the app: Inspect's overlay and Draw's, which follows the pen."""
import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.data import network_input
from engine.runs.snapshots import load_snapshot
from engine.understand import explain
from workbench.views.explain import heat_rgba
from workbench.window.files import TRAINED_DEMO

from .test_draw import at


def picture(widget):
    """The widget as it is drawn: (H, W, 3) uint8."""
    img = widget.grab().toImage().convertToFormat(widget.grab().toImage().Format.Format_RGB888)
    w, h = img.width(), img.height()
    return np.frombuffer(img.constBits(), np.uint8, img.bytesPerLine() * h).reshape(h, -1)[:, :3 * w].reshape(h, w, 3).copy()


@pytest.fixture
def inspect(window, qtbot):
    assert window.files.open_trained_demo()
    window.tabs.setCurrentWidget(window.network_view)
    panel = window.network_view.side.explain
    window.network_view.side.setCurrentWidget(panel)
    qtbot.waitExposed(panel.view)
    return panel


def wait_for(qtbot, panel, **want):
    def ok():
        r = panel.result
        return r is not None and all(r[k] == v for k, v in want.items())
    qtbot.waitUntil(ok, timeout=10000)
    return panel.result


def test_heat_map_colours():
    m = np.array([[0.0, 0.5, 1.0, -1.0]], np.float32)
    unsigned, signed = heat_rgba(m, 1.0, False), heat_rgba(m, 1.0, True)
    assert unsigned[0, 0, 3] == 0 and unsigned[0, 1, 3] < unsigned[0, 2, 3] == 255  # zero: transparent
    assert unsigned[0, 3, 3] == 0                                  # unsigned maps ignore negatives
    assert signed[0, 3, 3] == 255 and signed[0, 3, 2] > signed[0, 3, 0]   # against the class: blue
    assert signed[0, 2, 0] > signed[0, 2, 2]                                # for it: warm
    assert heat_rgba(m, 0.5, True)[0, 2, 3] == 128


def test_inspect_overlay_is_the_engines_map_and_follows_method_and_class(inspect, window, qtbot):
    window.network_view.show_example(("test", 8))
    r = wait_for(qtbot, inspect, source=("test", 8), method="saliency")
    assert r["class"] == r["predicted"] == 5
    # the map is the engine's, for the 24x24 centre the network sees, placed in the 28x28 frame
    net, _ = load_snapshot(TRAINED_DEMO)
    x = network_input(window.session.data.dataset.test.images[8:9], net.input_shape)
    want = explain.in_image_frame(explain.saliency(net, x, [5]), 28, 28)[0]
    np.testing.assert_allclose(r["map"], want, rtol=1e-4, atol=1e-6 * np.abs(want).max())
    coloured = picture(inspect.view)
    inspect.controls.opacity.setValue(0)
    plain = picture(inspect.view)
    grey = np.abs(plain.astype(int) - plain[:, :, :1]).max(axis=2) <= 1
    blue_crop = (plain[:, :, 2].astype(int) - plain[:, :, 0]) > 40   # the dashed crop square
    assert (grey | blue_crop)[2:-2, 2:-2].all()    # without the overlay: the grey image alone (in its frame)
    changed = np.abs(coloured.astype(int) - plain).max(axis=2) > 30
    assert changed.mean() > 0.2                    # with it: a heat map over much of the image
    assert (np.abs(coloured[:, :, 0].astype(int) - coloured[:, :, 2]) > 60).any()  # in colour
    inspect.controls.opacity.setValue(85)

    inspect.controls.set_method("occlusion")
    r2 = wait_for(qtbot, inspect, method="occlusion")
    assert not np.allclose(r2["map"], r["map"]) and r2["signed"]
    occluded = picture(inspect.view)
    assert np.abs(occluded.astype(int) - coloured).max() > 30

    three = inspect.controls.class_box.findData(3)
    inspect.controls.class_box.setCurrentIndex(three)
    r3 = wait_for(qtbot, inspect, method="occlusion", **{"class": 3})
    assert r3["predicted"] == 5 and not np.allclose(r3["map"], r2["map"])
    assert "for class 3 (predicted 5" in inspect.caption.text()


def test_grad_cam_offers_the_conv_layers_and_uses_the_one_chosen(inspect, window, qtbot):
    c = inspect.controls
    window.network_view.show_example(("test", 0))
    c.set_method("grad_cam")
    assert c.layer_box.isVisible()
    layers = [c.layer_box.itemData(i) for i in range(c.layer_box.count())]
    types = [window.session.weights.layers[i]["type"] for i in layers]
    assert set(types) <= {"conv", "pool"} and types.count("conv") == 2
    assert c.layer() == max(i for i, t in zip(layers, types) if t == "conv")  # the last conv
    last = wait_for(qtbot, inspect, method="grad_cam", source=("test", 0))
    c.layer_box.setCurrentIndex(layers.index(1))
    first = wait_for(qtbot, inspect, method="grad_cam", layer=1)
    assert not np.allclose(first["map"], last["map"])
    c.set_method("saliency")
    assert not c.layer_box.isVisible()


def test_explaining_the_drawn_digit_before_drawing_says_so(inspect, window, qtbot):
    window.network_view.show_example(("drawn", 0))
    qtbot.waitUntil(lambda: "Draw a digit" in inspect.caption.text(), timeout=5000)
    assert inspect.result is None


def test_draw_overlay_follows_the_pen(window, qtbot):
    assert window.files.open_trained_demo()
    draw = window.draw_panel
    window.tabs.setCurrentWidget(draw)
    canvas, ex = draw.canvas, draw.explanation
    qtbot.waitExposed(canvas)
    assert not ex.on and canvas.overlay is None    # off until asked for
    ex.controls.set_method("saliency")
    qtbot.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, at(canvas, 0.5, 0.15))
    for k in range(1, 11):
        qtbot.mouseMove(canvas, at(canvas, 0.5, 0.15 + 0.035 * k))
    # still drawing (the button is held): the overlay arrives for the stroke so far
    qtbot.waitUntil(lambda: ex.result is not None and canvas.overlay is not None, timeout=5000)
    assert canvas._current is not None
    first, updates = ex.result, ex.updates
    for k in range(1, 11):
        qtbot.mouseMove(canvas, at(canvas, 0.5 + 0.025 * k, 0.5 + 0.035 * k))
    qtbot.waitUntil(lambda: ex.updates > updates and ex.result["pixels"] is not first["pixels"]
                    and not np.array_equal(ex.result["pixels"], first["pixels"]), timeout=5000)
    assert canvas._current is not None             # it followed the pen before the stroke ended
    assert not np.allclose(ex.result["map"], first["map"])
    qtbot.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, at(canvas, 0.75, 0.85))
    # the map lies over the strokes: its warmest pixel, mapped back to the canvas, is on ink
    qtbot.waitUntil(lambda: ex.result is not None and np.array_equal(ex.result["pixels"],
                                                                      window.session.predictions.drawn), timeout=5000)
    r = ex.result
    (ay, by), (ax, bx) = r["frame"]
    fy, fx = np.unravel_index(np.argmax(r["map"]), r["map"].shape)
    cy, cx = int(((fy + 0.5) - by) / ay), int(((fx + 0.5) - bx) / ax)
    ink = canvas.image()
    assert ink[max(0, cy - 12):cy + 12, max(0, cx - 12):cx + 12].max() > 0.5
    with_overlay = picture(canvas)
    ex.controls.set_method(None)
    assert canvas.overlay is None
    assert np.abs(picture(canvas).astype(int) - with_overlay).max() > 30
    canvas.clear()
    ex.controls.set_method("saliency")
    qtbot.wait(50)
    assert canvas.overlay is None and ex.result is None
