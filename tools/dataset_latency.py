"""How the window responds while a folder of PNG files loads through the dataset box.

    python tools/dataset_latency.py [--files 10000] [--runs 3] [--place train|data] [--folder DIR]

Writes (once, then reuses) a folder of 32x32 RGB PNG files, one folder per class, opens the
real main window offscreen, and loads the folder through the Train tab's dataset box as a
user does, while a 5 ms timer measures how late the event loop runs it (median, 99th
percentile, max) from the click until a second after the dataset is in use. Prints one JSON
line per run. Issue #12 asks for a p99 under 50 ms.
"""
import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's engine and workbench, whatever is installed


def write_pngs(folder, n, classes=10, size=32, seed=0):
    """``n`` PNG files of ``size`` x ``size`` RGB in ``classes`` folders (kept when already there)."""
    import numpy as np
    from PIL import Image
    folder = pathlib.Path(folder)
    done = folder / ".complete"
    if done.exists() and done.read_text() == str(n):
        return folder
    rng = np.random.default_rng(seed)
    for i in range(n):
        c = i % classes
        d = folder / f"class{c}"
        d.mkdir(parents=True, exist_ok=True)
        img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        img[size // 4:3 * size // 4, size // 4:3 * size // 4] = (25 * c, 255 - 25 * c, 128)
        Image.fromarray(img).save(d / f"{i:05d}.png")
    done.write_text(str(n))
    return folder


def measure(folder, place="train", tick_ms=5, after_s=1.0, timeout_s=300):
    """Load ``folder`` through the dataset box of a fresh window; the event loop's lateness."""
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from engine.data import load_mnist
    from workbench.bench import _Lateness
    from workbench.views import theme
    from workbench.views.data import dialogs
    from workbench.views.data.box import OPEN
    from workbench.window.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    theme.apply(app)
    ini = pathlib.Path(tempfile.mkdtemp()) / "settings.ini"
    w = MainWindow(load_mnist(), settings=QSettings(str(ini), QSettings.IniFormat))
    w.ask_to_save = False
    w.resize(1280, 800)
    w.show()
    w.tabs.setCurrentWidget(w.dataset_view if place == "data" else w.train_tab)
    loop = QEventLoop()
    QTimer.singleShot(300, loop.quit)
    loop.exec()

    late = _Lateness(skip=0)
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick():
        now = clock.nsecsElapsed()
        late.add((now - last[0]) / 1e6 - tick_ms)
        last[0] = now

    timer = QTimer()
    timer.setInterval(tick_ms)
    timer.timeout.connect(tick)
    s = w.session
    state = {"t0": None, "t1": None, "progress": 0}
    s.data.progress.connect(lambda f: state.update(progress=state["progress"] + 1))
    s.data.changed.connect(lambda: state.update(t1=time.perf_counter()))
    s.data.failed.connect(lambda info: state.update(failed=info["message"]))
    dialogs.ask_dataset_path = lambda parent, start="": str(folder)
    timer.start()
    last[0] = clock.nsecsElapsed()
    state["t0"] = time.perf_counter()
    combo = w.data_box.combo
    combo.activated.emit(combo.findData(OPEN))  # "Open dataset…", as a user picks it
    deadline = time.perf_counter() + timeout_s
    while state["t1"] is None and "failed" not in state and time.perf_counter() < deadline:
        app.processEvents(QEventLoop.WaitForMoreEvents, 50)
    end = time.perf_counter() + after_s
    while time.perf_counter() < end:
        app.processEvents(QEventLoop.WaitForMoreEvents, 50)
    timer.stop()
    ds = s.data.dataset
    out = {"files": len(ds.train) + len(ds.test), "place": place,
           "load_s": round((state["t1"] or float("nan")) - state["t0"], 2),
           "progress_signals": state["progress"], "failed": state.get("failed")}
    out.update({k: round(v, 2) if isinstance(v, float) else v for k, v in late.summary().items()})
    s.shutdown()
    w.close()
    w.deleteLater()
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=10000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--place", choices=("train", "data"), default="train")
    p.add_argument("--folder", help="where the PNG files are written (default: a folder in the temp dir)")
    a = p.parse_args(argv)
    folder = pathlib.Path(a.folder or pathlib.Path(tempfile.gettempdir()) / f"workbench-pngs-{a.files}")
    t = time.perf_counter()
    write_pngs(folder, a.files)
    print(json.dumps({"folder": str(folder), "write_s": round(time.perf_counter() - t, 1)}), flush=True)
    for _ in range(a.runs):
        print(json.dumps(measure(folder, a.place)), flush=True)


if __name__ == "__main__":
    main()
