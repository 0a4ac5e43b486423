"""Measure the window while it explains, makes unit images, maps and evaluates, with or without training.

    python -m workbench.bench.understand [--seconds 10] [--no-training] [--phases draw,units,map,evaluate]

Runs the real main window (offscreen unless a display is set) with the trained demo
network. With training (the default), the network trains on (batch 20) through every
phase, as a user would leave it running. Each phase runs one kind of work for
``--seconds`` while a 5 ms timer measures how late the event loop is (median, 99th
percentile, max), and prints a JSON line with what the work itself achieved:

- ``baseline``: nothing but the window (and the training run): what the rest is compared with;
- ``draw_off``: the pen below without an overlay;
- ``draw_<method>``: a pen drawing digits on Draw's canvas (a move every 16 ms, a new
  digit every 60 moves) with that explanation overlay on: overlays shown per second and
  the explanation's own time (median, 99th percentile);
- ``inspect_explain``: Inspect's example changing every 150 ms, explained by occlusion
  (``inspect_off``: the same with the Explain panel hidden);
- ``units``: unit images for the classes and for the second conv's filters, one after the other;
- ``map``: t-SNE of 2,000 test images (the layout drawn as it forms), again and again;
- ``evaluate``: the whole test set evaluated, the confused examples' gallery filled, again and again.
"""
import argparse
import json
import math
import os
import sys
import time

from workbench.bench import _Lateness, lateness_timer

PHASES = ("baseline", "draw_off", "draw_saliency", "draw_gradient_x_input", "draw_occlusion", "draw_grad_cam", "inspect_off", "inspect_explain",
          "units", "map", "evaluate")


def _digit_path(k):
    """The k-th point of a pen going round digit-like loops (fractions of the canvas)."""
    digit, step = divmod(k, 60)
    t = step / 59
    if digit % 3 == 0:   # a "0"
        a = 2 * math.pi * t
        return 0.5 + 0.2 * math.sin(a), 0.5 - 0.3 * math.cos(a)
    if digit % 3 == 1:   # a "7"
        return (0.3 + 0.8 * t, 0.2) if t < 0.5 else (0.7 - 0.4 * (t - 0.5), 0.2 + 1.3 * (t - 0.5))
    a = math.pi * (1.1 + 1.3 * t)  # a "2"-ish arc
    return 0.5 + 0.22 * math.cos(a), 0.45 + 0.3 * math.sin(a)


class Pen:
    """Draws on the canvas from a timer, as a hand would: press, move every 16 ms, release, clear."""

    def __init__(self, canvas):
        from PySide6.QtCore import QTimer
        self.canvas = canvas
        self.k = 0
        self.timer = QTimer()
        self.timer.setInterval(16)
        self.timer.timeout.connect(self.step)

    def at(self, fx, fy):
        from PySide6.QtCore import QPointF
        c = self.canvas
        side = min(c.width(), c.height())
        return QPointF((c.width() - side) / 2 + fx * side, (c.height() - side) / 2 + fy * side).toPoint()

    def step(self):
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest
        step = self.k % 60
        pos = self.at(*_digit_path(self.k))
        if step == 0:
            self.canvas.clear()
            QTest.mousePress(self.canvas, Qt.LeftButton, Qt.NoModifier, pos)
        elif step == 59:
            QTest.mouseRelease(self.canvas, Qt.LeftButton, Qt.NoModifier, pos)
        else:
            QTest.mouseMove(self.canvas, pos)
        self.k += 1


def _run(seconds, lateness):
    from PySide6.QtCore import QEventLoop, QTimer
    timer = lateness_timer(lateness)
    timer.start()
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    timer.stop()


def _pct(values, q):
    import numpy as np
    return round(float(np.percentile(values, q)), 2) if values else None


def phase(w, name, seconds):
    """Run one phase; returns what it achieved (the lateness is measured by the caller)."""
    from PySide6.QtCore import QTimer
    s, u = w.session, w.session.understanding
    out = {}
    if name == "baseline":
        yield
    elif name.startswith("draw_"):
        method = None if name == "draw_off" else name[len("draw_"):]
        w.tabs.setCurrentWidget(w.draw_panel)
        ex = w.draw_panel.explanation
        ex.controls.set_method(method)
        times = []
        u.explained.connect(lambda r: r["key"] == "draw" and times.append(r["ms"]))
        pen = Pen(w.draw_panel.canvas)
        start = ex.updates
        pen.timer.start()
        yield
        pen.timer.stop()
        ex.controls.set_method(None)
        out = {"overlays_per_second": round((ex.updates - start) / seconds, 1),
               "explanation_ms_median": _pct(times, 50), "explanation_ms_p99": _pct(times, 99)}
    elif name in ("inspect_explain", "inspect_off"):
        w.tabs.setCurrentWidget(w.network_view)
        panel = w.network_view.side.explain
        w.network_view.side.setCurrentWidget(panel if name == "inspect_explain" else w.network_view.side.units)
        panel.controls.set_method(os.environ.get("UB_METHOD", "occlusion"))
        times = []
        u.explained.connect(lambda r: r["key"] == "inspect" and times.append(r["ms"]))
        k = [0]

        def next_example():
            k[0] += 1
            w.network_view.show_example(("test", k[0]))

        t = QTimer()
        t.setInterval(150)
        t.timeout.connect(next_example)
        t.start()
        yield
        t.stop()
        out = {"explained": len(times), "explanation_ms_median": _pct(times, 50),
               "explanation_ms_p99": _pct(times, 99)}
    elif name == "units":
        w.tabs.setCurrentWidget(w.network_view)
        side = w.network_view.side
        side.setCurrentWidget(side.units)
        made = []
        layers = [None, [l["index"] for l in s.weights.layers if l["type"] == "conv"][-1]]

        def again(r=None):
            if r is not None:
                made.append(r["seconds"])
            u.make_unit_images(layers[len(made) % 2])

        u.unitImages.connect(again)
        again()
        yield
        u.unitImages.disconnect(again)
        u.cancel_unit_images()
        out = {"grids_made": len(made), "seconds_median": _pct(made, 50)}
    elif name == "map":
        place = w.map_place
        w.tabs.setCurrentWidget(place)
        place.count.setValue(2000)
        place.method_box.setCurrentIndex(place.method_box.findData("tsne"))
        done = []

        def again(r=None):
            if r is not None:
                done.append(r["seconds"])
            place.compute()

        u.embedded.connect(again)
        again()
        yield
        u.embedded.disconnect(again)
        u.cancel_embedding()
        out = {"maps_made": len(done), "tsne_seconds": [round(x, 2) for x in done]}
    elif name == "evaluate":
        ev = w.evaluate
        w.tabs.setCurrentWidget(ev)
        done = []

        def again(r=None):
            if r is not None:
                done.append(r)
                ev.select_cell(4, 9)
            ev.evaluate()

        s.predictions.evaluated.connect(again)
        again()
        yield
        s.predictions.evaluated.disconnect(again)
        s.predictions.cancel_evaluation()
        out = {"evaluations": len(done)}
    yield out


def main(argv=None):
    a = argparse.ArgumentParser(prog="python -m workbench.bench.understand", description=__doc__.split("\n\n")[0])
    a.add_argument("--seconds", type=float, default=10)
    a.add_argument("--no-training", action="store_true")
    a.add_argument("--phases", default=",".join(PHASES))
    args = a.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from engine.data import load_mnist
    from workbench.views import theme
    from workbench.window.main_window import MainWindow
    app = QApplication.instance() or QApplication([])
    theme.apply(app)
    settings = QSettings(os.path.join(os.environ.get("TMPDIR", "/tmp"), "wb-understand-bench.ini"),
                         QSettings.IniFormat)
    settings.clear()
    w = MainWindow(load_mnist(), settings=settings)
    w.ask_to_save = False
    w.resize(1280, 800)
    w.show()
    s = w.session
    w.files.open_trained_demo()
    training = not args.no_training
    if training:
        s.set_trainer_option("batch_size", 20)
        s.set_epochs(10000)
        s.training.train()
    _run(1.0, _Lateness())  # warm up
    for name in args.phases.split(","):
        lateness = _Lateness(skip=2)
        seen0, t0 = s.examples_seen, time.perf_counter()
        work = phase(w, name, args.seconds)
        next(work)
        _run(args.seconds, lateness)
        out = next(work)
        line = {"what": name, "training": training, "seconds": args.seconds,
                "event_loop_lateness": {k: round(v, 2) if isinstance(v, float) else v
                                        for k, v in lateness.summary().items()}, **out}
        if training:
            line["training_examples_per_second"] = round((s.examples_seen - seen0) / (time.perf_counter() - t0))
        print(json.dumps(line), flush=True)
        _run(0.5, _Lateness())  # let the phase's last job end
    s.shutdown()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
