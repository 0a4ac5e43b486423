"""The guided tour: ConvNetJS's digit lesson, step by step on the live app.

``Tour`` reads the steps (``resources/tour/<language>.json``, see ``steps.py``), puts the
learner's work aside when it starts (``Session.keepsake``) and loads the lesson's
network, then for each step shows the words in the side panel, outlines the widget the
step talks about, does the step when asked ("Show me": the session's public methods and
the views' own commands, as a user would) and watches the session's signals and the
window to notice when the learner did it themselves. At the end, or when the panel or
the window is closed, it offers the learner's work back.
"""
import numpy as np
from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import QScrollArea, QTabBar, QTabWidget, QWidget

from .highlight import Highlight, visible_rect
from .panel import MAX_WIDTH, MIN_WIDTH, WIDTH, TourPanel
from .steps import lesson_experiment, load_tour

SETTINGS_KEY = "tour/offered"
_MOVES = (QEvent.Move, QEvent.Resize, QEvent.Show, QEvent.Hide)


def _place_title(text):
    return text.replace("&", "").strip().lower()


class Tour(QObject):
    """The guided tour of ``window`` (a ``MainWindow``: its session, places and file commands).

    Parameters
    ----------
    window : MainWindow
    language : str
        Which ``resources/tour/<language>.json`` to read.
    lesson : engine.experiment.Experiment, optional
        The network and settings the tour teaches on (default: the file's ``lesson``, the
        ConvNetJS MNIST demo); tests give a tiny one.

    Signals
    -------
    stepChanged(int) : the step shown (from 0)
    stepDone(int) : that step counts as done (by the learner or by Show me)
    ended(str) : the tour ended: "restored" (the learner's work is back) or "kept"
    """

    stepChanged = Signal(int)
    stepDone = Signal(int)
    ended = Signal(str)

    def __init__(self, window, language="en", lesson=None, path=None):
        super().__init__(window)
        self.window = window
        self.session = s = window.session
        self.data = load_tour(language, path)
        self.steps = self.data["steps"]
        self.labels = self.data["labels"]
        self.lesson = lesson
        self.index = -1
        self.done = [False] * len(self.steps)
        self.keepsake = None
        self._pending_scroll = None
        self._confused = None  # the test digit Show me put on the canvas (step 10), while it is there
        self._watched = []   # the step's widgets and what they sit in: when they move, look again
        self._look = QTimer(self, singleShot=True, interval=0)
        self._look.timeout.connect(self._look_again)
        self.panel = TourPanel(self.labels, self.data["name"], self.data["title"], window)
        window.addDockWidget(Qt.RightDockWidgetArea, self.panel)
        self.panel.hide()
        self.highlight = Highlight(window)
        p = self.panel
        p.startRequested.connect(self.start)
        p.notNowRequested.connect(self.panel.hide)
        p.backRequested.connect(self.back)
        p.nextRequested.connect(self.next)
        p.showMeRequested.connect(self.show_me)
        p.endRequested.connect(self.end)
        p.restoreRequested.connect(self.restore_work)
        p.keepRequested.connect(self.keep_work)
        p.closeRequested.connect(self._close_requested)
        p.visibilityChanged.connect(self._fit_panel)
        s.predictions.inspected.connect(self._inspected)
        s.predictions.drawingPredicted.connect(self._drawing_predicted)
        s.training.report.connect(self._report)
        s.training.finished.connect(self._finished)
        s.predictions.evaluated.connect(self._evaluated)
        s.doc.selectionChanged.connect(self._state_changed)
        self.tabs.currentChanged.connect(self._place_changed)
        window.installEventFilter(self)

    # -- the window -----------------------------------------------------------------------------
    @property
    def tabs(self):
        return self.window.findChild(QTabWidget, "places")

    def _place_index(self, name):
        tabs = self.tabs
        for i in range(tabs.count()):
            if _place_title(tabs.tabText(i)) == name.lower():
                return i
        return -1

    def _place_title(self, name):
        i = self._place_index(name)
        return self.tabs.tabText(i).replace("&", "") if i >= 0 else name

    def find(self, target):
        """The widget ``{"name": objectName, "index": n}`` points at, or None."""
        found = self.window.findChildren(QWidget, target["name"])
        k = target.get("index", 0)
        return found[k] if k < len(found) else None

    def _on_screen(self, target):
        """The target is on screen, enough of it to see (a quarter, or 100x60 px)."""
        w = self.find(target)
        r = visible_rect(w, self.window)
        if r.isEmpty():
            return False
        return r.width() * r.height() >= min(w.width() * w.height() / 4, 6000)

    @property
    def active(self):
        """A step is showing (not the offer or the end)."""
        return self.index >= 0 and self.panel.isVisible() and self.panel.page == "step"

    @property
    def step(self):
        return self.steps[self.index] if 0 <= self.index < len(self.steps) else None

    def _fit_panel(self, visible=True):
        """As wide as the panel likes, but never so wide that the places no longer fit the window."""
        if not visible or self.panel.isFloating():
            return
        room = self.window.width() - self.tabs.minimumSizeHint().width() - 12
        width = max(MIN_WIDTH, min(WIDTH, room, MAX_WIDTH))
        self.window.resizeDocks([self.panel], [width], Qt.Horizontal)

    # -- starting and ending --------------------------------------------------------------------
    def offer_first_start(self, settings):
        """On the very first start only (remembered in ``settings``): offer the tour in the panel."""
        if settings.value(SETTINGS_KEY, False) in (True, "true"):
            return False
        settings.setValue(SETTINGS_KEY, True)
        self.panel.show_offer(self.data["offer"])
        return True

    def lesson_experiment(self):
        return self.lesson if self.lesson is not None else lesson_experiment(self.data)

    def start(self):
        """Put the learner's work aside, load the lesson's network, show the first step
        (or, when the tour is on already, the step it is at)."""
        if self.keepsake is None:
            self.keepsake = self.session.keepsake()
            if not self.session.load_experiment(self.lesson_experiment()):
                self.session.restore(self.keepsake)
                self.keepsake = None
                return False
            self.session.reset_weights()  # the lesson starts untrained, whatever the learner's were
            self.done = [False] * len(self.steps)
            self.go(0)
            self.panel.show_note(self.data["start"])
        else:
            self.go(max(0, self.index))
        return True

    def go(self, index):
        """Show step ``index``."""
        self.index = max(0, min(index, len(self.steps) - 1))
        self._pending_scroll = None
        step = self.step
        self.panel.show_step(self.index + 1, len(self.steps), step, self._examples(step))
        self.stepChanged.emit(self.index)
        self._state_changed()
        self._point()

    def next(self):
        if self.index >= len(self.steps) - 1:
            self.end()
        else:
            self.go(self.index + 1)

    def back(self):
        if self.index > 0:
            self.go(self.index - 1)

    def end(self):
        """The end page: offer the learner's work back."""
        self.highlight.point_at(None)
        name = self.keepsake["name"] if self.keepsake else ""
        self.panel.show_end(self.data["end"].replace("{name}", name), self.keepsake is not None)

    def restore_work(self):
        """Bring back what was put aside when the tour started, and close the panel."""
        if self.keepsake is not None:
            k, self.keepsake = self.keepsake, None
            self.session.restore(k)
        self._close("restored")

    def keep_work(self):
        """Keep the tour's network (the learner's work put aside is dropped), and close."""
        self.keepsake = None
        self._close("kept")

    def _close(self, how):
        self.highlight.point_at(None)
        self.index = -1
        self.panel.hide()
        self._watch()  # (stops watching)
        self.ended.emit(how)

    def _close_requested(self):
        page = self.panel.page
        if page == "step":
            self.end()  # first the offer of the learner's work
        elif page == "end":
            self.restore_work()  # closing without choosing keeps nothing lost
        else:
            self.panel.hide()

    def eventFilter(self, obj, e):
        if obj is self.window and e.type() == QEvent.Close and self.keepsake is not None:
            self.restore_work()  # the window asks about saving the learner's own work
        elif obj is not self.window and e.type() in _MOVES and not self._look.isActive():
            self._look.start()  # once, after a burst of moves (a scroll)
        return False

    # -- pointing -----------------------------------------------------------------------------
    def _watch(self):
        """Look again when a widget of the step (or anything it sits in) moves, shows or hides:
        the learner scrolled it into view, or another one became the one to outline."""
        for w in self._watched:
            try:
                w.removeEventFilter(self)
            except RuntimeError:  # deleted since
                pass
        self._watched = []
        step = self.step
        if step is None or not self.active:
            return
        targets = list(step["widgets"]) + ([step["done"]["visible"]] if "visible" in step["done"] else [])
        for target in targets:
            w = self.find(target)
            while w is not None and w is not self.window and w not in self._watched:
                w.installEventFilter(self)
                self._watched.append(w)
                w = w.parentWidget()

    def _look_again(self):
        if self.active:
            self._point()
            self._state_changed()

    def _point(self):
        """Outline the first of the step's widgets that is on screen, else the tab of its place."""
        self._watch()
        step = self.step
        if step is None or not self.active:
            self.highlight.point_at(None)
            return
        for target in step["widgets"]:
            w = self.find(target)
            if w is not None and not visible_rect(w, self.window).isEmpty():
                self.highlight.point_at(w)
                return
        i = self._place_index(step["place"])
        bar = self.tabs.findChild(QTabBar)
        if i >= 0 and bar is not None and self.tabs.currentIndex() != i:
            self.highlight.point_at(bar, lambda: bar.tabRect(i))
        else:
            self.highlight.point_at(None)

    @property
    def pointed_at(self):
        """The widget outlined now (None when nothing is)."""
        return self.highlight.target if self.highlight.isVisible() else None

    def _examples(self, step):
        n = step.get("examples", 0)
        if not n:
            return None
        ds = self.session.data.dataset
        images = ds.train.images[:n]
        labels = [ds.class_names[int(y)] for y in ds.train.labels[:n]]
        rows = self.session.doc.rows
        crop = rows[0]["out_sy"] if rows and rows[0] and rows[0]["out_sy"] < images.shape[1] else None
        return images, labels, crop

    # -- noticing ------------------------------------------------------------------------------------
    def _state_ok(self, done):
        if "place" in done and self.tabs.currentIndex() != self._place_index(done["place"]):
            return False
        if done.get("layer_selected") and self.session.doc.selected < 0:
            return False
        if "visible" in done and not self._on_screen(done["visible"]):
            return False
        return True

    def _mark_done(self):
        if not self.done[self.index]:
            self.done[self.index] = True
            self.stepDone.emit(self.index)
        self._show_status()

    def _show_status(self):
        step = self.step
        if self.done[self.index]:  # "Press Next", or on the last step the button's "Finish"
            self.panel.show_status(True, self.labels["done"].replace("{next}", self.panel.next_button.text()))
            return
        text = self.labels["your_turn"].replace("{try}", step["try"])
        if self.tabs.currentIndex() != self._place_index(step["place"]):
            text += " " + self.labels["elsewhere"].replace("{place}", self._place_title(step["place"]))
        self.panel.show_status(False, text)

    def _state_changed(self, *_):
        """A state the steps look at changed: check a step that needs no event."""
        if not self.active:
            return
        done = self.step["done"]
        if "event" not in done and self._state_ok(done):
            self._mark_done()
        else:
            self._show_status()

    def _event(self, name, ok=True):
        if not self.active or not ok:
            return
        done = self.step["done"]
        if done.get("event") == name and self._state_ok(done):
            self._mark_done()

    def _place_changed(self, _):
        self._state_changed()
        self._point()

    def _inspected(self, _state):
        QTimer.singleShot(0, self._after_inspected)  # once Inspect has laid out its rows
        self._event("inspected")

    def _after_inspected(self):
        if self._pending_scroll is not None:
            self._scroll_to(self._pending_scroll)
        if self.active:
            self._point()
            self._state_changed()

    def _drawing_predicted(self, result):
        self._show_confused(result)
        self._event("drawingPredicted", "probs" in result)

    def _report(self, r):
        done = self.step["done"] if self.active else {}
        self._event("report", r.get("examples_seen", 0) >= done.get("min_examples", 0))

    def _finished(self, how):
        done = self.step["done"] if self.active else {}
        ok = how == done.get("how", how)
        if done.get("schedule"):
            ok = ok and self.session.settings.schedule is not None
        self._event("finished", ok)

    def _evaluated(self, _result):
        self._event("evaluated")

    # -- Show me ------------------------------------------------------------------------------------
    def show_me(self):
        """Do the step, as a user would: through the session's and the views' own commands."""
        if not self.active:
            return
        for action in self.step["show_me"]:
            getattr(self, "_do_" + action["do"])(action)
        self._point()
        self._state_changed()

    def _do_place(self, a):
        i = self._place_index(a["place"])
        if i >= 0:
            self.tabs.setCurrentIndex(i)

    def _do_select_layer(self, a):
        self.session.doc.select(a["index"])

    def _do_inspect(self, a):
        view = self.window.findChild(QWidget, "networkView")
        view.show_example((a.get("source", "test"), a.get("index", 0)))

    def _do_scroll_to(self, a):
        target = {"name": a["name"], "index": a.get("index", 0)}
        if "first" in a:
            target["first"] = a["first"]
        if not self._scroll_to(target):
            self._pending_scroll = target  # not there yet: when Inspect's pictures come

    def _scroll_to(self, target):
        """Scroll ``target`` into view, at the top; with ``first`` (the index of an earlier widget
        of the same name), from that one down to the target when they fit together (the pool
        row under the relu row it is compared with), else the target whole at the bottom."""
        w = self.find(target)
        if w is None:
            return False
        self._pending_scroll = None
        area = w.parentWidget()
        while area is not None and not isinstance(area, QScrollArea):
            area = area.parentWidget()
        if area is not None:
            inner = area.widget()
            inner.layout().activate()
            top = w.mapTo(inner, QPoint(0, 0)).y()
            value = top - 4
            first = self.find({"name": target["name"], "index": target["first"]}) if "first" in target else None
            if first is not None:
                view = area.viewport().height()
                bottom = top + w.height()
                value = min(top - 4, max(first.mapTo(inner, QPoint(0, 0)).y() - 4, bottom - view + 4))
            area.verticalScrollBar().setValue(value)
        return True

    def _do_trained_demo(self, a):
        """The bundled trained weights of the demo network, when the lesson's network is that
        network (the tour's settings stay; another lesson network keeps its own weights)."""
        from engine.runs.snapshots import load_trained
        from workbench.tasks.opening import TRAINED_DEMO, same_network
        doc = self.session.doc
        net, _exp, _meta = load_trained(TRAINED_DEMO)
        if same_network(doc.layers, net):
            self.session.training.stop(wait=True)
            self.session.load_snapshot(net, doc.name, None, doc.layers)

    def _do_draw(self, a):
        canvas = self.window.findChild(QWidget, "drawCanvas")
        canvas.clear()
        for stroke in a["strokes"]:
            canvas.draw_stroke(stroke)

    def _do_stop(self, a):
        self.session.training.stop(wait=True)

    def _do_settings(self, a):
        s = self.session
        if "schedule" in a:
            sched = a["schedule"]
            if sched == "constant" or sched is None:
                s.set_schedule("constant")
            else:
                settings = {k: v for k, v in sched.items() if k != "kind"}
                settings.setdefault("base", None)  # from the trainer's learning rate
                s.set_schedule(sched["kind"], **settings)
        for key, value in a.get("trainer", {}).items():
            s.set_trainer_option(key, value)
        if "epochs" in a:
            s.set_epochs(a["epochs"])

    def _do_reset_weights(self, a):
        self.session.reset_weights()

    def _do_train(self, a):
        self.session.training.train()

    def _do_evaluate(self, a):
        self.window.findChild(QWidget, "evaluatePanel").evaluate()

    def _do_worst_cell(self, a):
        """When the evaluation is in, show the examples of the most frequent mistake."""
        panel = self.window.findChild(QWidget, "evaluatePanel")

        def pick(*_):
            try:
                self.session.predictions.evaluated.disconnect(later)
            except (RuntimeError, TypeError):
                pass
            matrix = (panel.last or {}).get("matrix")
            if matrix is None:
                return
            m = np.array(matrix)
            np.fill_diagonal(m, 0)
            if m.max() > 0:
                panel.select_cell(*(int(v) for v in np.unravel_index(int(np.argmax(m)), m.shape)))

        def later(*_):  # after the panel itself has taken the result
            QTimer.singleShot(0, pick)

        self.session.predictions.evaluated.connect(later)

    CANDIDATES = 12  # test digits tried as Draw sees them (~0.15 s each), the least sure first

    def _as_drawn(self, weights, image):
        """The probabilities Draw's bars would show for a test image put on the canvas (Draw
        preprocesses the canvas again: its answer can differ from the test image's), or None
        when the network does not take drawings."""
        from engine.data import network_input
        from engine.data.digits import to_mnist

        from ..views.draw.canvas import canvas_pixels
        sy, sx, depth = weights.input_shape
        if depth != 1 or sy != sx or sy > 28 or weights.loss_type == "regression":
            return None
        digit = to_mnist(canvas_pixels(image.astype(np.float32).mean(axis=2) / 255.0))
        return np.asarray(weights.forward(network_input(digit[None], weights.input_shape))).reshape(-1)

    def _do_confused_example(self, a):
        """A test digit that the current weights get wrong as Draw sees it (else the one they are
        least sure of), onto the canvas. The note says what the bars say, as they say it."""
        w = self.session.weights
        test = self.session.data.dataset.test
        if w is None or not len(test):
            return
        n = min(len(test), 2000)
        probs = w.predict(test.images[:n])
        labels = test.labels[:n]
        order = np.argsort(probs[np.arange(n), labels])[:self.CANDIDATES]  # wrong or unsure first
        pick, least = int(order[0]), 2.0
        for i in order:
            p = self._as_drawn(w, test.images[i])
            if p is None:
                break
            if int(p.argmax()) != int(labels[i]):
                pick = int(i)
                break
            if p[labels[i]] < least:
                pick, least = int(i), float(p[labels[i]])
        image = test.images[pick].astype(np.float32).mean(axis=2) / 255.0
        canvas = self.window.findChild(QWidget, "drawCanvas")
        self._confused = None
        canvas.set_image(image)
        self._confused = {"index": pick, "label": int(test.labels[pick]), "background": canvas.background}
        self._show_confused(None)

    def _show_confused(self, result):
        """The note on the test digit on the canvas, from Draw's own answer (``result``), or None
        until it comes; the note goes once the canvas shows something else."""
        c = getattr(self, "_confused", None)
        if c is None:
            return
        canvas = self.window.findChild(QWidget, "drawCanvas")
        if canvas.background is not c["background"] or canvas.strokes:
            self._confused = None
            if self.active and self.step["show_me"][-1]["do"] == "confused_example":
                self.panel.show_note("")
            return
        names = self.session.data.dataset.class_names
        text = self.labels["confused"].replace("{index}", str(c["index"])).replace("{label}", names[c["label"]])
        if result is None or "probs" not in result:
            text = text.split(":")[0] + "."  # "Test digit #144, labelled 7."
        else:
            p = np.asarray(result["probs"])
            text = (text.replace("{predicted}", names[int(p.argmax())])
                    .replace("{confidence}", f"{float(p.max()):.1%}"))  # as the bars say it
        self.panel.show_note(text)

