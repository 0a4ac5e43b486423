"""Waiting for work without blocking the window: reading a file, writing weights.

``wait_for`` runs a task on a worker thread and returns its result to the caller as
if it were a plain call, while the event loop keeps turning: the window repaints,
training reports arrive, timers fire. Mouse and keys wait until it is done (so
nothing else starts meanwhile); if it takes longer than a moment, a modal dialog
shows its progress with Cancel.
"""
import threading

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QProgressDialog

from workbench.state.jobs import Cancelled, TaskState

#: How long a task runs before its progress dialog appears.
DIALOG_DELAY_MS = 300

_waiting = [0]  # calls of wait_for in progress


def busy():
    """Whether the window is waiting for a task (it must not close under it)."""
    return _waiting[0] > 0


class _Relay(QObject):
    # Lives on the GUI thread: emitted from the worker, received queued.
    finished = Signal()
    progress = Signal(float)


def _emit(signal, *args):
    try:
        signal.emit(*args)
    except RuntimeError:  # the receiver is gone (the app is closing)
        pass


def wait_for(parent, label, task, *inputs, delay_ms=None):
    """``task(state, *inputs)`` on a worker thread; its result, or what it raised.

    ``state`` is a ``jobs.TaskState``: the task may report progress (0..1) and check
    for cancellation. Raises ``jobs.Cancelled`` when the user pressed Cancel (the
    task's result, when it comes, is dropped).
    """
    _waiting[0] += 1
    try:
        return _wait_for(parent, label, task, inputs, DIALOG_DELAY_MS if delay_ms is None else delay_ms)
    finally:
        _waiting[0] -= 1


def _wait_for(parent, label, task, inputs, delay_ms):
    relay = _Relay()
    out = {}
    state = TaskState(lambda f: _emit(relay.progress, f))

    def work():
        try:
            out["result"] = task(state, *inputs)
        except BaseException as e:  # noqa: BLE001 - handed to the caller, whatever it is
            out["error"] = e
        _emit(relay.finished)

    loop = QEventLoop()
    relay.finished.connect(loop.quit)
    threading.Thread(target=work, name="wait-for", daemon=True).start()
    # Until the dialog shows, only user input waits (it is delivered afterwards).
    timer = QTimer(singleShot=True, interval=delay_ms)
    timer.timeout.connect(loop.quit)
    timer.start()
    loop.exec(QEventLoop.ExcludeUserInputEvents)
    timer.stop()
    if not out:
        dialog = QProgressDialog(label, "Cancel", 0, 0, parent)
        dialog.setObjectName("waitDialog")
        dialog.setWindowTitle("convnet-workbench")
        dialog.setWindowModality(Qt.ApplicationModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)

        def progress(fraction):
            dialog.setMaximum(1000)
            dialog.setValue(int(fraction * 1000))

        relay.progress.connect(progress)
        dialog.canceled.connect(state.cancel)
        dialog.canceled.connect(loop.quit)
        dialog.show()
        if not out:  # (the finished signal is only delivered inside a loop, but be sure)
            loop.exec()
        relay.progress.disconnect(progress)
        dialog.canceled.disconnect()  # closing a progress dialog emits canceled too
        dialog.close()
        dialog.deleteLater()
    if "error" in out:
        raise out["error"]
    if "result" not in out:
        raise Cancelled()
    if state.cancelled:
        raise Cancelled()
    return out["result"]
