"""The training controller: one object that owns the worker thread.

The worker runs the engine's headless ``Run`` and hands the GUI plain data through
queued signals: progress and eval reports (about five a second) and, about once a
second at most, a ``network_state`` made on a copy of the weights. The controller
pauses, steps and stops between batches and shuts the thread down when the window
closes.
"""
import threading
import time

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

import engine
from engine.data import Augment, split_validation
from engine.digits import center_crop
from engine.training import Run

from .viz import network_state


class _Worker(QObject):
    report = Signal(dict)
    state = Signal(dict)
    predictions = Signal(dict)
    finished = Signal(str)

    def __init__(self, controller, run):
        super().__init__()
        self.c = controller
        self.run_ = run

    @Slot()
    def work(self):
        end = "done"
        last_state = 0.0
        last_gallery = 0.0
        try:
            for r in self.run_.reports():
                self.report.emit(r)
                if r["tag"] in ("diverged", "stopped"):
                    end = r["tag"]
                now = time.monotonic()
                if now - last_state >= self.c.state_interval:
                    last_state = now
                    self.c._publish_copy()
                    st = self.c._make_state() if self.c.want_state else None
                    if st is not None:
                        self.state.emit(st)
                if self.c.want_gallery and now - last_gallery >= self.c.gallery_interval:
                    last_gallery = now
                    g = self.c._make_predictions()
                    if g is not None:
                        self.predictions.emit(g)
        except Exception as e:  # a bug or bad data must not kill the app silently
            end = f"error: {e}"
        self.c._publish_copy()
        self.finished.emit(end)


class TrainingController(QObject):
    """Owns the network being trained, its trainer and the worker thread.

    Signals
    -------
    report(dict) : the engine's progress/eval/done/stopped/diverged reports
    stateChanged(dict) : a network_state for the Inspect views
    predictionsReady(dict) : test images with top-3 predictions for the gallery
    runningChanged(bool), pausedChanged(bool)
    runStarted(int) : a new run (fresh weights) began; its id
    finished(str) : the worker ended ("done", "stopped", "diverged", "error: ...")
    """

    report = Signal(dict)
    stateChanged = Signal(dict)
    predictionsReady = Signal(dict)
    runningChanged = Signal(bool)
    pausedChanged = Signal(bool)
    runStarted = Signal(int)
    finished = Signal(str)

    state_interval = 1.0
    gallery_interval = 1.0
    want_state = True    # views showing? (the window clears these for hidden places)
    want_gallery = True

    def __init__(self, dataset, parent=None):
        super().__init__(parent)
        self.dataset = dataset
        self.net = None
        self.net_layers = None
        self.loaded_trained = False
        self.trainer = None
        self.run = None
        self.run_id = 0
        self.examples_seen = 0
        self.trainer_options = {"method": "adadelta", "learning_rate": 0.01, "momentum": 0.9,
                                "batch_size": 20, "l1_decay": 0.0, "l2_decay": 0.001, "eps": 1e-6}
        self.schedule = None
        self.augment = {"crop": True, "shift": 0, "flip": False}
        self.validation_size = 5000
        self.view_source = ("test", 0)   # which example the Inspect view shows
        self.drawn = None                # the drawn digit (float 28x28 in [0,1]) if any
        self._thread = None
        self._worker = None
        self._copy_lock = threading.Lock()
        self._copy = None                # a consistent copy of the weights for views
        self._split_key = None
        self._gallery_rng = np.random.default_rng()

    # -- state -------------------------------------------------------------------
    @property
    def running(self):
        return self._thread is not None

    @property
    def paused(self):
        return self.run is not None and self.run.paused and self.running

    def net_copy(self):
        """The latest consistent copy of the weights (None before any network)."""
        with self._copy_lock:
            return self._copy

    def _publish_copy(self):
        if self.net is not None:
            c = self.net.copy()
            with self._copy_lock:
                self._copy = c

    def set_network(self, net, layers=None, trained=False):
        """Use ``net`` (new or loaded weights): the next run starts from it.

        ``layers`` are the definitions it was built from; ``trained`` says the weights
        were learned already (a snapshot), not freshly initialised.
        """
        if self.running:
            raise RuntimeError("stop training before changing the network")
        self.net = net
        self.net_layers = None if layers is None else [dict(d) for d in layers]
        self.loaded_trained = trained
        self.trainer = engine.Trainer(net, **self.trainer_options)
        self.examples_seen = 0
        self.run = None
        self.run_id += 1
        self._publish_copy()
        self.runStarted.emit(self.run_id)

    @property
    def untrained(self):
        """True while the weights are the random initial ones."""
        return self.net is not None and self.examples_seen == 0 and not self.loaded_trained

    # -- settings (take effect at the next batch) -------------------------------------
    def set_trainer_option(self, key, value):
        self.trainer_options[key] = value
        if self.trainer is not None:
            setattr(self.trainer, key, value)
            if key == "learning_rate" and self.schedule is not None:
                self.schedule.base = value

    def set_schedule(self, schedule):
        """None for a constant learning rate, else an engine Schedule."""
        self.schedule = schedule
        if self.run is not None:
            self.run.schedule = schedule
        if schedule is None and self.trainer is not None:
            self.trainer.learning_rate = self.trainer_options["learning_rate"]

    def set_augment(self, crop=None, shift=None, flip=None):
        for k, v in (("crop", crop), ("shift", shift), ("flip", flip)):
            if v is not None:
                self.augment[k] = v
        if self.run is not None:
            self.run.augment = self._make_augment(self.net)

    def _make_augment(self, net):
        sy = net.input_shape[0]
        crop = sy if self.dataset.train.shape[0] > sy else None
        if not self.augment["crop"] and crop:
            crop = sy  # the images must be cut to the input size: take random crops anyway
        return Augment(crop=crop, shift=int(self.augment["shift"]), flip=bool(self.augment["flip"]))

    def _splits(self):
        key = self.validation_size
        if self._split_key != key:
            if key:
                self._train, self._val = split_validation(self.dataset.train, key, seed=0)
            else:
                self._train, self._val = self.dataset.train, None
            self._split_key = key
        return self._train, self._val

    # -- control -------------------------------------------------------------------
    def start(self, epochs=None, paused=False):
        """Train (or, with ``epochs``, train that many more epochs) on a worker thread."""
        if self.net is None:
            raise RuntimeError("no network")
        if self.running:
            self.resume()
            return
        train, val = self._splits()
        run = Run(self.trainer, train, val, self.dataset.test, augment=self._make_augment(self.net),
                  schedule=self.schedule, chunk_seconds=0.2, eval_every=10000, eval_examples=1000)
        run.examples_seen = self.examples_seen
        run._next_eval = (self.examples_seen // run.eval_every + 1) * run.eval_every
        if epochs is not None:
            run.epochs = self.examples_seen / len(train) + epochs
        if paused:
            run.pause()
        self.run = run
        self._thread = QThread()
        self._thread.setObjectName("training")
        self._worker = _Worker(self, run)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.work)
        self._worker.report.connect(self._on_report)
        self._worker.state.connect(self.stateChanged)
        self._worker.predictions.connect(self.predictionsReady)
        self._worker.finished.connect(self._on_finished)
        self._thread.start()
        self.runningChanged.emit(True)
        self.pausedChanged.emit(paused)

    def pause(self):
        if self.run is not None and self.running:
            self.run.pause()
            self.pausedChanged.emit(True)

    def resume(self):
        if self.run is not None and self.running:
            self.run.resume()
            self.pausedChanged.emit(False)

    def step(self, batches=1):
        """Train one batch (starting a paused run if none is going)."""
        if not self.running:
            self.start(paused=True)
        elif not self.run.paused:
            self.pause()
        self.run.step(batches)

    def stop(self, wait=True):
        """Stop between batches; with ``wait`` block until the thread has ended."""
        if self.run is not None:
            self.run.stop()
        if wait and self._thread is not None:
            self._thread.quit()
            self._thread.wait()
            self._cleanup()

    def shutdown(self):
        """For the window closing: stop and join the thread."""
        self.stop(wait=True)

    def _on_report(self, r):
        self.examples_seen = r["examples_seen"]
        self.report.emit(r)

    def _on_finished(self, how):
        # A worker that was stopped with stop(wait=True) has been cleaned up already and
        # a new one may be running: only the current worker's end touches the thread.
        if self.sender() is self._worker and self._thread is not None:
            self._thread.quit()
            self._thread.wait()
            self._cleanup()
        self.finished.emit(how)

    def _cleanup(self):
        if self._thread is None:
            return
        self._worker.deleteLater()
        self._thread.deleteLater()
        self._thread = None
        self._worker = None
        self.runningChanged.emit(False)
        self.pausedChanged.emit(False)

    # -- data for views (called on the worker thread or the GUI thread) -----------------
    def example(self, source=None):
        """``(pixels, label, name)`` of the example the Inspect view shows."""
        kind, index = source or self.view_source
        if kind == "drawn" and self.drawn is not None:
            return self.drawn, None, "drawn digit"  # floats in [0, 1], 28x28
        data = self.dataset.test if kind == "test" else self.dataset.train
        index = int(index) % len(data)
        return data.images[index], int(data.labels[index]), f"{kind} example #{index}"

    def _make_state(self):
        net = self.net_copy()
        if net is None:
            return None
        try:
            pixels, label, name = self.example()
            if pixels.dtype != np.uint8:  # the drawn digit: as the Draw place feeds it, unrounded
                sy = net.input_shape[0]
                if pixels.shape[0] < sy or net.input_shape[2] != 1:
                    return None
                pixels = (center_crop(pixels, sy) - 0.5)[..., None]
            return network_state(net, pixels, label, name)
        except engine.EngineError:
            return None

    def make_state_now(self):
        """A network_state on the latest copy, for the GUI thread (e.g. when idle)."""
        if self.net is not None and not self.running:
            self._publish_copy()
        return self._make_state()

    def _make_predictions(self, count=8):
        net = self.net_copy()
        if net is None or net.loss_layer.layer_type == "regression":
            return None
        test = self.dataset.test
        idx = self._gallery_rng.choice(len(test), count, replace=False)
        try:
            from engine.data import predict
            probs = predict(net, test.images[idx])
        except engine.EngineError:
            return None
        return {"images": test.images[idx, :, :, 0].copy(), "labels": test.labels[idx].copy(),
                "probs": probs.astype(np.float32), "examples_seen": self.examples_seen}
