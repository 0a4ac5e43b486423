"""What the network says: Inspect's pictures, Draw's answer, the gallery's test predictions and
Evaluate's figures, each a background job on the latest published ``Weights``.

The session owns one ``Predictions`` (``session.predictions``): places call its methods and
connect its signals directly (the session re-emits none of them). It follows the session's
weights and dataset itself, so that no place shows an answer about weights or data that are
gone:

- new weights (a reset, a snapshot opened, a run's weights published or ended): the drawn
  digit is asked again at once (one forward pass, whatever place is on screen), and an
  evaluation running on weights that were replaced is cancelled (its answer would be about
  weights that are gone; Evaluate's place says its figures are of older weights);
- another dataset: the evaluation and the gallery's request are cancelled (their images are
  gone), and a picture of the old dataset's kind is kept until Draw drops it.
"""
import logging
import time

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.data.digits import to_mnist
from workbench.state import jobs
from workbench.state.jobs import Job
from workbench.tasks import data as datatasks

log = logging.getLogger(__name__)


class Predictions(QObject):
    """Questions asked of the latest weights, one job per kind of question.

    Parameters
    ----------
    session : workbench.session.AppSession
        Whose ``weights``, ``data.dataset`` and ``weightsChanged``/``data.changed`` it follows.

    Signals
    -------
    inspected(object) : Inspect's pictures of one example (``viz.network_state``)
    inspectFailed(str)
    drawingChanged(object) : the drawn digit as the network sees it (28x28 floats) or None
    drawingPredicted(object) : Draw's answer (``jobs.predict_digit``)
    testPredictions(object) : test images with their predictions, for the gallery
    evaluated(object), evaluationFailed(str), evaluationProgress(float), evaluatingChanged(bool)
    """

    inspected = Signal(object)
    inspectFailed = Signal(str)
    drawingChanged = Signal(object)
    drawingPredicted = Signal(object)
    testPredictions = Signal(object)
    evaluated = Signal(object)
    evaluationFailed = Signal(str)
    evaluationProgress = Signal(float)
    evaluatingChanged = Signal(bool)

    def __init__(self, session, parent=None):
        super().__init__(parent if parent is not None else session)
        self._session = session
        self.drawn = None        # the digit (or picture) asked about, as the network sees it
        self.drawn_frame = None  # where the drawing went in the drawn digit's field (to_mnist's frame)
        self.picture = False     # ``drawn`` is a picture of the dataset's kind, not a drawn digit
        self._evaluated_run = None  # the run id of the weights the running evaluation asks
        self._rng = np.random.default_rng()  # which test images the gallery shows
        self._jobs = {name: Job(name, self) for name in ("inspect", "draw", "gallery", "evaluate")}
        self._jobs["inspect"].done.connect(self.inspected)
        self._jobs["inspect"].failed.connect(self.inspectFailed)
        self._jobs["draw"].done.connect(self.drawingPredicted)
        self._jobs["draw"].failed.connect(lambda m: self.drawingPredicted.emit({"message": m, "crop": None}))
        self._jobs["gallery"].done.connect(self.testPredictions)
        ev = self._jobs["evaluate"]
        ev.done.connect(self.evaluated)
        ev.failed.connect(self.evaluationFailed)
        ev.progress.connect(self.evaluationProgress)
        ev.busyChanged.connect(self.evaluatingChanged)
        session.weightsChanged.connect(self._weights_changed)
        session.data.changed.connect(self._dataset_changed)

    # -- following the session ---------------------------------------------------------------
    def _weights_changed(self, weights):
        if self._evaluated_run is not None and weights.run_id != self._evaluated_run:
            self.cancel_evaluation()  # other weights altogether: its answer would be about gone ones
        if self.drawn is not None:
            self.predict_drawing()  # Draw's answer is always of the weights there are

    def _dataset_changed(self):
        self.cancel_evaluation()
        self._jobs["gallery"].cancel()

    # -- Inspect -------------------------------------------------------------------------------
    def example(self, source):
        """``(pixels, label, name)`` of ``("test" | "train", index)`` or ``("drawn", _)``."""
        kind, index = source
        if kind == "drawn":
            return self.drawn, None, "your picture" if self.picture else "drawn digit"
        data = self._session.data.dataset.test if kind == "test" else self._session.data.dataset.train
        index = int(index) % len(data)
        return data.images[index], int(data.labels[index]), f"{kind} example #{index}"

    def inspect(self, source):
        """Make Inspect's pictures of one example on the latest weights (``inspected`` brings them)."""
        weights = self._session.weights
        if weights is None:
            return False
        pixels, label, name = self.example(source)
        if pixels is None:
            self.inspectFailed.emit("Draw a digit in the Draw place first, then come back.")
            return False
        self._jobs["inspect"].start(jobs.inspect_example, weights, pixels, label, name)
        return True

    # -- Draw ----------------------------------------------------------------------------------
    def set_drawing(self, image):
        """The Draw canvas changed: ``image`` (floats in [0, 1], ink high) or None when empty."""
        if image is None:
            self._jobs["draw"].cancel()
            self.drawn = self.drawn_frame = None
            self.picture = False
            self.drawingChanged.emit(None)
            return
        t0 = time.perf_counter()
        self.picture = False
        self.drawn, self.drawn_frame = to_mnist(image, frame=True)
        self.drawingChanged.emit(self.drawn)
        self.predict_drawing((time.perf_counter() - t0) * 1000)

    def set_picture(self, pixels):
        """A picture of the dataset's kind (already read at its size) to ask about."""
        self._jobs["draw"].cancel()
        self.picture = True
        self.drawn, self.drawn_frame = pixels, None  # no drawing's frame: explanations stay off the canvas
        self.drawingChanged.emit(pixels)
        self.predict_drawing()

    def predict_drawing(self, preprocess_ms=0.0):
        """Ask the latest weights about the drawn digit (``drawingPredicted`` brings the answer)."""
        if self.drawn is None:
            return
        weights = self._session.weights
        if weights is None:
            self.drawingPredicted.emit({"message": jobs.NO_NETWORK, "crop": None})
            return
        if self.picture:
            self._jobs["draw"].start(datatasks.predict_picture, weights, self.drawn)
            return
        self._jobs["draw"].start(jobs.predict_digit, weights, self.drawn, preprocess_ms)

    # -- the gallery ---------------------------------------------------------------------------
    def sample_test_predictions(self, count=8):
        """Predict a few random test images (``testPredictions`` brings them)."""
        rng = self._rng
        w = self._session.weights
        if w is None or w.loss_type == "regression":
            return
        test = self._session.data.dataset.test
        idx = rng.choice(len(test), min(count, len(test)), replace=False)
        self._jobs["gallery"].start(jobs.sample_predictions, w, test.images[idx], test.labels[idx],
                                    w.examples_seen)

    # -- Evaluate ------------------------------------------------------------------------------
    @property
    def evaluating(self):
        return self._jobs["evaluate"].busy

    def evaluate(self, crop_count=1):
        """Test accuracy and confusion matrix of the latest weights (``evaluated`` brings them)."""
        weights = self._session.weights
        if weights is None:
            self.evaluationFailed.emit("There are no weights yet: press Train (or open a snapshot) first.")
            return False
        test = self._session.data.dataset.test
        self._evaluated_run = weights.run_id
        self._jobs["evaluate"].start(jobs.evaluate, weights, test.images, test.labels, crop_count)
        return True

    def cancel_evaluation(self):
        self._jobs["evaluate"].cancel()

    def shutdown(self):
        for job in self._jobs.values():
            job.shutdown()
