"""Background work: a job sees a state object and its inputs, and gives back plain data.

The habit is Orange's ``ConcurrentMixin``/``TaskState``: a task is a plain function
``task(state, *inputs)`` run on a worker thread. Its inputs are published
``Weights`` (an immutable copy, never the network being trained) and numpy
arrays; it checks ``state`` for cancellation, may report progress, and returns
numpy arrays and dicts. ``Job`` runs one kind of task at a time and hands the
result to the GUI thread as a signal. ``TrainingJob`` runs the engine's ``Run``.

The tasks themselves (``inspect_example``, ``predict_digit``, ``sample_predictions``,
``evaluate``) need no Qt and are tested on their own.
"""
import logging
import threading
import time

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.core.errors import Cancelled, EngineError
from engine.core.tasks import Reporter
from engine.data import confusion_matrix, network_input
from workbench.tasks.viz import network_state

log = logging.getLogger(__name__)


class TaskState:
    """What a running task may see of the world: whether it is cancelled, and where to report progress.

    Its ``check`` raises the engine's ``Cancelled`` (``engine.errors``), the one exception for
    "stopped because asked to" in the engine and the app; ``reporter()`` hands its progress and
    cancel check to an engine computation (``engine.tasks.Reporter``)."""

    def __init__(self, on_progress=None, on_partial=None):
        self._cancelled = threading.Event()
        self._on_progress = on_progress
        self._on_partial = on_partial

    def cancel(self):
        self._cancelled.set()

    @property
    def cancelled(self):
        return self._cancelled.is_set()

    def check(self):
        """Stop here (raise ``Cancelled``) if the task was cancelled."""
        if self._cancelled.is_set():
            raise Cancelled()

    def reporter(self, start=0.0, span=1.0):
        """The engine's progress/cancel protocol for this task (``progress(fraction)``, ``cancelled()``)."""
        return Reporter(self.set_progress, lambda: self._cancelled.is_set(), start, span)

    def set_progress(self, fraction):
        if self._on_progress is not None:
            self._on_progress(float(fraction))

    def set_partial(self, result):
        """Hand out a result so far (plain data: a t-SNE layout as it forms)."""
        if self._on_partial is not None:
            self._on_partial(result)


def _emit(signal, *args):
    """Emit from a worker thread; the receiver may be gone when the app is closing."""
    try:
        signal.emit(*args)
    except RuntimeError:  # its C++ object was deleted
        pass


class _Relay(QObject):
    # Lives on the GUI thread: a signal emitted from a worker thread arrives queued.
    done = Signal(int, object)
    failed = Signal(int, str)
    progress = Signal(int, float)
    partial = Signal(int, object)


class Job(QObject):
    """Runs one kind of task on its own thread, one at a time; results arrive as signals.

    ``start(task, *inputs)`` while a task runs queues the request: only the newest
    waits, and starts when the running one ends. So a fast producer (a pen moving,
    weights published every second) never piles up work, and every result that
    arrives is for a request newer than the last one shown. ``cancel`` drops the
    running task's result and any queued request.

    Signals
    -------
    done(object) : the task's result
    failed(str) : the task raised (an engine error's message, or the exception)
    progress(float) : what the task reported, 0..1
    partial(object) : a result so far that the task handed out (``TaskState.set_partial``)
    busyChanged(bool)
    """

    done = Signal(object)
    failed = Signal(str)
    progress = Signal(float)
    partial = Signal(object)
    busyChanged = Signal(bool)

    def __init__(self, name, parent=None):
        super().__init__(parent)
        self.name = name
        self._serial = 0
        self._thread = None
        self._state = None
        self._pending = None
        self._relay = _Relay(self)
        self._relay.done.connect(self._finished)
        self._relay.failed.connect(self._failed)
        self._relay.progress.connect(self._progress)
        self._relay.partial.connect(self._partial)

    @property
    def busy(self):
        """A task is running or waiting."""
        return self._thread is not None

    def start(self, task, *inputs):
        if self._thread is not None:
            self._pending = (task, inputs)
            return
        self._launch(task, inputs)
        self.busyChanged.emit(True)

    def cancel(self):
        self._pending = None
        if self._state is not None:
            self._state.cancel()

    def wait(self, timeout=None):
        """Block until the running task's thread ends (its result still arrives as a signal)."""
        t = self._thread
        if t is not None:
            t.join(timeout)
        return t is None or not t.is_alive()

    def shutdown(self, timeout=5.0):
        self.cancel()
        self.wait(timeout)

    def _launch(self, task, inputs):
        self._serial += 1
        serial = self._serial
        relay = self._relay
        state = TaskState(lambda f: _emit(relay.progress, serial, f),
                          lambda r: _emit(relay.partial, serial, r))

        def work():
            try:
                result = task(state, *inputs)
            except Cancelled:
                _emit(relay.done, serial, None)
            except EngineError as e:
                log.info("job %s: %s", self.name, e)
                _emit(relay.failed, serial, str(e))
            except Exception as e:  # a bug must be shown, not lost in a thread
                log.exception("job %s failed", self.name)  # its traceback, in the log file
                _emit(relay.failed, serial, f"{type(e).__name__}: {e}")
            else:
                _emit(relay.done, serial, result)

        self._state = state
        self._thread = threading.Thread(target=work, name=f"job-{self.name}", daemon=True)
        self._thread.start()

    def _end(self, serial):
        """Task ``serial`` ended: start the queued request. ``(wanted, idle)``: is its result
        wanted (not stale, not cancelled), and is nothing else running now."""
        if serial != self._serial:
            return False, False
        wanted = not self._state.cancelled
        self._thread = self._state = None
        if self._pending is not None:
            task, inputs = self._pending
            self._pending = None
            self._launch(task, inputs)
            return wanted, False
        return wanted, True

    def _finished(self, serial, result):
        wanted, idle = self._end(serial)
        if wanted and result is not None:
            self.done.emit(result)
        if idle:
            self.busyChanged.emit(False)

    def _failed(self, serial, message):
        wanted, idle = self._end(serial)
        if wanted:
            self.failed.emit(message)
        if idle:
            self.busyChanged.emit(False)

    def _progress(self, serial, fraction):
        if serial == self._serial and self._state is not None and not self._state.cancelled:
            self.progress.emit(fraction)

    def _partial(self, serial, result):
        if serial == self._serial and self._state is not None and not self._state.cancelled:
            self.partial.emit(result)


class TrainingJob(QObject):
    """Runs an engine ``Run`` on its own thread.

    Between chunks of batches (the only moments the network is consistent) the
    training thread reports, and about every ``publish_every`` seconds it calls
    ``capture(examples_seen)`` to make published ``Weights``; both arrive on the
    GUI thread as signals. Pause, step and stop go straight to the ``Run``, which
    honours them between batches.

    Signals
    -------
    report(dict) : the Run's progress/eval/done/stopped/diverged reports
    weights(object) : Weights captured on the training thread
    finished(str) : "done", "stopped", "diverged", "not learning" or "error: ..."
    """

    report = Signal(dict)
    weights = Signal(object)
    finished = Signal(str)

    def __init__(self, run, capture, publish_every=1.0, parent=None, reports=None):
        super().__init__(parent)
        self.run = run
        # what to iterate: the Run's reports, or those of an engine Training around it
        self._reports = reports if reports is not None else run.reports
        self._capture = capture
        self.publish_every = publish_every
        self._thread = threading.Thread(target=self._work, name="training", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self, wait=True, timeout=None):
        """Ask the run to stop between batches; with ``wait``, join the thread (for at most
        ``timeout`` seconds: then ``alive`` says whether it ended)."""
        self.run.stop()
        if wait:
            self._thread.join(timeout)

    @property
    def alive(self):
        return self._thread.is_alive()

    def _work(self):
        end = "done"
        last = time.monotonic()
        try:
            for r in self._reports():
                _emit(self.report, r)
                if r["tag"] in ("diverged", "stopped"):
                    end = r["tag"]
                elif r.get("not_learning"):
                    end = "not learning"
                now = time.monotonic()
                if now - last >= self.publish_every:
                    last = now
                    _emit(self.weights, self._capture(self.run.examples_seen))
        except Exception as e:  # a bug or bad data must not kill the app silently
            log.exception("training failed")
            end = f"error: {e}"
        _emit(self.finished, end)


# -- tasks: plain functions of (state, inputs) returning plain data ---------------------------

def inspect_example(state, weights, pixels, label, source):
    """Inspect's pictures of one example (stored pixels ``(H, W, C)`` uint8 or a drawn 28x28 float digit)."""
    state.check()
    x = network_input(pixels[None], weights.input_shape)
    return network_state(weights, x, label, source)


NO_NETWORK = ("There is no trained network to ask yet: press Train (a few seconds is enough), "
              "open a snapshot, or use the trained demo network.")


def predict_digit(state, weights, digit, preprocess_ms=0.0):
    """Draw's answer for a drawn digit (28x28 floats in [0, 1]): probabilities, or why there are none.

    Returns a dict with ``probs`` (or ``message``), ``crop`` (the input size when
    the network sees a centre crop), ``ms`` (preprocess + predict), ``untrained``,
    and what the answer was made from: ``weights``, ``version`` and ``input``.
    """
    t0 = time.perf_counter()
    out = {"crop": None, "untrained": weights.untrained, "version": weights.version, "weights": weights}
    sy, sx, depth = weights.input_shape
    if sy == sx and sy < digit.shape[0]:
        out["crop"] = sy
    if depth != 1:
        out["message"] = (f"This network takes {depth}-channel images; a drawing has one channel. "
                          f"Use a network whose input depth is 1.")
    elif sy != sx or sy > digit.shape[0]:
        out["message"] = (f"This network's input is {sx}x{sy}; drawings become 28x28 digits. "
                          f"Use an input of at most 28x28, square.")
    elif weights.loss_type == "regression":
        out["message"] = "This network does regression, not classification."
    else:
        state.check()
        x = out["input"] = network_input(digit[None], weights.input_shape)
        out["probs"] = np.array(weights.forward(x).reshape(-1), dtype=np.float32)
    out["ms"] = preprocess_ms + (time.perf_counter() - t0) * 1000
    return out


def sample_predictions(state, weights, images, labels, examples_seen=0):
    """The gallery's stream: test images with their predicted probabilities."""
    state.check()
    probs = weights.predict(images, state=state)
    return {"images": images.copy(), "labels": labels.copy(),
            "probs": probs.astype(np.float32), "examples_seen": examples_seen}


def evaluate(state, weights, images, labels, crop_count=1):
    """Test accuracy and confusion matrix of ``weights`` on ``images``/``labels``."""
    probs = weights.predict(images, crop_count=crop_count, state=state)
    pred = probs.argmax(axis=1)
    k = max(probs.shape[1], int(labels.max()) + 1)
    matrix = confusion_matrix(labels, pred, k)
    return {"accuracy": float(np.mean(pred == labels)), "right": int(np.sum(pred == labels)),
            "total": len(labels), "matrix": matrix, "crops": crop_count,
            "version": weights.version, "examples_seen": weights.examples_seen,
            # per example, for the confused examples' gallery
            "probs": probs.astype(np.float32), "labels": np.array(labels)}
