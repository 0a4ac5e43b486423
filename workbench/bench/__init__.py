"""Measure the app while it trains: event-loop stalls and throughput against headless.

    python -m workbench.bench [--seconds 20] [--batch-size 20] [--tab train]

Runs the real main window (offscreen unless a display is set), trains the ConvNetJS
demo network, and prints JSON lines: the engine's headless examples/s on the same
data and batch size, the examples/s with the GUI open, their ratio, and the event
loop's stalls (how late a 5 ms timer fires: median, 99th percentile, max). Also the
cost of one live prediction while drawing.
"""
import argparse
import json
import os
import sys
import time


def _rss_mb(pid="self"):
    """Resident memory now (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except OSError:
        if pid != "self":
            return 0.0
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _workers_rss_mb():
    """Resident memory of the engine's worker processes, which train part of each batch."""
    from engine.core.execution import processes as workers
    return sum(_rss_mb(pid) for pid in workers.pids())


class _Lateness:
    """How late a periodic timer fires, kept as a histogram of 0.05 ms bins (constant memory)."""

    BIN_MS = 0.05

    def __init__(self, max_ms=10000.0, skip=5):
        import numpy as np
        self.counts = np.zeros(int(max_ms / self.BIN_MS) + 1, dtype=np.int64)
        self.max = 0.0
        self.skip = skip  # the first ticks include start-up

    def add(self, ms):
        if self.skip:
            self.skip -= 1
            return
        ms = max(0.0, ms)
        self.max = max(self.max, ms)
        self.counts[min(int(ms / self.BIN_MS), len(self.counts) - 1)] += 1

    def percentile(self, q):
        import numpy as np
        total = int(self.counts.sum())
        if not total:
            return 0.0
        i = int(np.searchsorted(np.cumsum(self.counts), q / 100 * total))
        return min(self.max, (i + 0.5) * self.BIN_MS)

    def summary(self):
        return {"median_ms": self.percentile(50), "p99_ms": self.percentile(99),
                "max_ms": self.max, "ticks": int(self.counts.sum())}


def lateness_timer(lateness, interval_ms=5):
    """A QTimer (not started) that adds to ``lateness`` how late each of its ticks fires
    after the last one: the event loop's lateness, as every bench here measures it."""
    from PySide6.QtCore import QElapsedTimer, QTimer
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick():
        now = clock.nsecsElapsed()
        lateness.add((now - last[0]) / 1e6 - interval_ms)
        last[0] = now

    timer = QTimer()
    timer.setInterval(interval_ms)
    timer.timeout.connect(tick)
    return timer


def headless(dataset, batch, seconds):
    import engine
    from engine.core.execution import processes as workers
    from engine.data import split_validation
    from engine.runs.presets import load_preset
    from engine.runs.run import Run
    workers.warm_up()  # as the GUI run below, which starts after this one
    p = load_preset("convnetjs-demo")
    net = engine.Net(p["layer_defs"], seed=0)
    trainer = engine.Trainer(net, **dict(p["trainer"], batch_size=batch))
    train, val = split_validation(dataset.train, 5000, seed=0)
    run = Run(trainer, train, val, dataset.test, chunk_seconds=0.1, eval_every=10000, eval_examples=1000)
    t0 = time.perf_counter()
    for _r in run.reports():
        if time.perf_counter() - t0 >= seconds:
            run.stop()
    return run.examples_seen / (time.perf_counter() - t0)


def gui(dataset, batch, seconds, tab):
    import numpy as np
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from workbench.views import theme
    from workbench.window.main_window import MainWindow
    app = QApplication.instance() or QApplication([])
    theme.apply(app)
    settings = QSettings(os.path.join(os.environ.get("TMPDIR", "/tmp"), "wb-bench.ini"), QSettings.IniFormat)
    settings.clear()
    w = MainWindow(dataset, settings=settings)
    w.resize(1280, 800)
    w.show()
    s = w.session
    s.set_trainer_option("batch_size", batch)
    s.set_epochs(10000)  # the run must outlast the measurement
    w.tabs.setCurrentIndex({"build": 0, "train": 1, "inspect": 2, "draw": 3}[tab])
    lateness = _Lateness()  # a fixed histogram: a growing list would itself leak ~0.4 MB/min
    rss = []  # (seconds, MB) sampled every 5 s: memory must stay flat over a long run
    rss_timer = QTimer()
    rss_timer.setInterval(5000)
    rss_timer.timeout.connect(lambda: rss.append((time.perf_counter() - t_start, _rss_mb(),
                                                  _workers_rss_mb())))
    timer = lateness_timer(lateness)
    s.training.train()
    t_start = time.perf_counter()
    seen0 = s.examples_seen
    timer.start()
    rss_timer.start()
    loop = QEventLoop()  # a real event loop: idle time is spent waiting, not polling
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    timer.stop()
    rss_timer.stop()
    elapsed = time.perf_counter() - t_start
    seen = s.examples_seen - seen0
    w.ask_to_save = False
    w.close()
    mem = {}
    if len(rss) >= 3:
        later = rss[len(rss) // 3:]  # after warm-up
        t, m, wm = np.array(later).T
        mem = {"rss_mb_first": round(rss[0][1], 1), "rss_mb_last": round(rss[-1][1], 1),
               "rss_growth_mb_per_min_after_warmup": round(float(np.polyfit(t / 60, m, 1)[0]), 2),
               "workers_rss_mb_first": round(rss[0][2], 1), "workers_rss_mb_last": round(rss[-1][2], 1),
               "workers_growth_mb_per_min_after_warmup": round(float(np.polyfit(t / 60, wm, 1)[0]), 2)}
    return seen / elapsed, lateness.summary(), mem


def draw_cost(dataset, repeats=200):
    """One live prediction as Draw makes it: to_mnist, then the Draw job on published weights."""
    import numpy as np

    from engine.data.digits import resize, to_mnist
    from engine.runs.experiment import preset
    from workbench.state.jobs import TaskState, predict_digit
    from workbench.state.weights import Weights
    weights = Weights(preset("convnetjs-demo").build_net(seed=0))
    canvas = np.clip(resize(dataset.test.images[0, :, :, 0] / 255.0, 280, 280), 0, 1)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        predict_digit(TaskState(), weights, to_mnist(canvas))
        times.append((time.perf_counter() - t) * 1000)
    return {"median_ms": float(np.median(times)), "p99_ms": float(np.percentile(times, 99))}


def main(argv=None):
    a = argparse.ArgumentParser(prog="python -m workbench.bench", description=__doc__.split("\n\n")[0])
    a.add_argument("--seconds", type=float, default=20)
    a.add_argument("--batch-size", type=int, default=20)
    a.add_argument("--headless-seconds", type=float, help="default: --seconds")
    a.add_argument("--tab", choices=["build", "train", "inspect", "draw"], default="train")
    args = a.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from engine.data import load_mnist
    ds = load_mnist()
    h = headless(ds, args.batch_size, args.headless_seconds or args.seconds)
    print(json.dumps({"what": "headless", "batch_size": args.batch_size, "examples_per_second": round(h, 1)}), flush=True)
    g, stalls, mem = gui(ds, args.batch_size, args.seconds, args.tab)
    print(json.dumps({"what": "gui", "tab": args.tab, "batch_size": args.batch_size,
                      "examples_per_second": round(g, 1), "ratio_to_headless": round(g / h, 3),
                      "event_loop_lateness": {k: round(v, 2) if isinstance(v, float) else v
                                              for k, v in stalls.items()}, "memory": mem}), flush=True)
    print(json.dumps({"what": "draw_prediction", **{k: round(v, 3) for k, v in draw_cost(ds).items()}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
