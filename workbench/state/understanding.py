"""Understanding the model, the session's side: explanations, unit images, the embedding map.

``Understanding`` belongs to the session (``session.understanding``) and runs the tasks
of ``understand_tasks`` as background jobs on the latest published weights, so that
nothing here ever runs on the GUI thread. Views call its methods and subscribe to its
signals, as they do with the session's.

Explanations have one job per *place* that asks (``key``: "inspect", "draw"), so that a
pen moving on Draw's canvas never pushes Inspect's request out of the queue. Only the
newest request waits, so the overlay follows the pen at the speed the explanations are
computed; and a job rests as long as its last explanation took before it starts the next,
so that a slow method (occlusion, tens of milliseconds) asked for continuously takes at
most about half a core from the window and the training run, not all of it.
"""
import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from workbench.state.jobs import NO_NETWORK, Job
from workbench.tasks import understand as tasks

NOT_CLASSIFYING = "Explanations are for networks that classify (softmax or svm), not regression."


class Understanding(QObject):
    """The background work behind explanations, unit images and the embedding map.

    Signals
    -------
    explained(object) : an explanation (``understand_tasks.explain_example``'s dict, with ``key``)
    explainFailed(str, str) : key and message
    unitImages(object), unitImagesFailed(str), unitImagesProgress(float), unitImagesBusy(bool)
    embedded(object), embeddingPartial(object), embeddingFailed(str), embeddingProgress(float),
    embeddingBusy(bool)
    """

    explained = Signal(object)
    explainFailed = Signal(str, str)
    unitImages = Signal(object)
    unitImagesFailed = Signal(str)
    unitImagesProgress = Signal(float)
    unitImagesBusy = Signal(bool)
    embedded = Signal(object)
    embeddingPartial = Signal(object)
    embeddingFailed = Signal(str)
    embeddingProgress = Signal(float)
    embeddingBusy = Signal(bool)

    def __init__(self, session):
        super().__init__(session)
        self.session = session
        self._explain = {}
        self._wanted = {}    # key: the newest explanation asked for and not started yet
        self._ready_at = {}  # key: when its job may start the next one (time.monotonic)
        self.units = Job("units", self)
        self.units.done.connect(self.unitImages)
        self.units.failed.connect(self.unitImagesFailed)
        self.units.progress.connect(self.unitImagesProgress)
        self.units.busyChanged.connect(self.unitImagesBusy)
        self.embedding = Job("embedding", self)
        self.embedding.done.connect(self.embedded)
        self.embedding.partial.connect(self.embeddingPartial)
        self.embedding.failed.connect(self.embeddingFailed)
        self.embedding.progress.connect(self.embeddingProgress)
        self.embedding.busyChanged.connect(self.embeddingBusy)
        session.data.changed.connect(self._dataset_changed)

    # -- explanations -------------------------------------------------------------------------
    def _explain_job(self, key):
        job = self._explain.get(key)
        if job is None:
            job = self._explain[key] = Job(f"explain-{key}", self)
            job.done.connect(lambda r, key=key: self._explained(key, r))
            job.failed.connect(lambda m, key=key: self.explainFailed.emit(key, m))
            job.busyChanged.connect(lambda busy, key=key: busy or self._pump(key))
        return job

    def _explained(self, key, r):
        self._ready_at[key] = time.monotonic() + r["ms"] / 1000  # rest as long as it took
        self.explained.emit(dict(r, key=key))

    def _pump(self, key):
        """Start the newest request of ``key`` once its job is idle and rested."""
        job = self._explain_job(key)
        inputs = self._wanted.get(key)
        if inputs is None or job.busy:
            return
        wait = self._ready_at.get(key, 0.0) - time.monotonic()
        if wait > 0:
            QTimer.singleShot(int(wait * 1000) + 1, self, lambda: self._pump(key))
            return
        self._wanted[key] = None
        job.start(tasks.explain_example, *inputs)

    def explain(self, source, method, cls=None, layer=None, key="inspect"):
        """Explain example ``source`` (as ``session.predictions.example`` takes it) for class ``cls``
        (None: the predicted one) with ``method`` (Grad-CAM on ``layer``, None: the last
        conv); the answer comes as ``explained`` with this ``key``."""
        s = self.session
        w = s.weights
        if w is None:
            self.explainFailed.emit(key, NO_NETWORK)
            return False
        if w.loss_type == "regression":
            self.explainFailed.emit(key, NOT_CLASSIFYING)
            return False
        pixels, label, name = s.predictions.example(source)
        if pixels is None:
            self.explainFailed.emit(key, "Draw a digit in the Draw place first.")
            return False
        frame = s.predictions.drawn_frame if source[0] == "drawn" else None
        if cls is not None and not 0 <= cls < w.num_outputs:
            cls = None  # a class of another network
        self._wanted[key] = (w, pixels, cls, method, layer, frame, source, name, label)
        self._pump(key)
        return True

    def cancel_explanation(self, key):
        self._wanted[key] = None
        if key in self._explain:
            self._explain[key].cancel()

    # -- what a unit wants ----------------------------------------------------------------------
    def make_unit_images(self, layer=None):
        """Images that make each class (``layer`` None) or each channel of ``layer`` fire."""
        w = self.session.weights
        if w is None:
            self.unitImagesFailed.emit(NO_NETWORK)
            return False
        self.units.start(tasks.make_unit_images, w, layer)
        return True

    def cancel_unit_images(self):
        self.units.cancel()

    # -- the embedding map ----------------------------------------------------------------------
    def embedding_images(self, kind, count):
        """``(images, labels, indices, set_kind)``: the first ``count`` test images, or of the
        validation images a run holds out (kind "validation", indices into the training set)."""
        ds = self.session.data.dataset
        if kind == "validation":
            n_val = min(self.session.settings.validation, len(ds.train) - 1)
            idx = tasks.validation_indices(len(ds.train), n_val)[:count]
            return ds.train.images[idx], ds.train.labels[idx], idx, "train"
        n = min(count, len(ds.test))
        return ds.test.images[:n], ds.test.labels[:n], np.arange(n), "test"

    def embed(self, kind="test", count=2000, layer=None, method="tsne"):
        """Lay out ``layer``'s activations of ``count`` images (``kind`` "test" or "validation")."""
        w = self.session.weights
        if w is None:
            self.embeddingFailed.emit(NO_NETWORK)
            return False
        if kind == "validation" and not self.session.settings.validation:
            self.embeddingFailed.emit("This experiment holds no validation images out (its validation "
                                      "split is 0, in Train): map test images instead.")
            return False
        images, labels, idx, set_kind = self.embedding_images(kind, count)
        if len(idx) < 5:
            self.embeddingFailed.emit(f"There are only {len(idx)} {kind} images: a map needs at least 5.")
            return False
        self.embedding.start(tasks.embed_images, w, images, labels, idx, set_kind, layer, method)
        return True

    def cancel_embedding(self):
        self.embedding.cancel()

    # -- housekeeping -------------------------------------------------------------------------------
    def _dataset_changed(self):
        # indices into the old dataset would show the wrong images
        self.embedding.cancel()
        for key in list(self._explain):
            self.cancel_explanation(key)

    def shutdown(self):
        for job in (self.units, self.embedding, *self._explain.values()):
            job.shutdown()
