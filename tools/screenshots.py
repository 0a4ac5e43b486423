"""Take the README's screenshots of the real window (offscreen): python tools/screenshots.py [W H]"""
import math
import os
import pathlib
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QEventLoop, QPointF, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "docs"
sys.path.insert(0, str(ROOT))  # this checkout's engine and workbench, whatever is installed


def run_for(app, seconds):
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def main():
    w_, h_ = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (1280, 800)
    suffix = "" if (w_, h_) == (1280, 800) else f"-{w_}x{h_}"
    app = QApplication([])
    from engine.data import load_mnist
    from workbench.views import theme
    from workbench.window.main_window import MainWindow
    theme.apply(app)
    import tempfile
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="wb-shots-"))  # settings and the session folder
    s = QSettings(str(scratch / "screenshots.ini"), QSettings.IniFormat)
    from engine.runs.experiment import preset
    demo = preset("convnetjs-demo").replace(epochs=100)  # trains on through the shots
    w = MainWindow(load_mnist(), settings=s, experiment=demo)
    w.resize(w_, h_)
    w.show()
    w.ask_to_save = False
    w.doc.select(1)
    run_for(app, 0.3)
    w.grab().save(str(OUT / f"build{suffix}.png"))
    w.tabs.setCurrentWidget(w.train_tab)
    w.session.training.train()
    run_for(app, 12)
    w.grab().save(str(OUT / f"train{suffix}.png"))
    w.tabs.setCurrentWidget(w.network_view)
    run_for(app, 2.5)
    w.grab().save(str(OUT / f"inspect{suffix}.png"))
    w.session.training.stop()
    w.files.open_trained_demo()
    w.tabs.setCurrentWidget(w.draw_panel)
    run_for(app, 0.3)
    c = w.draw_panel.canvas

    def at(fx, fy):
        side = min(c.width(), c.height())
        return QPointF((c.width() - side) / 2 + fx * side, (c.height() - side) / 2 + fy * side).toPoint()

    # a "2": an arc, a diagonal, a base line
    pts = [(0.5 + 0.22 * math.cos(a), 0.33 + 0.17 * math.sin(a)) for a in
           [math.pi * (1.05 + k / 20) for k in range(0, 25)]]
    pts += [(0.3, 0.78), (0.75, 0.78)]
    QTest.mousePress(c, Qt.LeftButton, Qt.NoModifier, at(*pts[0]))
    for (a, b), (x, y) in zip(pts[:-1], pts[1:]):
        for k in range(1, 6):
            QTest.mouseMove(c, at(a + (x - a) * k / 5, b + (y - b) * k / 5))
    QTest.mouseRelease(c, Qt.LeftButton, Qt.NoModifier, at(*pts[-1]))
    run_for(app, 0.5)
    w.grab().save(str(OUT / f"draw{suffix}.png"))
    print("predicted", w.draw_panel.bars.top_class)
    understand(app, w, suffix)
    data_place(app, w, suffix)
    runs_place(app, w, suffix)
    # the guided tour at its annealing step, once the annealed run has finished
    tour = w.guided_tour()
    tour.start()
    tour.go([st["id"] for st in tour.steps].index("anneal"))
    tour.show_me()
    for _ in range(600):
        if tour.done[tour.index]:
            break
        run_for(app, 0.5)
    run_for(app, 1.5)
    w.grab().save(str(OUT / f"tour{suffix}.png"))
    tour.restore_work()
    w.close()
    import shutil
    shutil.rmtree(scratch, ignore_errors=True)


def understand(app, w, suffix):
    """The embedding map of the trained demo, the points between the 4s and the 9s selected."""
    import numpy as np
    from PySide6.QtCore import QRectF
    place = w.map_place
    w.tabs.setCurrentWidget(place)
    place.compute()
    for _ in range(120):
        run_for(app, 0.5)
        if place.result is not None and not place.result["partial"]:
            break
    r = place.result
    c4, c9 = r["points"][r["labels"] == 4].mean(0), r["points"][r["labels"] == 9].mean(0)
    mid, span = (c4 + c9) / 2, np.abs(c4 - c9).max() * 0.35
    place.select_rect(QRectF(mid[0] - span, mid[1] - span, 2 * span, 2 * span))
    place.show_hover(int(np.argmin(((r["points"] - mid) ** 2).sum(1))))
    run_for(app, 0.3)
    w.grab().save(str(OUT / f"understand{suffix}.png"))


def write_shapes(folder, per_class=300, size=32, seed=0):
    """A small colour dataset for the Data place's shot: circles, crosses, squares and triangles
    of random colours, sizes and places, one folder per class (PNG)."""
    import numpy as np
    from PIL import Image, ImageDraw
    rng = np.random.default_rng(seed)
    for name in ("circle", "cross", "square", "triangle"):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            bg = tuple(int(v) for v in rng.integers(0, 90, 3))
            fg = tuple(int(v) for v in rng.integers(120, 256, 3))
            im = Image.new("RGB", (size, size), bg)
            d = ImageDraw.Draw(im)
            r = int(rng.integers(6, 13))
            cx, cy = (int(v) for v in rng.integers(r + 1, size - r - 1, 2))
            if name == "circle":
                d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fg)
            elif name == "square":
                d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fg)
            elif name == "triangle":
                d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fg)
            else:
                d.rectangle([cx - r, cy - r // 3, cx + r, cy + r // 3], fill=fg)
                d.rectangle([cx - r // 3, cy - r, cx + r // 3, cy + r], fill=fg)
            im.save(folder / name / f"{i:04d}.png")
    return folder


def data_place(app, w, suffix):
    """The Data place on a small colour dataset, loaded through the dataset box; then MNIST again."""
    import shutil
    import tempfile
    s = w.session
    folder = pathlib.Path(tempfile.gettempdir()) / "datasets" / "shapes"
    shutil.rmtree(folder, ignore_errors=True)
    write_shapes(folder)
    w.tabs.setCurrentWidget(w.train_tab)
    w.data_box.open(str(folder))
    while s.data.busy:
        run_for(app, 0.1)
    w.tabs.setCurrentWidget(w.dataset_view)
    for _ in range(60):
        run_for(app, 0.25)
        if w.dataset_view.overview is not None and w.dataset_view.overview["version"] == s.data.version:
            break
    run_for(app, 0.3)
    w.grab().save(str(OUT / f"data{suffix}.png"))
    s.open_dataset(None)
    while s.data.busy:
        run_for(app, 0.1)


def runs_place(app, w, suffix):
    """The Runs place: a small sweep of method and width (its parallel coordinates and its
    accuracy against cost), then a race of three trainers."""
    place = w.experiments.runs_place
    studies = w.experiments.studies
    w.tabs.setCurrentWidget(place)
    plan = [{"method": m, "layers.1.filters": f} for m in ("sgd", "adadelta") for f in (4, 8, 16)]
    place.start_sweep(plan, 0.05)
    while studies.busy("sweep"):
        run_for(app, 0.25)
    ids = [r["id"] for r in w.keeper.runs() if r.get("swept")]
    place.table.select_ids(ids)
    for run_id in ids:
        w.keeper.set_checked(run_id, True)
    place.pages.setCurrentWidget(place.sweep_plots)
    run_for(app, 0.5)
    w.grab().save(str(OUT / f"runs{suffix}.png"))
    place.start_race(["sgd", "momentum", "adadelta"], seeds=2, epochs=0.05, points=10)
    while studies.busy("race"):
        run_for(app, 0.25)
    place.pages.setCurrentWidget(place.race_view)
    run_for(app, 0.5)
    w.grab().save(str(OUT / f"race{suffix}.png"))
    for run_id in ids:  # the next shots show the live run alone
        w.keeper.set_checked(run_id, False)


if __name__ == "__main__":
    main()
