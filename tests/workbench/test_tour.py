"""The guided tour: its steps file, a walk through every step with Show me, a learner who does
the steps themselves, and the learner's own work put aside and brought back."""
import copy
import json

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QPushButton, QTabBar, QWidget

from workbench.tour.highlight import visible_rect
from workbench.tour.steps import TOUR_DIR, TourError, check_tour, load_tour
from workbench.tour.tour import Tour
from workbench.views.theme import ACCENT

from .conftest import TINY

DATA = load_tour("en")


def tiny_lesson(window):
    """The tour's lesson on a tiny network and 5,000 training images, so that a test is quick."""
    return window.session.experiment().replace(layer_defs=TINY, name="tiny lesson", validation=55000,
                                               epochs=1)


def click(qtbot, window, name):
    button = window.findChild(QPushButton, name)
    assert button is not None and button.isVisible() and button.isEnabled(), name
    qtbot.mouseClick(button, Qt.LeftButton)


def ring_pixels(window, tour):
    """How many pixels of the window, as it looks now, are the accent colour on the ring's line."""
    img = window.grab().toImage()
    r = tour.highlight.geometry()
    a = ACCENT
    count = 0
    for y in (r.top() + 1, r.top() + 2, r.bottom() - 1, r.bottom() - 2):
        for x in range(r.left() + 8, r.right() - 8, 3):
            c = img.pixelColor(x, y)
            count += abs(c.red() - a.red()) + abs(c.green() - a.green()) + abs(c.blue() - a.blue()) < 40
    return count


def learner_state(session):
    w = session.weights
    return {"layers": copy.deepcopy(session.doc.layers), "name": session.doc.name,
            "settings": session.experiment().to_json(), "params": [p.copy() for p in w.params()],
            "examples_seen": session.examples_seen, "modified": session.modified}


def make_learner_work(qtbot, window):
    """A learner's network of their own: the tiny one, a changed setting, trained a few batches."""
    s = window.session
    s.load_experiment(s.experiment().replace(layer_defs=TINY, name="my net", epochs=50))
    s.set_trainer_option("learning_rate", 0.0042)  # not saved: the window would ask
    s.doc.set_property(1, "filters", 5)
    s.training.step(3)
    qtbot.waitUntil(lambda: s.examples_seen >= 60, timeout=20000)
    s.training.stop()
    assert s.weights.examples_seen == s.examples_seen == 60
    return learner_state(s)


# -- the steps file -------------------------------------------------------------------------------
def test_the_tour_has_the_lessons_steps_in_order():
    ids = [s["id"] for s in DATA["steps"]]
    assert ids == ["data", "network", "conv", "pool", "softmax", "training", "explode", "anneal",
                   "confusion", "your_digit"]
    for s in DATA["steps"]:
        assert 200 < len(s["text"]) < 1100, s["id"]  # a few sentences


def test_every_step_points_at_widgets_the_window_has(window, qtbot):
    s = window.session
    window.tabs.setCurrentWidget(window.network_view)  # Inspect's rows exist once it has shown pictures
    with qtbot.waitSignal(s.predictions.inspected, timeout=20000):
        window.network_view.show_example(("test", 0))
    qtbot.waitUntil(lambda: len(window.findChildren(QWidget, "layerRow")) >= 4, timeout=5000)
    tabs = [window.tabs.tabText(i).replace("&", "").lower() for i in range(window.tabs.count())]
    for step in DATA["steps"]:
        targets = list(step["widgets"])
        targets += [a for a in step["show_me"] if a["do"] == "scroll_to"]
        targets += [step["done"]["visible"]] if "visible" in step["done"] else []
        for t in targets:
            found = window.findChildren(QWidget, t["name"])
            assert len(found) > t.get("index", 0), f"step {step['id']}: no widget {t['name']}"
        assert step["place"] in tabs, step["id"]
        for a in step["show_me"]:
            if a["do"] == "place":
                assert a["place"] in tabs


def test_a_broken_steps_file_is_refused_with_what_is_wrong(tmp_path):
    good = json.loads((TOUR_DIR / "en.json").read_text(encoding="utf-8"))
    check_tour(copy.deepcopy(good))
    cases = [
        (lambda d: d["steps"][2]["show_me"].append({"do": "dance"}), "step 3 (conv): unknown action 'dance'"),
        (lambda d: d["steps"][0].pop("widgets"), "step 1 (data): 'widgets' must list at least one widget"),
        (lambda d: d["steps"][1]["done"].update(event="typed"), "unknown event 'typed'"),
        (lambda d: d["steps"][1].update(colour="red"), "step 2 (network): unknown key 'colour'"),
        (lambda d: d["labels"].pop("next"), "label 'next' is missing"),
        (lambda d: d["steps"][4]["show_me"][2]["strokes"].append([[0.5, 1.5]]), "each in [0, 1]"),
    ]
    for change, message in cases:
        d = copy.deepcopy(good)
        change(d)
        path = tmp_path / "xx.json"
        path.write_text(json.dumps(d), encoding="utf-8")
        with pytest.raises(TourError, match=message.replace("(", r"\(").replace(")", r"\)")
                           .replace("[", r"\[").replace("]", r"\]")):
            load_tour(path=path)


# -- the tour in the window -------------------------------------------------------------------------
def test_help_menu_opens_the_tour_panel_beside_the_places(window, qtbot):
    help_menu = [a.menu() for a in window.menuBar().actions() if a.text() == "&Help"][0]
    action = [a for a in help_menu.actions() if a.text() == "&Guided tour"][0]
    window.tour = Tour(window, lesson=tiny_lesson(window))
    action.trigger()
    panel = window.findChild(QWidget, "tourPanel")
    qtbot.waitUntil(panel.isVisible, timeout=3000)
    assert window.tour.index == 0
    assert window.doc.name == "tiny lesson"
    for name in ("tourNext", "tourBack", "tourShowMe"):
        assert window.findChild(QPushButton, name).isVisible()
    assert not window.findChild(QPushButton, "tourBack").isEnabled()  # on the first step
    # the panel sits beside the places, not over them
    places = visible_rect(window.tabs, window)
    assert not places.intersects(visible_rect(panel, window))
    assert "Step 1 of 10" in window.findChild(QWidget, "tourCounter").text()


def test_the_whole_tour_with_show_me_gives_the_learner_back_their_work(window, qtbot):
    s = window.session
    before = make_learner_work(qtbot, window)
    tour = window.tour = Tour(window, lesson=tiny_lesson(window))
    tour.start()
    assert s.doc.name == "tiny lesson" and s.doc.layers == TINY
    texts = []
    for k, step in enumerate(tour.steps):
        assert tour.index == k
        click(qtbot, window, "tourShowMe")
        qtbot.waitUntil(lambda k=k: tour.done[k], timeout=60000)
        status = window.findChild(QWidget, "tourStatus").text()
        assert status.startswith("✓"), (step["id"], status)
        # the step outlines one of its widgets, and it is on screen
        names = [t["name"] for t in step["widgets"]]
        qtbot.waitUntil(lambda: tour.pointed_at is not None, timeout=5000)
        target = tour.pointed_at
        assert target.objectName() in names, step["id"]
        assert target.isVisible() and not visible_rect(target, window).isEmpty()
        ring = tour.highlight.geometry()
        assert ring.contains(visible_rect(target, window)), step["id"]
        assert ring_pixels(window, tour) > 20, step["id"]  # the accent ring is drawn
        texts.append(window.findChild(QWidget, "tourTitle").text())
        if step["id"] == "explode":
            assert "diverged" in window.findChild(QWidget, "trainMessage").text()
        if step["id"] == "anneal":
            assert s.settings.schedule["kind"] == "cosine"
        if step["id"] == "confusion":  # the most frequent mistake's digits are in the gallery
            m = np.array(window.evaluate.last["matrix"])
            np.fill_diagonal(m, 0)
            if m.max() > 0:
                gallery = window.findChild(QWidget, "confusionExamples")
                qtbot.waitUntil(lambda gallery=gallery, m=m: len(gallery.indices) == m.max(), timeout=10000)
        click(qtbot, window, "tourNext")
    assert texts == [st["title"] for st in tour.steps]
    # the end offers the learner's work back
    assert tour.panel.page == "end"
    assert "my net" in window.findChild(QWidget, "tourEndText").text()
    assert tour.pointed_at is None
    with qtbot.waitSignal(tour.ended, timeout=10000) as ended:
        click(qtbot, window, "tourRestore")
    assert ended.args == ["restored"]
    after = learner_state(s)
    assert after["layers"] == before["layers"] and after["name"] == "my net"
    assert after["settings"] == before["settings"]
    assert after["examples_seen"] == before["examples_seen"]
    assert after["modified"] and before["modified"]
    assert all(np.array_equal(a, b) for a, b in zip(after["params"], before["params"]))
    assert s.weights.examples_seen == before["examples_seen"]
    assert not window.findChild(QWidget, "tourPanel").isVisible()
    assert not tour.highlight.isVisible()
    assert s.doc.undo_stack.count() == 0  # (the undo history does not come back)


def test_a_learner_who_does_the_steps_is_noticed(window, qtbot):
    s = window.session
    tour = window.tour = Tour(window, lesson=tiny_lesson(window))
    window.tabs.setCurrentIndex(0)  # Build
    tour.start()
    status = window.findChild(QWidget, "tourStatus")
    # 1. the data: it is in the Train place; the tour outlines that tab until the learner goes there
    assert not tour.done[0] and "Train place" in status.text()
    bar = window.tabs.findChild(QTabBar)
    assert tour.pointed_at is bar
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(1).center())
    qtbot.waitUntil(lambda: tour.done[0], timeout=3000)
    assert tour.pointed_at.objectName() == "dataBox"
    click(qtbot, window, "tourNext")
    # 2. the network: the learner opens Build and clicks a card
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(0).center())
    assert not tour.done[1]
    stack = window.build_tab.stack
    rect = stack.visualRect(stack.model().index(1, 0))
    qtbot.mouseClick(stack.viewport(), Qt.LeftButton, pos=rect.center() + QPoint(0, 10))
    qtbot.waitUntil(lambda: tour.done[1], timeout=3000)
    assert status.text().startswith("✓")
    # 5. the softmax: the learner draws a digit with the mouse
    tour.go(4)
    assert not tour.done[4]
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(3).center())
    canvas = window.draw_panel.canvas
    side = min(canvas.width(), canvas.height())
    o = QPoint((canvas.width() - side) // 2, (canvas.height() - side) // 2)
    pts = [o + QPoint(int(side * (0.5 + 0.01 * k)), int(side * (0.2 + 0.03 * k))) for k in range(20)]
    qtbot.mousePress(canvas, Qt.LeftButton, pos=pts[0])
    for p in pts[1:]:
        qtbot.mouseMove(canvas, p)
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=pts[-1])
    qtbot.waitUntil(lambda: tour.done[4], timeout=10000)
    # 7. the exploding rate: the learner picks sgd, types the rate, resets and trains
    tour.go(6)
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(1).center())
    controls = window.train_tab.controls
    controls.method.setCurrentIndex(controls.method.findText("sgd"))
    controls.lr.selectAll()
    qtbot.keyClicks(controls.lr.lineEdit(), "10")
    qtbot.keyClick(controls.lr.lineEdit(), Qt.Key_Return)
    assert s.settings.trainer["method"] == "sgd" and s.learning_rate == 10
    assert not tour.done[6]
    click(qtbot, window, "resetButton")
    click(qtbot, window, "trainButton")
    qtbot.waitUntil(lambda: tour.done[6], timeout=30000)
    assert "diverged" in controls.message.text()
    # a run that is stopped does not count: step 8 wants an annealed run that finished
    tour.go(7)
    s.set_learning_rate(0.01)
    s.set_schedule("cosine", minimum=0.0001)
    s.training.train()
    qtbot.waitUntil(lambda: s.training.running, timeout=5000)
    s.training.stop()
    assert not tour.done[7]


def test_a_learner_who_scrolls_to_the_pool_row_is_noticed(window, qtbot):
    tour = window.tour = Tour(window)  # the demo network: its rows are taller than the view
    tour.start()
    tour.go(2)
    click(qtbot, window, "tourShowMe")  # Inspect, the conv row at the top
    qtbot.waitUntil(lambda: tour.done[2], timeout=20000)
    scroll = window.network_view.scroll.verticalScrollBar()
    qtbot.waitUntil(lambda: scroll.maximum() > 0, timeout=5000)
    scroll.setValue(scroll.maximum())  # the learner scrolls down to the last rows
    click(qtbot, window, "tourNext")
    pool = window.findChildren(QWidget, "layerRow")[3]
    assert visible_rect(pool, window).isEmpty()
    assert not tour.done[3]
    assert tour.pointed_at.objectName() == "networkView"  # the row is not on screen: the place is
    for value in range(scroll.maximum(), -1, -40):  # and back up, as a wheel does
        scroll.setValue(value)
        qtbot.wait(5)
        if tour.done[3]:
            break
    qtbot.waitUntil(lambda: tour.done[3], timeout=3000)
    assert not visible_rect(pool, window).isEmpty()
    qtbot.waitUntil(lambda: tour.pointed_at is pool, timeout=3000)


def test_closing_the_panel_mid_tour_offers_the_work_back_first(window, qtbot):
    s = window.session
    s.set_trainer_option("momentum", 0.5)
    before = learner_state(s)  # the demo network the window opened with, untrained
    tour = window.tour = Tour(window)  # the lesson is the same network, with other weights
    tour.start()
    assert s.settings.trainer["momentum"] == 0.9
    assert not all(np.array_equal(a, b) for a, b in zip(s.weights.params(), before["params"]))
    tour.go(2)
    tour.panel.close()  # the dock's own close button
    assert tour.panel.isVisible() and tour.panel.page == "end"
    assert window.findChild(QPushButton, "tourRestore").isVisible()
    tour.panel.close()  # closed again without choosing: the work comes back
    assert not tour.panel.isVisible()
    after = learner_state(s)
    assert after["layers"] == before["layers"] and after["settings"] == before["settings"]
    assert all(np.array_equal(a, b) for a, b in zip(after["params"], before["params"]))
    assert after["modified"]


def test_keeping_the_tours_network(window, qtbot):
    tour = window.tour = Tour(window, lesson=tiny_lesson(window))
    tour.start()
    tour.end()
    with qtbot.waitSignal(tour.ended, timeout=5000) as ended:
        click(qtbot, window, "tourKeep")
    assert ended.args == ["kept"]
    assert window.doc.name == "tiny lesson" and tour.keepsake is None


def test_closing_the_window_during_the_tour_brings_the_work_back_first(window, qtbot):
    s = window.session
    before = learner_state(s)
    tour = window.tour = Tour(window, lesson=tiny_lesson(window))
    tour.start()
    tour.go(5)
    click(qtbot, window, "tourShowMe")  # training the lesson's network
    qtbot.waitUntil(lambda: s.training.running, timeout=5000)
    names = []
    s.runStarted.connect(lambda _: names.append(s.doc.name))
    window.close()
    assert names[-1] == before["name"] and s.doc.layers == before["layers"]
    assert not s.training.running


def test_the_first_start_offer_comes_once(window, qtbot, settings):
    tour = window.guided_tour()
    assert tour.offer_first_start(settings)
    panel = window.findChild(QWidget, "tourPanel")
    assert panel.isVisible() and tour.panel.page == "offer"
    assert window.doc.name == "ConvNetJS MNIST demo"  # nothing put aside before the learner says so
    click(qtbot, window, "tourNotNow")
    assert not panel.isVisible()
    assert not tour.offer_first_start(settings)  # remembered
    assert not panel.isVisible()


@pytest.mark.slow
def test_the_real_lesson_explodes_warns_and_then_anneals_past_97_percent(window, qtbot):
    """The tour as a learner gets it (the demo network, the file's settings), every step by Show me."""
    s = window.session
    tour = window.tour = Tour(window)
    tour.start()
    assert s.doc.name == "ConvNetJS MNIST demo"
    message = window.findChild(QWidget, "trainMessage")
    for k, step in enumerate(tour.steps):
        click(qtbot, window, "tourShowMe")
        qtbot.waitUntil(lambda k=k: tour.done[k], timeout=600000)
        if step["id"] == "explode":
            assert "diverged" in message.text() and "try 0.01" in message.text()
            assert s.examples_seen < 5000
        if step["id"] == "anneal":
            assert s.examples_seen == int(round(0.5 * s.n_train()))
        if step["id"] == "confusion":
            acc = window.evaluate.last["accuracy"]
            assert acc >= 0.97, acc
        click(qtbot, window, "tourNext")
    click(qtbot, window, "tourRestore")
