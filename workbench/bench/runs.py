"""Measure the window while a sweep or a race runs in the background (issue #15).

    python -m workbench.bench.runs [--what sweep|race|lrfind] [--tab runs|train]

Runs the real main window (offscreen unless a display is set) on the ConvNetJS demo
network and starts, from the Runs place, the issue's sweep (8 runs of 0.2 epochs:
``learning_rate=0.003,0.01 method=adadelta,sgd batch_size=20,50``), a race (the seven
trainers, 2 seeds, 0.05 epochs) or the learning-rate finder, and prints one JSON line:
how long it took and the event loop's lateness meanwhile (how late a 5 ms timer fires:
median, 99th percentile, max), as ``workbench.bench`` measures training.
"""
import argparse
import json
import os
import sys
import tempfile
import time


def main(argv=None):
    a = argparse.ArgumentParser(prog="python -m workbench.bench.runs", description=__doc__.split("\n\n")[0])
    a.add_argument("--what", choices=["sweep", "race", "lrfind"], default="sweep")
    a.add_argument("--tab", choices=["runs", "train"], default="runs")
    a.add_argument("--epochs", type=float, default=None, help="each run's (default 0.2; a race 0.05)")
    args = a.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from engine.data import load_mnist
    from workbench.bench import _Lateness, lateness_timer
    from workbench.views import theme
    from workbench.window.main_window import MainWindow
    app = QApplication.instance() or QApplication([])
    theme.apply(app)
    tmp = tempfile.mkdtemp(prefix="wb-runs-bench-")
    w = MainWindow(load_mnist(), settings=QSettings(os.path.join(tmp, "bench.ini"), QSettings.IniFormat))
    w.ask_to_save = False
    w.resize(1280, 800)
    w.show()
    ex = w.experiments
    place = ex.runs_place
    w.tabs.setCurrentWidget(place if args.tab == "runs" else w.train_tab)
    lateness = _Lateness()
    timer = lateness_timer(lateness)
    t0 = time.perf_counter()
    if args.what == "sweep":
        plan = [{"learning_rate": lr, "method": m, "batch_size": b}
                for lr in (0.003, 0.01) for m in ("adadelta", "sgd") for b in (20, 50)]
        place.start_sweep(plan, args.epochs or 0.2)
        busy = lambda: ex.studies.busy("sweep")  # noqa: E731
    elif args.what == "race":
        place.start_race(["sgd", "momentum", "nesterov", "adagrad", "windowgrad", "adadelta", "adam"],
                         seeds=2, epochs=args.epochs or 0.05, points=10)
        busy = lambda: ex.studies.busy("race")  # noqa: E731
    else:
        ex.lr_finder.open()
        busy = lambda: ex.studies.busy("lrfind")  # noqa: E731
    timer.start()
    while busy():
        loop = QEventLoop()
        QTimer.singleShot(200, loop.quit)
        loop.exec()
    seconds = time.perf_counter() - t0
    timer.stop()
    out = {"what": args.what, "tab": args.tab, "seconds": round(seconds, 1),
           "event_loop_lateness": {k: round(v, 2) if isinstance(v, float) else v
                                   for k, v in lateness.summary().items()}}
    if args.what == "sweep":
        out["runs"] = [{"settings": r.get("swept"), "test_accuracy": r["metrics"].get("test_accuracy")}
                       for r in w.keeper.runs()]
    w.close()
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
