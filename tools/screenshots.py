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
    from workbench import theme
    from workbench.main_window import MainWindow
    theme.apply(app)
    s = QSettings(str(OUT / ".screenshots.ini"), QSettings.IniFormat)
    s.clear()
    from engine.experiment import preset
    demo = preset("convnetjs-demo").replace(epochs=100)  # trains on through the shots
    w = MainWindow(load_mnist(), settings=s, experiment=demo)
    w.resize(w_, h_)
    w.show()
    w.ask_to_save = False
    w.doc.select(1)
    run_for(app, 0.3)
    w.grab().save(str(OUT / f"build{suffix}.png"))
    w.tabs.setCurrentWidget(w.train_tab)
    w.session.train()
    run_for(app, 12)
    w.grab().save(str(OUT / f"train{suffix}.png"))
    w.tabs.setCurrentWidget(w.network_view)
    run_for(app, 2.5)
    w.grab().save(str(OUT / f"inspect{suffix}.png"))
    w.session.stop()
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
    (OUT / ".screenshots.ini").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
