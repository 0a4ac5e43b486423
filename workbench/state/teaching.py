"""The learner's own examples and teaching the network with them (Draw's "Teach", issue #25).

``Teaching`` owns the examples a learner adds from the Draw place (drawn digits as the
network sees them, 28x28, with a label), their undo history (add, relabel, remove, new
classes, a teach), what the current network answers for each, and the teach job:
``engine.teach`` on a background thread with progress, Stop and live curves, whose result
replaces the session's weights as one undoable step.

Two kinds of examples:
- **Corrections** (``own`` False): labels are the dataset's classes (the digits); a teach
  fine-tunes the current network on them mixed with the training data.
- **Own classes** (``own`` True, after ``new_classes``): 2-10 classes the learner named;
  ``train_classes`` saves them as an image folder in the session folder, opens it as the
  dataset (so every place works on it), adapts the network's last layer to it (Build's
  one undoable "Adapt the network") and trains a fresh network on them.

Kept: ``examples.npz`` in the session folder, written (atomically) at every change, read
when a window starts in the folder or opens it; ``export_folder``/``import_folder`` trade
them as an image-folder dataset.
"""
import copy
import io
import pathlib
import threading

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.core.errors import DataError, EngineError
from engine.core.io import atomic_write_bytes, open_regular
from engine.data import predict
from engine.runs.teach import MAX_CLASSES, as_pixels, check_class_names, load_folder, save_folder, teach
from workbench.state.jobs import Job

#: The session folder's file of examples, and the folder the own classes train from.
EXAMPLES_FILE = "examples.npz"
CLASSES_FOLDER = "my-classes"
TEACH_SECONDS = 10.0
CLASSES_SECONDS = 20.0
MAX_EXAMPLES = 2000


def _teach_task(state, weights, experiment, pixels, labels, mix_with, seconds, steps, stop, fresh,
                held_out=None, test_examples=None):
    """On the job's thread: ``engine.teach`` on a copy of ``weights`` (a fresh network: the
    experiment's own trainer); ``(net, report)``, the report with ``held_out_right``/``_total``
    on ``held_out`` (an ImageSet) when given."""
    net, report = teach(weights.network(), experiment, pixels, labels, seconds=seconds, steps=steps,
                        mix_with=mix_with,
                        trainer={} if fresh else None, test_examples=test_examples,
                        progress=state.set_progress,
                        cancelled=lambda: state.cancelled, stop=stop.is_set, on_report=state.set_partial)
    if held_out is not None and len(held_out):
        pred = predict(net, held_out.images).argmax(axis=1)
        report["held_out_right"], report["held_out_total"] = int(np.sum(pred == held_out.labels)), len(held_out)
    return net, report


def _predict_task(state, weights, pixels, version):
    state.check()
    if weights.loss_type == "regression" or len(pixels) == 0:
        return {"version": version, "predictions": None}
    if weights.input_shape[2] != pixels.shape[3]:
        return {"version": version, "predictions": None}
    try:
        probs = weights.predict(pixels, state=state)
    except EngineError:  # a network that does not take 28x28 digits: no answers to show
        return {"version": version, "predictions": None}
    return {"version": version, "predictions": probs.argmax(axis=1)}


class _Change(QUndoCommand):
    """Examples (and classes) before and after one change."""

    def __init__(self, teaching, text, after):
        super().__init__(text)
        self.t = teaching
        self.before = teaching._state()
        self.after = after

    def redo(self):
        self.t._set_state(self.after)

    def undo(self):
        self.t._set_state(self.before)


class _Taught(QUndoCommand):
    """A teach: the session's weights before it and after it."""

    def __init__(self, teaching, before, after, text):
        super().__init__(text)
        self.t, self.before, self.after = teaching, before, after

    def redo(self):
        self.t.session.take_weights(self.after.copy())

    def undo(self):
        self.t.session.take_weights(self.before.copy())


class Teaching(QObject):
    """The learner's examples, their undo stack, and the teach job (see the module).

    Signals
    -------
    changed : the examples, their labels or the classes changed
    predictionsChanged : the current network's answers for the examples arrived
    teachingChanged(bool) : a teach started or ended
    progress(float) : how far the teach is, 0..1
    report(dict) : the teach's live curve points (``engine.teach``'s ``on_report``)
    taught(dict) : a teach ended and its weights are in: its report, plus ``summary`` (one line)
    failed(str) : a teach could not start or did not succeed
    saveFailed(str) : the examples could not be kept in the session folder
    """

    changed = Signal()
    predictionsChanged = Signal()
    teachingChanged = Signal(bool)
    progress = Signal(float)
    report = Signal(object)
    taught = Signal(object)
    failed = Signal(str)
    saveFailed = Signal(str)

    teach_seconds = TEACH_SECONDS
    classes_seconds = CLASSES_SECONDS
    #: At most this many steps as well (None: as many as the time allows); tests set them,
    #: so that what a teach learns does not depend on the machine's speed.
    teach_steps = None
    classes_steps = None
    #: The test accuracy before and after a teach is measured on this many test images (None: all).
    test_examples = None

    def __init__(self, session):
        super().__init__(session)
        self.session = session
        self.images = np.zeros((0, 28, 28), np.uint8)
        self.labels = np.zeros(0, np.int64)
        self.class_names = None     # None: the dataset's classes (corrections); else own classes
        self.predictions = None     # the current network's answer per example (None: none yet)
        self.folder = None          # the session folder the examples are kept in
        self.undo_stack = QUndoStack(self)
        self._stop = threading.Event()
        self._pending = None        # what the teach running is for
        self._waiting_data = None   # own classes: the folder being opened as the dataset
        self._job = Job("teach", self)
        self._job.done.connect(self._taught)
        self._job.failed.connect(self._failed)
        self._job.progress.connect(self.progress)
        self._job.partial.connect(self.report)
        self._job.busyChanged.connect(self._busy)
        self._predict = Job("examples", self)
        self._predict.done.connect(self._predicted)
        self._version = 0
        session.weightsChanged.connect(lambda _: self.refresh_predictions())
        session.data.changed.connect(self._dataset_changed)
        session.data.failed.connect(self._dataset_failed)
        session.data.cancelled.connect(lambda _request: self._dataset_failed(None))
        self.changed.connect(self.refresh_predictions)

    # -- what there is ---------------------------------------------------------------------------
    @property
    def own(self):
        """The examples are of the learner's own classes (not the dataset's)."""
        return self.class_names is not None

    @property
    def names(self):
        """The classes a label chooses from."""
        return list(self.class_names) if self.own else list(self.session.data.dataset.class_names)

    def __len__(self):
        return len(self.labels)

    @property
    def busy(self):
        return self._job.busy or self._waiting_data is not None

    def _state(self):
        return (self.images, self.labels, None if self.class_names is None else list(self.class_names))

    def _set_state(self, state):
        self.images, self.labels, names = state
        self.class_names = None if names is None else list(names)
        self.predictions = None
        self._version += 1
        self.save()
        self.changed.emit()

    # -- changes (each undoable) --------------------------------------------------------------------
    def add(self, digit, label):
        """Add a drawn digit (28x28 floats in [0, 1], as ``to_mnist`` gives it) with ``label``."""
        label = int(label)
        if not 0 <= label < len(self.names):
            raise DataError(f"label {label} is not one of the {len(self.names)} classes")
        if len(self) >= MAX_EXAMPLES:
            raise DataError(f"{MAX_EXAMPLES} examples are the most kept: remove some first")
        px = as_pixels(np.asarray(digit)[None])[..., 0]
        if px.shape[1:] != (28, 28):
            raise DataError(f"an example is a 28x28 digit, not {px.shape[2]}x{px.shape[1]}")
        after = (np.concatenate([self.images, px]), np.append(self.labels, label), self.class_names)
        self.undo_stack.push(_Change(self, f"Add an example of {self.names[label]}", after))

    def relabel(self, index, label):
        label = int(label)
        if not 0 <= label < len(self.names) or not 0 <= index < len(self):
            return
        labels = self.labels.copy()
        labels[index] = label
        self.undo_stack.push(_Change(self, f"Relabel an example as {self.names[label]}",
                                     (self.images, labels, self.class_names)))

    def remove(self, indices):
        keep = np.ones(len(self), bool)
        keep[[i for i in indices if 0 <= i < len(self)]] = False
        if keep.all():
            return
        self.undo_stack.push(_Change(self, f"Remove {np.count_nonzero(~keep)} example(s)",
                                     (self.images[keep], self.labels[keep], self.class_names)))

    def new_classes(self, names):
        """Start examples of the learner's own classes (the examples so far are put aside:
        Undo brings them back). DataError for names that cannot be classes."""
        names = check_class_names(list(names))
        self.undo_stack.push(_Change(self, f"New classes: {', '.join(names)}",
                                     (np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64), names)))

    def use_dataset_classes(self):
        """Back to correcting the dataset's classes (the own examples are put aside; Undo)."""
        if self.own:
            self.undo_stack.push(_Change(self, "Back to the dataset's classes",
                                         (np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64), None)))

    # -- the network's answers ------------------------------------------------------------------------
    def refresh_predictions(self):
        w = self.session.weights
        if w is None or len(self) == 0:
            self.predictions = None
            self.predictionsChanged.emit()
            return
        self._predict.start(_predict_task, w, self.images[..., None].copy(), self._version)

    def _predicted(self, result):
        if result["version"] != self._version:
            return  # the examples changed since: a newer request follows
        p = result["predictions"]
        self.predictions = None if p is None or len(p) != len(self) else p
        self.predictionsChanged.emit()

    def right(self):
        """How many examples the current network gets right (None: no answers yet)."""
        return None if self.predictions is None else int(np.sum(self.predictions == self.labels))

    # -- teaching ---------------------------------------------------------------------------------
    def why_not(self):
        """Why a teach cannot start now (a sentence), or None."""
        s = self.session
        if self.busy:
            return "A teach is going on."
        if s.training.running:
            return "Training is running: stop it first (a teach changes the weights it trains)."
        if s.data.busy:
            return "A dataset is loading."
        if len(self) == 0:
            return "Add a few examples first: draw, choose the label, Add (Enter)."
        if s.weights is None:
            return "There is no network to teach."
        if not self.own and s.data.dataset.image_shape != (28, 28, 1):
            return f"Drawings are 28x28 grey digits; {s.data.dataset.name}'s images are not."
        if self.own and len(set(self.labels.tolist())) < 2:
            return "Draw examples of at least two of your classes."
        if self.own and self.folder is None:
            return "Your classes are kept in the session folder, and there is none (see Runs)."
        return None

    def teach(self):
        """Start a teach (own classes: ``train_classes``). False (with ``failed``) if it cannot."""
        why = self.why_not()
        if why:
            self.failed.emit(why)
            return False
        if self.own:
            return self.train_classes()
        s = self.session
        if s.weights.num_outputs <= int(self.labels.max()):
            self.failed.emit(f"The network has {s.weights.num_outputs} outputs; an example is of class "
                             f"{self.names[int(self.labels.max())]}.")
            return False
        return self._start(s.data.dataset, self.teach_seconds, self.teach_steps, fresh=False,
                           text=f"Teach {len(self)} example(s)")

    def _start(self, mix_with, seconds, steps, fresh, text, examples=None, held_out=None):
        s = self.session
        self._stop.clear()
        w = s.weights
        images, labels = examples if examples is not None else (self.images, self.labels)
        self._pending = {"run_id": s.run_id, "layers": copy.deepcopy(s.doc.layers), "before": w.network(),
                         "text": text, "fresh": fresh}
        self._job.start(_teach_task, w, s.experiment(), images.copy(), labels.copy(),
                        mix_with, seconds, steps, self._stop, fresh, held_out, self.test_examples)
        return True

    def stop(self):
        """End the teach now; what it learnt so far is kept (as Stop does for training)."""
        self._stop.set()

    def cancel(self):
        self._waiting_data = None
        self._job.cancel()
        self._predict.cancel()

    def shutdown(self):
        self.cancel()
        self._job.wait(5.0)

    def _busy(self, busy):
        self.teachingChanged.emit(busy or self._waiting_data is not None)

    def _failed(self, message):
        self._pending = None
        self.failed.emit(message)

    def _taught(self, result):
        pending, self._pending = self._pending, None
        if pending is None:
            return
        net, report = result
        s = self.session
        if s.training.running or s.run_id != pending["run_id"] or s.doc.layers != pending["layers"]:
            self.failed.emit("The network changed while it was being taught (a run, a new network): "
                             "the teach was not applied.")
            return
        self.undo_stack.push(_Taught(self, pending["before"], net, pending["text"]))
        report = dict(report, summary=summary(report, own=pending["fresh"]))
        self.taught.emit(report)

    # -- own classes: a dataset of the drawings ---------------------------------------------------------
    def train_classes(self):
        """Save the own classes as the image folder ``my-classes`` in the session folder, open it
        as the dataset, adapt the network to it (one undoable edit) and train a fresh network
        on the drawings for ``classes_seconds``."""
        s = self.session
        if not s.training.may_stop():
            return False
        path = self.folder / CLASSES_FOLDER
        try:
            self._write_classes_folder(path)
        except EngineError as e:
            self.failed.emit(str(e))
            return False
        self._waiting_data = str(path)
        self.teachingChanged.emit(True)
        if not s.open_dataset(str(path)):
            self._waiting_data = None
            self.teachingChanged.emit(False)
            return False
        return True

    def _write_classes_folder(self, path):
        """Write the examples as ``path`` (replacing the folder written there before)."""
        import shutil
        tmp = path.with_name(f".{path.name}.new")
        shutil.rmtree(tmp, ignore_errors=True)
        save_folder(tmp, self.images, self.labels, self.class_names)
        old = path.with_name(f".{path.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        try:
            if path.is_symlink() or path.is_file():
                raise DataError(f"{path}: is not a folder the workbench made; move it away")
            if path.exists():
                path.rename(old)
            tmp.rename(path)
        except OSError as e:
            raise DataError(f"{path}: cannot write ({e.strerror or e})") from None
        shutil.rmtree(old, ignore_errors=True)

    def _dataset_changed(self):
        s = self.session
        waiting, self._waiting_data = self._waiting_data, None
        if waiting is None:
            self.changed.emit()  # the class names shown may be other ones now
            return
        if s.data.path is None or pathlib.Path(s.data.path) != pathlib.Path(waiting):
            self.teachingChanged.emit(False)
            return
        try:
            s.fit_network_to_data()  # Build's "Adapt the network": one step Undo takes back
        except EngineError as e:
            self.teachingChanged.emit(False)
            self.failed.emit(f"The network cannot be adapted to your classes: {e}")
            return
        s.reset_weights()  # a fresh network for the new classes
        if s.weights is None or s.weights.num_outputs != len(self.class_names):
            self.teachingChanged.emit(False)
            self.failed.emit("The network does not fit your classes (see Build).")
            return
        ds = s.data.dataset  # its held-out drawings stay out of training, to evaluate on
        self._start(None, self.classes_seconds, self.classes_steps, fresh=True,
                    text=f"Train on {', '.join(self.class_names)}",
                    examples=(ds.train.images, ds.train.labels), held_out=ds.test)

    def _dataset_failed(self, info):
        if self._waiting_data is not None:
            self._waiting_data = None
            self.teachingChanged.emit(False)
            if info:
                self.failed.emit(f"Your classes could not be opened as a dataset: {info.get('message')}")

    # -- kept in the session folder -------------------------------------------------------------------
    def use_folder(self, path):
        """Keep the examples in the session folder ``path`` (None: in memory): the examples kept
        there replace these (a new folder: none); the undo history starts anew."""
        self.folder = None if path is None else pathlib.Path(path)
        self.undo_stack.clear()
        state = (np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64), None)
        if self.folder is not None and (self.folder / EXAMPLES_FILE).exists():
            try:
                state = read_examples(self.folder / EXAMPLES_FILE)
            except DataError as e:
                self.saveFailed.emit(f"Your examples could not be read: {e}")
        self.images, self.labels, self.class_names = state
        self.predictions = None
        self._version += 1
        self.changed.emit()

    def save(self):
        if self.folder is None:
            return False
        try:
            write_examples(self.folder / EXAMPLES_FILE, self.images, self.labels, self.class_names)
        except (OSError, EngineError) as e:
            self.saveFailed.emit(f"Your examples could not be saved in the session folder: "
                                 f"{getattr(e, 'strerror', None) or e}")
            return False
        return True

    def export_folder(self, path):
        """Save the examples as an image-folder dataset at ``path`` (a new or empty folder)."""
        if len(self) == 0:
            raise DataError("there are no examples to save")
        return save_folder(path, self.images, self.labels, self.names)

    def import_folder(self, path):
        """Take the examples of an image-folder dataset (undoable): the dataset's classes when its
        folders are named as they are, else own classes."""
        images, labels, names = load_folder(path)
        if len(names) > MAX_CLASSES:
            raise DataError(f"{len(names)} classes; your own are at most {MAX_CLASSES}")
        if len(labels) > MAX_EXAMPLES:
            raise DataError(f"{len(labels)} images; at most {MAX_EXAMPLES} examples are kept")
        dataset_names = list(self.session.data.dataset.class_names)
        if all(n in dataset_names for n in names):  # corrections of the dataset's classes
            labels = np.array([dataset_names.index(names[i]) for i in labels], np.int64)
            names = None
        self.undo_stack.push(_Change(self, f"Open examples from {pathlib.Path(path).name}",
                                     (images, labels, names)))
        return len(labels)


def write_examples(path, images, labels, class_names):
    """``examples.npz``: the images (uint8 N x 28 x 28), labels and own class names (if any),
    written to a temporary file and renamed into place."""
    buf = io.BytesIO()
    names = np.array([] if class_names is None else list(class_names), dtype=str)
    np.savez(buf, images=np.asarray(images, np.uint8), labels=np.asarray(labels, np.int64),
             class_names=names, own=np.array(class_names is not None))
    atomic_write_bytes(path, buf.getvalue())


def read_examples(path):
    """``(images, labels, class_names or None)`` from ``examples.npz``; DataError for a bad file."""
    try:
        with open_regular(path, DataError) as f, np.load(f, allow_pickle=False) as z:
            images, labels = z["images"], z["labels"]
            names, own = z["class_names"], bool(z["own"])
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise DataError(f"{pathlib.Path(path).name}: not a file of examples ({e})") from None
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{pathlib.Path(path).name}: images of {images.dtype} {images.shape}, not 28x28 bytes")
    if labels.ndim != 1 or len(labels) != len(images) or labels.dtype.kind not in "iu":
        raise DataError(f"{pathlib.Path(path).name}: the labels do not match the images")
    class_names = check_class_names([str(n) for n in names]) if own else None
    k = len(class_names) if own else 10 ** 6
    if len(labels) and (labels.min() < 0 or labels.max() >= k):
        raise DataError(f"{pathlib.Path(path).name}: a label is outside the classes")
    return images.copy(), labels.astype(np.int64), class_names


def summary(report, own=False):
    """One line of what a teach did, for the learner."""
    n = report["examples"]
    parts = [(f"your examples right: {report['examples_right_before']}/{n} \u2192 "
              f"{report['examples_right_after']}/{n}")]
    if report.get("test_accuracy_before") is not None:
        parts.append(f"test accuracy {report['test_accuracy_before']:.2%} \u2192 "
                     f"{report['test_accuracy_after']:.2%} ({report['test_examples']:,} test images)")
    if report.get("held_out_total"):
        parts.append(f"held-out drawings right: {report['held_out_right']}/{report['held_out_total']}")
    what = "Trained on your classes" if own else "Taught"
    stopped = ", stopped early" if report.get("stopped") else ""
    return f"{what} for {report['seconds']:.1f} s ({report['steps']} steps{stopped}): " + "; ".join(parts) + "."
