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
    report = {"tag": "eval", "examples_seen": 100, "epoch": 0.01, "learning_rate": 0.01}
    c.on_report(report)
    assert c.stat_labels["lr"].text() == "none (adadelta)"  # the statistics say so too, not 0.01
    c.method.setCurrentIndex(c.method.findData("sgd"))
    assert c.lr.isEnabled() and c.momentum.isEnabled()
    assert c.lr.toolTip().startswith("Step size") and caption.toolTip().startswith("Step size")
    assert c.momentum.toolTip() == "Momentum for sgd and nesterov."
    c.on_report(report)
    assert c.stat_labels["lr"].text() == "0.01"


# -- 2. Evaluate: an empty cell, and class names in the example cards --------------------------------
def made_up_evaluation(names, n=200, seed=0):
    """Answers of a made-up network: mostly right, class 0 never taken for class 1."""
    rng = np.random.default_rng(seed)
    k = len(names)
    labels = rng.integers(0, k, n)
    probs = rng.dirichlet(np.ones(k), n).astype(np.float32)
    probs[np.arange(n), labels] += 0.5
    probs[:, 1][labels == 0] = 0.0
    probs /= probs.sum(axis=1, keepdims=True)
    images = rng.integers(0, 255, (n, 8, 8, 3), dtype=np.uint8)
    return {"probs": probs, "labels": labels}, images


def test_an_empty_confusion_cell_says_so_and_offers_nothing_to_click(qtbot):
    from workbench.views.evaluate.confused import ConfusedExamples
    names = ["circle", "cross", "square", "triangle"]
    panel = ConfusedExamples()
    qtbot.addWidget(panel)
    result, images = made_up_evaluation(names)
    panel.set_result(result, images, names)
    panel.show_cell(0, 1)
    text = panel.caption.text()
    assert len(panel.gallery.indices) == 0
    assert text == "No example of circle was predicted as cross: the network never made this mistake."
    assert "Click" not in text and "0 examples" not in text
    m = np.zeros((4, 4), int)
    np.add.at(m, (result["labels"], result["probs"].argmax(axis=1)), 1)
    np.fill_diagonal(m, 0)
    panel.show_cell(*np.unravel_index(int(m.argmax()), m.shape))  # a cell with examples says how to open one
    assert len(panel.gallery.indices) > 0 and panel.caption.text().endswith("to open it in Inspect.")


def test_example_cards_show_whole_class_names(qtbot):
    from PySide6.QtGui import QFontMetrics

    from workbench.views.examples import ExampleGallery, name_width, small_font
    names = ["circle", "cross", "square", "triangle"]
    gallery = ExampleGallery()
    qtbot.addWidget(gallery)
    gallery.resize(700, 400)
    gallery.show()
    result, images = made_up_evaluation(names)
    gallery.set_examples(images, np.arange(12), result["labels"], result["probs"], "test", names)
    fm = QFontMetrics(small_font(gallery.font()))
    width = name_width(names, gallery.font())
    for name in names:  # the bars' captions, as the card draws them
        assert fm.elidedText(name, Qt.ElideRight, width - 2) == name
    card = gallery.card_rect(0)
    side = card.height() - 4 - 8  # the image; then the name column, then the bars (as ExampleCard paints)
    assert (card.width() - 4) - side - 10 - width - 6 >= 40  # the bars keep their room
    a, b = gallery.card_rect(0), gallery.card_rect(1)
    assert not a.intersects(b)
    digits = ExampleGallery()  # digits keep the compact cards
    qtbot.addWidget(digits)
    digits.set_examples(images, np.arange(3), result["labels"], result["probs"], "test", None)
    assert digits.card_rect(0).width() <= 160


# -- 3. a network that does not fit the data: said before the click, adapted from Train -------------
@pytest.mark.parametrize("size", [(1280, 800), (1024, 640)])
def test_train_says_before_the_click_that_the_network_does_not_fit_and_adapts_it(tiny, qtbot, tmp_path,
                                                                                 data_dialogs, size):
    from .test_data import open_through_box, write
    w, _s = tiny, tiny.session
    w.resize(*size)
    w.tabs.setCurrentWidget(w.train_tab)
    open_through_box(w, qtbot, write("npz", tmp_path, True), data_dialogs)
    c = w.train_tab.controls
    assert not c.train_button.isEnabled() and not c.step_button.isEnabled()
    qtbot.waitUntil(lambda: inside(w, c.message), timeout=3000)
    text = c.message.text()
    assert text.startswith("Cannot train: tiny does not fit data (8x8 RGB, 3 classes)")
    assert "outputs 10 classes but the data has 3" in text and "Adapt the network" in text
    assert "does not fit" in c.train_button.toolTip()
    assert inside(w, c.adapt_button) and inside(w, c.build_button)
    before = list(w.doc.layers)
    qtbot.mouseClick(c.adapt_button, Qt.LeftButton)
    assert w.doc.layers[0]["out_depth"] == 3 and w.doc.layers[-1]["num_classes"] == 3
    assert c.train_button.isEnabled() and not c.banner.isVisibleTo(w)
    w.doc.undo_stack.undo()  # back: said again
    assert w.doc.layers == before and not c.train_button.isEnabled() and c.adapt_button.isVisibleTo(w)


def test_asking_to_train_a_network_that_does_not_fit_offers_to_adapt_it(tiny, qtbot, tmp_path, data_dialogs):
    from .test_data import open_through_box, write
    w, _s = tiny, tiny.session
    open_through_box(w, qtbot, write("npz", tmp_path, True), data_dialogs)
    data_dialogs.answers["action"] = True  # the dialog's "Adapt the network"
    w.train_action.trigger()  # Ctrl+Return, whatever the Train button says
    kind, title, text = data_dialogs[-1]
    assert (kind, title, data_dialogs.actions[-1]) == ("action", "The network does not fit the data",
                                                      "Adapt the network")
    assert "Build's" not in text and "\u201cAdapt the network\u201d changes the input layer" in text
    assert w.doc.layers[0]["out_depth"] == 3 and w.doc.layers[-1]["num_classes"] == 3
    assert w.train_tab.controls.train_button.isEnabled()


# -- 4. switching datasets: earlier runs of the other data only on request ---------------------------
def fake_run(session, upto, step=1000, start=0):
    for seen in range(start + step, start + upto + 1, step):
        session.training.report.emit({"tag": "progress", "examples_seen": seen, "epoch": seen / 55000, "examples": step,
                             "learning_rate": 0.01, "examples_per_second": 1000.0, "fwd_ms_per_example": 0.1,
                             "bwd_ms_per_example": 0.1, "cost_loss": 2.3 * 0.97 ** (seen / step),
                             "decay_loss": 0.0, "train_accuracy": 0.5})


def test_runs_on_the_previous_dataset_are_shown_only_on_request_on_their_own_scale(tiny, qtbot, tmp_path,
                                                                                 data_dialogs):
    from .test_data import open_through_box, write
    w, s = tiny, tiny.session
    w.tabs.setCurrentWidget(w.train_tab)
    fake_run(s, 60000)  # a run on MNIST, 60,000 examples long
    views = (w.train_tab.loss_plot, w.train_tab.accuracy_plot)
    open_through_box(w, qtbot, write("npz", tmp_path, False), data_dialogs)
    fake_run(s, 400, step=40)  # the first run on the new data
    for view in views:
        view.refresh()
        (old,) = view.other_data_curves
        assert not old.isVisible() and not view.old_curves
        assert view.other_data.isVisible() and not view.other_data.isChecked()
        assert view.other_data.text() == "runs on other data (1)"
        lo, hi = view.plot.getPlotItem().vb.viewRange()[0]
        assert hi <= 1100  # the new run's axis, not the old one's 60,000
        view.other_data.setChecked(True)  # asked for: greyed, on an axis as long as they are
        assert old.isVisible() and view.plot.getPlotItem().vb.viewRange()[0][1] >= 60000
        view.other_data.setChecked(False)
        assert not old.isVisible() and view.plot.getPlotItem().vb.viewRange()[0][1] <= 1100
    s.reset_weights()  # a second run on the same data is greyed beside the new one, as before
    view = views[0]
    assert len(view.old_curves) == 1 and view.old_curves[0].isVisible()


# -- 7. plots and panels ---------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(1280, 800), (1024, 640)])
def test_a_validation_point_at_one_is_drawn_whole(window, size):
    from PySide6.QtCore import QPointF
    w = window
    w.resize(*size)
    w.tabs.setCurrentWidget(w.train_tab)
    view = w.train_tab.accuracy_plot
    for seen, acc in ((1000, 0.9), (2000, 0.97), (3000, 1.0)):
        view.add({"tag": "eval", "examples_seen": seen, "validation_accuracy": acc, "test_accuracy": acc})
    view.refresh()
    vb = view.plot.getPlotItem().vb
    top = vb.sceneBoundingRect().top()
    y = vb.mapViewToScene(QPointF(3000, 1.0)).y()
    radius = view.val.opts["symbolSize"] / 2
    assert y - top >= radius + 1  # the dot at 1.0 is not cut by the top of the plot
    labels = [v for _, ticks in view.plot.getPlotItem().getAxis("left").tickValues(*vb.viewRange()[1], 100)
              for v in ticks]
    assert any(abs(v - 1.0) < 1e-9 for v in labels)  # and the axis says where 1 is


def test_every_statistic_is_in_view_at_1280x800_under_a_banner(tiny, qtbot):
    from workbench.tour.highlight import visible_rect
    w, s = tiny, tiny.session
    w.resize(1280, 800)
    w.tabs.setCurrentWidget(w.train_tab)
    c = w.train_tab.controls
    c.method.setCurrentIndex(c.method.findData("sgd"))
    c.lr.setValue(1000)
    qtbot.mouseClick(c.train_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not s.training.running and "diverged" in c.message.text(), timeout=15000)
    qtbot.waitUntil(lambda: c.message.isVisible(), timeout=3000)
    assert c.message.height() >= c.message.heightForWidth(c.message.width()) > 2 * c.message.fontMetrics().height()
    for key, label in c.stat_labels.items():  # with the column scrolled to the top, as it opens
        r = visible_rect(label, w)
        assert r.height() == label.height() and r.width() == label.width(), key
        cap = visible_rect(c.stat_captions[key], w)
        assert cap.height() == c.stat_captions[key].height(), key
    for b in (c.train_button, c.pause_button, c.stop_button, c.step_button, c.epoch_button, c.reset_button):
        assert visible_rect(b, w).height() == b.height() and b.width() >= b.sizeHint().width()


@pytest.mark.parametrize("size", [(1280, 800), (1024, 640)])
def test_inspect_row_titles_are_whole_in_the_view(window, qtbot, size):
    w = window
    w.resize(*size)
    view = w.network_view
    w.tabs.setCurrentWidget(view)
    with qtbot.waitSignal(w.session.predictions.inspected, timeout=20000):
        view.show_example(("test", 0))
    qtbot.waitUntil(lambda: view.state is not None and len(view.rows) == len(view.state["layers"]), timeout=5000)
    qtbot.wait(50)
    port = view.scroll.viewport()
    assert view.scroll.horizontalScrollBar().value() == 0
    for row in view.rows:
        t = row.title
        right = t.mapTo(port, QPoint(t.width(), 0)).x()
        assert right <= port.width(), (t.text(), right, port.width())  # not cut at the view's edge
        assert t.height() >= t.heightForWidth(t.width())  # every line of it shown
    conv = view.rows[1].title.text()
    assert "conv 5x5, 8 filters, stride 1, pad 2" in conv


# -- 8. the dataset dialog: the path's completer never covers "Open folder" -------------------------
@pytest.mark.qt_log_ignore("This plugin does not support raise", "This plugin does not support grabbing")
def test_the_path_completer_does_not_cover_open_folder(qtbot, tmp_path):  # (a popup, offscreen)
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QLineEdit

    from workbench.views.data.dialogs import DatasetFileDialog
    for name in ("shapes", "shoes", "shirts"):
        (tmp_path / name / "a").mkdir(parents=True)
    (tmp_path / "shapes" / "b").mkdir()
    d = DatasetFileDialog(None, str(tmp_path))
    qtbot.addWidget(d)
    d.resize(800, 500)
    d.show()  # (not exec: nothing modal waits)
    qtbot.waitExposed(d)
    edit = d.findChild(QLineEdit, "fileNameEdit")
    popup = edit.completer().popup()
    button = d.folder_button

    def where(w):
        return QRect(w.mapToGlobal(QPoint(0, 0)), w.size())

    edit.setFocus()
    qtbot.keyClicks(edit, str(tmp_path / "sh"))  # typing: the completer offers the folders
    qtbot.waitUntil(popup.isVisible, timeout=3000)
    assert button.isVisible() and not where(popup).intersects(where(button))
    edit.selectAll()
    qtbot.keyClicks(edit, str(tmp_path / "shapes") + "/")  # the completer lists the folder's folders
    qtbot.waitUntil(popup.isVisible, timeout=3000)
    d.setDirectory(str(tmp_path / "shapes"))  # what Enter does (offscreen, pytest's Enter lands in "/")
    edit.clear()
    qtbot.wait(100)
    assert not (popup.isVisible() and where(popup).intersects(where(button)))
    assert not popup.isVisible()  # nothing typed: no list of the folder over the dialog
    assert button.isVisible() and d.rect().contains(QRect(button.mapTo(d, QPoint(0, 0)), button.size()))
    d.reject()


# -- 9. first start without Qt's xcb libraries: said before Qt starts ----------------------------------
README_APT = ("sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 "
              "libxcb-shape0 libxcb-randr0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libfontconfig1 libdbus-1-3")


def test_a_missing_xcb_library_is_said_with_the_apt_line_before_qt_starts(monkeypatch, capsys):
    from workbench import app
    from workbench.window import main_window
    monkeypatch.setattr(app.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(app, "can_load", lambda library: library != "libxcb-cursor.so.0")

    def no_window(*a, **k):
        raise AssertionError("the window was made")

    monkeypatch.setattr(main_window, "MainWindow", no_window)
    assert app.main([]) == 1
    err = capsys.readouterr().err
    assert "needs libraries this system lacks: libxcb-cursor0." in err
    assert README_APT in err
    readme = (__import__("pathlib").Path(app.__file__).parents[1] / "README.md").read_text()
    assert README_APT in readme  # the same line as the README's


@pytest.mark.parametrize("env, platform, checked", [
    ({"DISPLAY": ":0"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({}, "linux", False),
    ({"DISPLAY": ":0"}, "darwin", False),
    ({"DISPLAY": ":0"}, "win32", False)])
def test_the_xcb_check_is_made_only_where_qt_would_use_xcb(monkeypatch, env, platform, checked):
    from workbench import app
    asked = []
    monkeypatch.setattr(app, "can_load", lambda library: asked.append(library) or False)
    missing = app.missing_xcb_libraries(env, platform)
    assert bool(asked) == checked and len(missing) == (12 if checked else 0)


# -- 6. Runs: a default sweep of settings the method uses; the data of each run ------------------------
def test_the_default_sweep_is_of_settings_the_method_uses(tiny, qtbot):
    from engine.studies.sweep import grid_settings, parse_settings
    from workbench.views.runs.sweep import SweepDialog
    s = tiny.session
    for method, keys in (("adadelta", {"batch_size", "l2_decay"}), ("sgd", {"learning_rate", "momentum"}),
                         ("adam", {"learning_rate", "batch_size"})):
        s.set_trainer_option("method", method)
        d = SweepDialog(s, tiny)
        qtbot.addWidget(d)
        plan = d.make_plan()
        assert {k for run in plan for k in run} == keys, method
        assert len(plan) == 4 and len({tuple(sorted(run.items())) for run in plan}) == 4
        assert d.summary.text() == "4 runs of 0.2 epochs each.", method  # no run repeats another
    d.set_rows([("learning_rate", "0.003, 0.01"), ("method", "sgd, adadelta")])  # the old default
    assert d.summary.text() == ("4 runs of 0.2 epochs each. 1 of them repeat another run: adadelta does not "
                                "use learning rate.")
    assert grid_settings(parse_settings(d.items())) == d.make_plan()


def test_the_runs_table_says_which_data_each_run_trained_on(tiny, qtbot):
    from workbench.views.runs import table as T
    w, s = tiny, tiny.session
    s.set_epochs(0.01)
    with qtbot.waitSignal(s.training.finished, timeout=60000):
        assert s.training.train()
    (rec,) = w.keeper.runs()
    w.keeper.add_record(dict(rec, experiment=dict(rec["experiment"], data="/data/shapes/")))
    w.keeper.add_record(dict(rec, experiment=dict(rec["experiment"], data="/data/fashion.npz")))
    place = w.experiments.runs_place
    w.tabs.setCurrentWidget(place)
    t = place.table
    assert t.horizontalHeaderItem(T.DATA).text() == "Data"
    assert [t.item(r, T.DATA).text() for r in range(3)] == ["fashion", "shapes", "MNIST"]
    assert "/data/fashion.npz" in t.item(0, T.DATA).toolTip()
    rect = t.visualItemRect(t.item(0, T.DATA))
    assert rect.width() >= t.fontMetrics().horizontalAdvance("fashion") and rect.right() < t.viewport().width()


# -- 5. restore after a crash says what will happen ------------------------------------------------------
from .test_restore import crashed, small  # noqa: E402,F401 - the CLI's session folder, left by a crash


def test_restoring_a_finished_run_says_so_and_nothing_trains(crashed, window):
    w = window
    asked = []
    assert w.keeper.offer_restore(w, ask=lambda title, text: asked.append(text) or True)
    (text,) = asked
    assert "Its run had finished" in text and "Nothing trains until you press Train" in text
    assert "goes on from where" not in text
    assert not w.session.training.running and w.session.examples_seen > 0


def test_restoring_a_run_that_had_not_finished_says_train_goes_on_from_there(crashed, request):
    import json
    (path,) = (crashed / "runs").glob("run-*.json")
    rec = json.loads(path.read_text())
    rec["status"] = "stopped"
    path.write_text(json.dumps(rec))
    w = request.getfixturevalue("window")
    asked = []
    assert w.keeper.offer_restore(w, ask=lambda title, text: asked.append(text) or True)
    assert "nothing trains until you press Train, which goes on from where the run was saved" in asked[0]
    assert not w.session.training.running


# -- 1. the tour says what the window shows ------------------------------------------------------------
def test_the_confused_example_note_says_what_the_draw_bars_say(window, qtbot):
    import re

    from workbench.tour.tour import Tour
    w, s = window, window.session
    tour = w.tour = Tour(w)
    tour.start()
    tour.go(4)  # the softmax step: Show me loads the trained demo network
    qtbot.mouseClick(tour.panel.show_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: tour.done[4], timeout=20000)
    tour.go(9)
    note = w.findChild(QWidget, "tourNote")
    bars = w.draw_panel.bars
    with qtbot.waitSignal(s.predictions.drawingPredicted, timeout=20000):
        qtbot.mouseClick(tour.panel.show_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: "the network says" in note.text() and bars.probs is not None, timeout=10000)
    m = re.fullmatch(r"Test digit #(\d+), labelled (\d): the network says (\d) \(([\d.]+%) sure\)\.", note.text())
    assert m, note.text()
    index, label, said, sure = int(m[1]), m[2], m[3], m[4]
    assert str(bars.top_class) == said and f"{bars.probs.max():.1%}" == sure  # as the bars say it
    assert str(int(s.data.dataset.test.labels[index])) == label
    assert said != label  # a digit the network gets wrong, as Draw sees it
    assert note.isVisible()
    w.draw_panel.canvas.draw_stroke([(0.1, 0.1), (0.2, 0.2)])  # the learner draws over it
    qtbot.waitUntil(lambda: not note.isVisible(), timeout=5000)  # the note is no longer about the canvas


def test_the_last_steps_done_line_names_the_button_it_has(window, qtbot):
    from workbench.tour.tour import Tour

    from .test_tour import tiny_lesson
    w = window
    tour = w.tour = Tour(w, lesson=tiny_lesson(w))
    tour.start()
    status = w.findChild(QWidget, "tourStatus")
    tour.go(0)
    w.tabs.setCurrentWidget(w.train_tab)
    qtbot.waitUntil(lambda: tour.done[0], timeout=3000)
    assert tour.panel.next_button.text() == "Next" and "Press Next" in status.text()
    last = len(tour.steps) - 1
    tour.go(last)
    tour._mark_done()
    assert tour.panel.next_button.text() == "Finish"
    assert status.text() == "\u2713 Done. Press Finish when you are ready."
    assert "Next" not in status.text()


@pytest.mark.parametrize("size", [(1280, 800), (1024, 640)])
def test_the_pool_step_keeps_the_relu_row_above_it_in_view(window, qtbot, size):
    from workbench.tour.highlight import visible_rect
    from workbench.tour.tour import Tour
    w = window
    w.resize(*size)
    tour = w.tour = Tour(w)  # the demo network: its rows are tall
    tour.start()
    tour.go(2)
    qtbot.mouseClick(tour.panel.show_button, Qt.LeftButton)  # Inspect, a test digit
    qtbot.waitUntil(lambda: tour.done[2], timeout=20000)
    rows = w.findChildren(QWidget, "layerRow")
    qtbot.waitUntil(lambda: len(rows) > 3 and rows[1].height() > 150, timeout=10000)  # its pictures are in
    tour.go(3)
    qtbot.mouseClick(tour.panel.show_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: tour.done[3], timeout=5000)
    qtbot.wait(50)
    relu, pool = rows[2], rows[3]
    assert "relu" in relu.title.text() and "pool" in pool.title.text()
    for row in (relu, pool):  # both whole on screen, to compare
        assert visible_rect(row, w).height() == row.height(), row.title.text()
