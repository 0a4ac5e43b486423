"""What every dataset format shares: the memory limit, progress and cancellation, the tool's
train/test split, label and class-name checks, and the rule that turns other pixel types into uint8."""
import pathlib
import re

import numpy as np

from engine.core import limits
from engine.core.errors import Cancelled, DataError, EngineError
from engine.core.io import open_regular
from engine.data.containers import Dataset, ImageSet

#: The most image memory (as uint8) a load may allocate; checked before allocating.
MAX_BYTES = 4 * 2 ** 30

#: The share of examples the tool holds out as the test part when the source has no split.
TEST_FRACTION = 0.2

#: Bytes read (or decompressed) at a time: progress and cancellation are checked between pieces.
CHUNK_BYTES = 2 ** 20


class LoadCancelled(Cancelled, EngineError):
    """The caller cancelled a load. Not a failure: nothing was loaded, nothing needs saying.

    It is the engine's one ``Cancelled`` (what every long computation raises when asked to
    stop), and an ``EngineError`` as it always was."""


def size_text(nbytes):
    for unit, scale in (("GB", 2 ** 30), ("MB", 2 ** 20), ("KB", 2 ** 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} bytes"


class LoadJob:
    """Progress, cancellation and the memory limit of one load.

    ``progress(done, total)`` is called (from the thread that called ``load``) with whole
    numbers of work units, ``done`` only growing until it equals ``total``; ``cancelled()`` is polled between pieces of work and a
    true answer raises ``LoadCancelled``.
    """

    def __init__(self, progress=None, cancelled=None, max_bytes=MAX_BYTES):
        self._progress = progress
        self._cancelled = cancelled
        self.max_bytes = int(max_bytes)
        self.total = 1
        self.done = 0
        self.notes = []

    def start(self, total):
        self.total = max(1, int(total))
        self.done = 0
        self.report(0)

    def report(self, units):
        """Add ``units`` of work done, tell the caller, and stop if the caller cancelled."""
        self.done = min(self.total, self.done + units)
        if self._progress is not None:
            self._progress(int(self.done), self.total)
        self.check()

    def finish(self):
        """Report the work as all done (the last call ``progress`` gets has ``done == total``)."""
        self.report(self.total - self.done)

    def check(self):
        if self._cancelled is not None and self._cancelled():
            raise LoadCancelled("loading cancelled")

    def check_size(self, nbytes, what):
        """Refuse, before allocating, images that would take more than the limit."""
        if nbytes > self.max_bytes:
            raise DataError(f"{what}: the images would take {size_text(nbytes)} of memory as 8-bit "
                            f"pixels, more than the {size_text(self.max_bytes)} limit")

    def check_examples(self, n, what):
        """Refuse, before allocating, more examples (labels) than ``limits.MAX_EXAMPLES``."""
        check_examples(n, what)

    def note(self, text):
        self.notes.append(text)


def check_examples(n, what):
    """DataError for more than ``limits.MAX_EXAMPLES`` examples, said with both numbers."""
    if n > limits.MAX_EXAMPLES:
        raise DataError(f"{what}: {n:,} examples (labels), more than the {limits.MAX_EXAMPLES:,} "
                        f"limit")


def number_classes(ytr, yte, where):
    """``(ytr, yte, class_names, note)`` for labels given without class names.

    Labels that are whole numbers from 0 up to below ``limits.MAX_CLASSES`` are the class
    indices themselves ("0" .. "K-1", K one more than the largest; a class with no example
    is kept, so that digit 7 stays class 7 in a file without any 7). Labels beyond that
    (IDs such as 0, 1e9, 2e9) are not indices: their distinct values, sorted, become the
    classes, each named by its value, with a note. More distinct values than
    ``limits.MAX_CLASSES``, or a negative label, is a DataError.
    """
    (ytr, wtr), (yte, wte) = ytr, yte
    for y, w in ((ytr, wtr), (yte, wte)):
        if len(y) and y.min() < 0:
            i = int(np.flatnonzero(y < 0)[0])
            raise DataError(f"{w}: label {int(y[i])} (example {i}) is negative")
    top = int(max(ytr.max(initial=-1), yte.max(initial=-1)))
    if top < limits.MAX_CLASSES:
        return ytr, yte, [str(i) for i in range(top + 1)], None
    values = np.unique(np.concatenate([ytr, yte]))
    if len(values) > limits.MAX_CLASSES:
        raise DataError(f"{wtr}: {len(values):,} different labels (up to {top:,}); the limit is "
                        f"{limits.MAX_CLASSES:,} classes")
    note = (f"{wtr}: labels up to {top:,} are not class numbers 0..K-1: their {len(values):,} "
            f"different values are the classes, each named by its value")
    return (np.searchsorted(values, ytr), np.searchsorted(values, yte),
            [str(int(v)) for v in values], note)


def natural_key(name):
    """Sort "2" before "10" (and "class2" before "class10")."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", name)]


def split_for_test(labels, fraction=TEST_FRACTION, seed=0):
    """A boolean mask of the examples the tool holds out for testing: ``fraction`` of each
    class (at random, seeded), so every class with two or more examples is in both parts."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), bool)
    # each class's positions in ascending order, from one sort (not one pass per class:
    # 60,000 different labels took 13 s)
    order = np.argsort(labels, kind="stable")
    _, starts = np.unique(labels[order], return_index=True)
    for a, b in zip(starts, list(starts[1:]) + [len(labels)]):
        idx = order[a:b]
        k = int(round(len(idx) * fraction))
        if len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        else:
            k = 0
        test[rng.choice(idx, k, replace=False)] = True
    return test


def destinations(is_test):
    """Where each example goes in one array holding the training part then the test part
    (each in the source's order): ``(dest, n_train)``."""
    is_test = np.asarray(is_test, bool)
    dest = np.empty(len(is_test), np.int64)
    n_train = int(np.count_nonzero(~is_test))
    dest[~is_test] = np.arange(n_train)
    dest[is_test] = n_train + np.arange(len(is_test) - n_train)
    return dest, n_train


def split_text(fraction=TEST_FRACTION):
    return f"by the tool: {fraction:.0%} of each class held out for testing (seed 0)"


def as_labels(y, where):
    """Class indices from a label array: whole numbers (ints or integral floats), or one-hot rows."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2 and y.shape[1] >= 2 and np.issubdtype(y.dtype, np.number):
        if not (np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)):
            raise DataError(f"{where}: labels of shape {y.shape} are neither one label per "
                            f"example nor one-hot rows")
        return y.argmax(axis=1).astype(np.int64)
    if y.ndim != 1:
        raise DataError(f"{where}: expected one label per example, got shape {y.shape}")
    if y.dtype == bool:
        return y.astype(np.int64)
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            bad = y[~np.isfinite(y) | (y != np.round(y))][0]
            raise DataError(f"{where}: label {bad!r} is not a whole number")
    elif not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{where}: labels must be whole numbers, got {y.dtype} values")
    return y.astype(np.int64)


def check_labels(labels, num_classes, where, class_names_from=None):
    """Refuse labels outside ``range(num_classes)``, naming the first one."""
    if len(labels) == 0:
        return
    bad = (labels < 0) | (labels >= num_classes)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        if class_names_from:
            raise DataError(f"{where}: label {int(labels[i])} (example {i}) is outside the "
                            f"{num_classes} classes of {class_names_from}")
        raise DataError(f"{where}: label {int(labels[i])} (example {i}) is negative")


def read_class_names(folder, where=None):
    """The lines of ``classes.txt`` in ``folder`` (None when there is none)."""
    path = pathlib.Path(folder) / "classes.txt"
    if not path.is_file():
        return None
    try:
        with open_regular(path, DataError) as f:
            raw = f.read(2 ** 20 + 1)
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if len(raw) > 2 ** 20:
        raise DataError(f"{path.name}: larger than 1 MB, too big for a list of class names")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path.name}: not a text file (one class name a line, UTF-8)") from None
    names = [line.strip() for line in text.splitlines()]
    while names and not names[-1]:
        names.pop()
    if len(names) < 2:
        raise DataError(f"{path.name}: lists {len(names)} class name(s); a dataset needs at least two")
    if "" in names:
        raise DataError(f"{path.name}: line {names.index('') + 1} is empty; one class name a line")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataError(f"{path.name}: class name {dup[0]!r} appears more than once")
    return names


def make_dataset(train, test, name, source, fmt, split, notes, class_names=None, names_from=None):
    """The Dataset, once every label has been checked against the classes.

    ``train``/``test``: ``(images, labels, where)``; ``class_names`` None means
    "0" .. "K-1" with K one more than the largest label.
    """
    (xtr, ytr, wtr), (xte, yte, wte) = train, test
    if xtr.shape[1:] != xte.shape[1:]:
        raise DataError(f"{wte}: images of {shape_text(xte.shape[1:])} but the training images "
                        f"({wtr}) are {shape_text(xtr.shape[1:])}")
    if class_names is None:
        ytr, yte, class_names, note = number_classes((ytr, wtr), (yte, wte), wtr)
        if note:
            notes = list(notes) + [note]
    else:
        if len(class_names) > limits.MAX_CLASSES:
            raise DataError(f"{names_from}: {len(class_names):,} class names; the limit is "
                            f"{limits.MAX_CLASSES:,} classes")
        check_labels(ytr, len(class_names), wtr, names_from)
        check_labels(yte, len(class_names), wte, names_from)
    if len(ytr) == 0:
        raise DataError(f"{wtr}: no training images")
    if len(class_names) < 2:
        raise DataError(f"{name}: every image is of class {class_names[0] if class_names else 0}; "
                        f"a dataset needs at least two classes")
    return Dataset(ImageSet(xtr, ytr, "train"), ImageSet(xte, yte, "test"), name, len(class_names),
                   class_names=list(class_names), source=str(source), format=fmt, split=split,
                   notes=list(notes))


def shape_text(shape):
    """``(H, W, C)`` as "28x28 grey" / "32x32 RGB"."""
    h, w = shape[:2]
    c = shape[2] if len(shape) > 2 else 1
    kind = {1: "grey", 3: "RGB"}.get(c, f"{c}-channel")
    return f"{w}x{h} {kind}"


class PixelScale:
    """How stored pixels of another type become uint8, decided from their type and range.

    - uint8: as they are.
    - whole numbers in 0..255 (any integer or float type): as they are.
    - floats in [0, 1]: times 255, rounded.
    - anything else: the range [min, max] mapped linearly onto 0..255.
    NaN or infinite pixels are refused.
    """

    def __init__(self, dtype, lo, hi, integral, where):
        self.dtype = np.dtype(dtype)
        self.lo, self.hi = float(lo), float(hi)
        self.note = None
        if self.dtype == np.uint8:
            self.scale, self.offset = None, 0.0
        elif integral and self.lo >= 0 and self.hi <= 255:
            self.scale, self.offset = 1.0, 0.0
            if not np.issubdtype(self.dtype, np.integer):
                self.note = f"{where}: {self.dtype} pixels are whole numbers in 0..255, kept as they are"
        elif np.issubdtype(self.dtype, np.floating) and self.lo >= 0 and self.hi <= 1:
            self.scale, self.offset = 255.0, 0.0
            self.note = f"{where}: {self.dtype} pixels in [0, 1] multiplied by 255"
        else:
            span = self.hi - self.lo
            self.scale = 255.0 / span if span > 0 else 0.0
            self.offset = self.lo
            self.note = (f"{where}: {self.dtype} pixels from {self.lo:g} to {self.hi:g} mapped "
                         f"linearly onto 0..255")

    @classmethod
    def survey(cls, chunks, dtype, where):
        """Decide from every chunk of the stored pixels (one pass over them)."""
        lo, hi, integral = np.inf, -np.inf, True
        for chunk in chunks:
            if chunk.size == 0:
                continue
            if np.issubdtype(chunk.dtype, np.floating):
                if not np.all(np.isfinite(chunk)):
                    raise DataError(f"{where}: some pixels are NaN or infinite")
                integral = integral and bool(np.all(chunk == np.round(chunk)))
            lo, hi = min(lo, float(chunk.min())), max(hi, float(chunk.max()))
        if lo > hi:
            lo = hi = 0.0
        return cls(dtype, lo, hi, integral, where)

    def __call__(self, chunk):
        if self.scale is None:
            return chunk
        x = chunk.astype(np.float32)
        if self.offset:
            x -= np.float32(self.offset)
        if self.scale != 1.0:
            x *= np.float32(self.scale)
        np.rint(x, out=x)
        np.clip(x, 0, 255, out=x)
        return x.astype(np.uint8)


def image_layout(shape, where):
    """How a stored image array of ``shape`` becomes ``(N, H, W, C)`` with C 1 or 3.

    Returns ``(convert, item_shape, note)``: ``convert`` turns a chunk of stored rows into
    the engine's layout. (N, H, W) is grey; (N, H, W, C) keeps 1 or 3 channels, drops
    alpha from 2 or 4; (N, C, H, W) with C 1 or 3 (PyTorch's order) is transposed.
    """
    shape = tuple(int(d) for d in shape)
    if len(shape) in (3, 4) and 0 in shape[1:]:
        raise DataError(f"{where}: images of shape {shape}; an image needs at least one pixel")
    if len(shape) == 3:
        return (lambda a: a[..., None]), (shape[1], shape[2], 1), None
    if len(shape) == 4:
        _, a, b, c = shape
        if c in (1, 3):
            return (lambda x: x), (a, b, c), None
        if c in (2, 4):
            return ((lambda x: x[..., :c - 1]), (a, b, c - 1),
                    f"{where}: the alpha channel (channel {c}) is dropped")
        if a in (1, 3) and c > 4:
            return ((lambda x: x.transpose(0, 2, 3, 1)), (b, c, a),
                    f"{where}: images stored channels first (N, {a}, H, W) are read as (N, H, W, {a})")
    raise DataError(f"{where}: expected images of shape (N, H, W) or (N, H, W, C) with C 1 or 3, "
                    f"got {shape}")


#: The old name of ``LoadJob`` (the app's background work is ``workbench``'s ``Job``), kept for one release.
Job = LoadJob
