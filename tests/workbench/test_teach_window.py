"""Teach, in the real window with the mouse: draw, label, add, teach, and a new drawing reads right
(issue #25). Also: own classes by drawing, undo of a teach, the examples kept in the session folder."""
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QListWidget, QPushButton

from engine.data import drawings, network_input
from engine.data.digits import to_mnist

from .test_draw import stroke


def serif_one(qtbot, canvas, dx=0.0, dy=0.0, wide=0.0):
    """A 1 with serifs at its top and foot (the trained demo network reads it as 5 or 3)."""
    stroke(qtbot, canvas, [(0.5 + dx, 0.25 + dy), (0.5 + dx, 0.75 + dy)], steps=6)
    stroke(qtbot, canvas, [(0.3 + dx - wide, 0.25 + dy), (0.7 + dx + wide, 0.25 + dy)], steps=6)
    stroke(qtbot, canvas, [(0.3 + dx - wide, 0.75 + dy), (0.7 + dx + wide, 0.75 + dy)], steps=6)


@pytest.fixture
def draw(window, qtbot):
    assert window.files.open_trained_demo()
    window.tabs.setCurrentWidget(window.draw_panel)
    qtbot.waitExposed(window.draw_panel.canvas)
    t = window.session.teaching
    t.teach_steps, t.teach_seconds = 60, 600.0  # the same outcome on any machine
    t.test_examples = 2000
    return window.draw_panel


def read(draw, qtbot):
    """The class the window shows for the drawing on the canvas now, with the latest weights
    (answers to the strokes before it may still be arriving)."""
    s = draw.session
    got = []
    s.predictions.drawingPredicted.connect(got.append)
    try:
        draw.update_prediction()
        want, version = network_input(s.predictions.drawn[None], s.weights.input_shape), s.weights.version

        def answer():
            return next((r for r in got if r.get("version") == version and "input" in r
                         and np.array_equal(r["input"], want)), None)

        qtbot.waitUntil(lambda: answer() is not None, timeout=5000)
    finally:
        s.predictions.drawingPredicted.disconnect(got.append)
    qtbot.waitUntil(lambda: draw.bars.probs is not None and np.array_equal(draw.bars.probs, answer()["probs"]),
                    timeout=5000)
    return draw.bars.top_class


def test_draw_label_add_teach_and_a_new_drawing_reads_as_taught(window, draw, qtbot):
    canvas, t = draw.canvas, window.session.teaching
    label_box = draw.findChild(QComboBox, "teachLabelBox")
    strip = draw.findChild(QListWidget, "myExamplesView")
    # a new drawing of the style, not among the taught: the network reads it wrong
    serif_one(qtbot, canvas, dx=0.0, dy=-0.05, wide=-0.03)
    assert read(draw, qtbot) != 1
    qtbot.mouseClick(draw.findChild(QPushButton, "clearButton"), Qt.LeftButton)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key_1)  # digit keys choose the label while the canvas has focus
    assert label_box.currentText() == "1"
    for k, (dx, dy, wide) in enumerate([(-0.06, 0, 0), (0.05, 0.03, 0.03), (0.03, -0.02, 0.02), (-0.03, 0.05, 0.05),
                                        (0.07, -0.03, 0.0), (0, 0, 0.06), (-0.07, -0.06, 0.02), (0.02, 0.06, -0.02)]):
        serif_one(qtbot, canvas, dx, dy, wide)
        digit = to_mnist(canvas.image())
        canvas.setFocus()
        qtbot.keyClick(canvas, Qt.Key_Return)  # Enter adds the drawing with the chosen label
        assert len(t) == k + 1 and canvas.is_empty()
        # the example is the drawing as the network sees it
        assert np.abs(t.images[-1] / 255.0 - digit).max() <= 0.5 / 255 + 1e-6
    assert t.labels.tolist() == [1] * 8 and strip.count() == 8
    qtbot.waitUntil(lambda: t.predictions is not None, timeout=5000)
    wrong_before = sum(strip.item(i).data(Qt.UserRole + 1) for i in range(8))
    assert wrong_before >= 5  # marked wrong in the strip
    before = window.session.weights.network()
    with qtbot.waitSignal(t.taught, timeout=120000) as got:
        qtbot.mouseClick(draw.findChild(QPushButton, "teachButton"), Qt.LeftButton)
    report = got.args[0]
    assert report["examples_right_after"] == 8
    assert report["test_accuracy_before"] is not None and "test accuracy" in report["summary"]
    assert draw.findChild(type(draw.teach_box.result), "teachReport").text() == report["summary"]
    qtbot.waitUntil(lambda: t.predictions is not None and (t.predictions == 1).all(), timeout=5000)
    assert not any(strip.item(i).data(Qt.UserRole + 1) for i in range(8))
    # the new drawing now reads as the taught class
    serif_one(qtbot, canvas, dx=0.0, dy=-0.05, wide=-0.03)
    assert read(draw, qtbot) == 1
    # undo of the teach puts the weights before it back
    qtbot.mouseClick(draw.findChild(QPushButton, "teachUndoButton"), Qt.LeftButton)
    for a, b in zip(window.session.weights.params(), [pg["params"] for pg in before.params_and_grads()]):
        np.testing.assert_array_equal(a, b)
    assert read(draw, qtbot) != 1
    assert len(t) == 8  # only the teach was undone


def test_relabel_remove_and_undo_in_the_strip(window, draw, qtbot):
    t = window.session.teaching
    for k in range(3):
        draw.canvas.set_image(drawings.drawings("seven", 1, seed=k)[0])
        draw.teach_box.choose(7)
        assert draw.add_example()
    draw.examples.view.item(1).setSelected(True)
    draw.teach_box.choose(2)
    qtbot.mouseClick(draw.findChild(QPushButton, "relabelExampleButton"), Qt.LeftButton)
    assert t.labels.tolist() == [7, 2, 7]
    draw.examples.view.item(0).setSelected(True)  # (the relabel refreshed the strip: nothing else is)
    qtbot.mouseClick(draw.findChild(QPushButton, "removeExampleButton"), Qt.LeftButton)
    assert t.labels.tolist() == [2, 7]
    t.undo_stack.undo()
    assert t.labels.tolist() == [7, 2, 7]
    t.undo_stack.undo()
    assert t.labels.tolist() == [7, 7, 7]
    # kept in the session folder at every change: a crash loses none
    from workbench.state.teaching import EXAMPLES_FILE, read_examples
    images, labels, names = read_examples(window.keeper.path / EXAMPLES_FILE)
    assert labels.tolist() == [7, 7, 7] and names is None
    np.testing.assert_array_equal(images, t.images)


def test_own_classes_become_a_dataset_and_train_a_fresh_network(window, draw, qtbot, monkeypatch):
    s, t = window.session, window.session.teaching
    t.classes_steps, t.classes_seconds = 80, 600.0
    from workbench.views.draw.teach import NewClassesDialog
    monkeypatch.setattr(NewClassesDialog, "exec", lambda self: NewClassesDialog.Accepted)
    assert draw.teach_box.ask_new_classes()  # "circle, cross, triangle"
    label_box = draw.findChild(QComboBox, "teachLabelBox")
    assert [label_box.itemText(i) for i in range(label_box.count())] == ["circle", "cross", "triangle"]
    for c, name in enumerate(("circle", "cross", "triangle")):
        draw.teach_box.choose(c)
        for img in drawings.drawings(name, 10, seed=c):
            draw.canvas.set_image(img)
            assert draw.add_example()
    assert len(t) == 30 and t.own
    layers_before = list(s.doc.layers)
    with qtbot.waitSignal(t.taught, timeout=120000) as got:
        qtbot.mouseClick(draw.findChild(QPushButton, "teachButton"), Qt.LeftButton)
    # the drawings are the dataset now, with a held-out part, and the last layer has 3 classes
    assert s.data.dataset.class_names == ["circle", "cross", "triangle"] and len(s.data.dataset.test) == 6
    assert s.weights.num_outputs == 3 and s.doc.layers[-1]["num_classes"] == 3
    assert got.args[0]["held_out_total"] == 6 and got.args[0]["held_out_right"] >= 5
    # Evaluate works on it: a 3x3 confusion matrix over the held-out drawings
    with qtbot.waitSignal(s.predictions.evaluated, timeout=20000) as ev:
        assert s.predictions.evaluate()
    assert ev.args[0]["matrix"].shape == (3, 3) and ev.args[0]["total"] == 6
    # a new drawing reads as its class
    draw.canvas.set_image(drawings.drawings("triangle", 1, seed=99)[0])
    assert read(draw, qtbot) == 2
    # the adaptation of the last layer is one step of the network's undo
    s.doc.undo_stack.undo()
    assert s.doc.layers == layers_before


def test_examples_survive_a_restart_and_trade_as_an_image_folder(window, draw, qtbot, tmp_path):
    t = window.session.teaching
    for k in range(4):
        draw.canvas.set_image(drawings.drawings("cross" if k % 2 else "circle", 1, seed=k)[0])
        draw.teach_box.choose(k % 2 + 3)
        draw.add_example()
    out = tmp_path / "shared"
    assert draw.examples.save_folder(str(out))
    assert sorted(p.name for p in out.iterdir()) == [str(d) for d in range(10)]
    from workbench.state.teaching import Teaching
    again = Teaching(window.session)
    again.use_folder(window.keeper.path)  # a new window in the same session folder
    assert again.labels.tolist() == [3, 4, 3, 4]
    np.testing.assert_array_equal(again.images, t.images)
    again.import_folder(out)  # an image folder opens again (the digits: the dataset's classes)
    assert not again.own and sorted(again.labels.tolist()) == [3, 3, 4, 4]


def test_the_draw_place_with_teaching_still_fits_a_1024x640_window(window, qtbot):
    window.tabs.setCurrentWidget(window.draw_panel)
    window.resize(1024, 640)
    qtbot.waitUntil(lambda: window.height() == 640)
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 640
    assert window.draw_panel.canvas.height() >= 200


def test_examples_come_back_in_the_next_window_after_a_crash_and_after_a_close(window, draw, qtbot, dataset,
                                                                              settings):
    from workbench.window.main_window import MainWindow
    for k in range(2):
        draw.canvas.set_image(drawings.drawings("seven-crossbar", 1, seed=k)[0])
        draw.teach_box.choose(7)
        assert draw.add_example()
    folder = window.keeper.path
    # the window is not closed (a crash): the next one starts in the same folder. A crashed
    # process's lock on the folder goes with it; this one's is let go by hand
    window.keeper.folder.folder.release()
    w2 = MainWindow(dataset, settings=settings)
    w2.ask_to_save = False
    qtbot.addWidget(w2)
    assert w2.keeper.path == folder and w2.keeper.crashed is not None
    assert w2.session.teaching.labels.tolist() == [7, 7]
    np.testing.assert_array_equal(w2.session.teaching.images, window.session.teaching.images)
    w2.session.teaching.remove([0])
    w2.session.shutdown()
    w2.close()
    w3 = MainWindow(dataset, settings=settings)
    w3.ask_to_save = False
    qtbot.addWidget(w3)
    assert w3.keeper.path == folder and w3.session.teaching.labels.tolist() == [7]
    w3.session.shutdown()
