"""Python's cyclic garbage collector, run on the GUI thread only.

A Qt object that ends up in cyclic garbage (a plot item taken off its plot, a closed
window whose lambdas refer to it) is destroyed by whichever thread's allocation happens
to start a collection. When that is a training or job thread, the C++ destructor takes
Qt's locks and then waits for the GIL, while the GUI thread, holding the GIL, waits for
those locks: the window hangs for good. (Seen in the test suite: a closed window's
widgets and a pyqtgraph item collected on the training thread; gdb showed the two
threads waiting on each other.) So automatic collection is switched off and a timer on
the GUI thread collects instead, generation by generation as Python itself would (the
recipe PyQt users know). Reference counting still frees everything not in a cycle at
once, on any thread; only cycles wait for the next tick.
"""
import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

INTERVAL_MS = 250
_collector = None


class GuiThreadCollector(QObject):
    """Collects cyclic garbage on the thread it lives on (the GUI thread), every ``interval_ms``."""

    def __init__(self, parent, interval_ms=INTERVAL_MS):
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.collect)
        self.timer.start()
        gc.disable()

    @staticmethod
    def collect():
        """One collection of the oldest generation whose count passed its threshold (as the
        automatic collector does on allocation)."""
        counts, limits = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if counts[generation] > limits[generation]:
                gc.collect(generation)
                return generation
        return None


def collect_on_gui_thread():
    """Switch automatic collection off and collect on the GUI thread instead (once per
    application; needs a QCoreApplication)."""
    global _collector
    app = QCoreApplication.instance()
    if app is None:
        return None
    try:
        alive = _collector is not None and _collector.parent() is app
    except RuntimeError:  # the application it belonged to is gone
        alive = False
    if not alive:
        gc.collect()
        gc.freeze()  # what exists now (modules, the data) is never garbage: not scanned again
        _collector = GuiThreadCollector(app)
    return _collector
