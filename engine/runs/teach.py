"""Teaching a network with a learner's own drawings: a few examples go a long way.

``teach`` fine-tunes a copy of a network on a handful of examples (drawings as the network
sees them, ``engine.digits.to_mnist``) mixed into batches of the training data: each batch
carries ``per_batch`` of the learner's examples, each moved and turned a little at random,
and the rest are training images, so that teaching a new way of writing 1 does not make
the network forget its 3s. It runs for a bounded time (or number of steps) and reports the
test accuracy before and after on the original test set, and how many of the learner's
examples the network gets right.

``learn_classes`` trains a fresh network on examples of the learner's own classes (a
circle, a cross, a triangle) the same way, with only their examples in the batches, and
``examples_dataset`` makes them a dataset of the engine like any other (a held-out part
to evaluate on). ``save_folder``/``load_folder`` keep them as an image-folder dataset: one
folder of PNGs per class, the format ``engine.datasets.load`` opens.

Progress and cancellation follow ``engine.tasks``: ``progress(fraction)`` and
``cancelled() -> bool`` (which raises ``engine.errors.Cancelled``); ``stop() -> bool`` ends
the fine-tune early and still gives its result, as Stop does for training.
"""
import math
import os
import pathlib
import re
import shutil
import tempfile
import time

import numpy as np

from engine.core.errors import DataError, EngineError
from engine.core.tasks import Reporter
from engine.data.containers import Dataset, ImageSet, accuracy, predict, to_float
from engine.data.digits import FIELD

#: The learner's examples in each batch of a fine-tune.
PER_BATCH = 4
#: Random changes of a learner's example each time it is used: shift (px) and rotation (degrees).
SHIFT = 2.0
ROTATE = 12.0
SCALE = 0.08
#: A fine-tune's trainer: small steps of sgd with momentum (on the demo network, the test
#: accuracy after teaching stayed within 0.1 point; adadelta's fresh accumulators took
#: steps large enough to cost it 0.2-0.3 points). The experiment's batch size and decay stay.
FINE_TUNE = {"method": "sgd", "learning_rate": 0.005, "momentum": 0.9}
#: Class names: 2 to 10 of them, each a short word that can be a folder's name.
MIN_CLASSES, MAX_CLASSES = 2, 10
NAME_CHARS = 24


def check_class_names(names):
    """The names, stripped, or DataError saying which one cannot be a class (and a folder) name."""
    if not isinstance(names, (list, tuple)):
        raise DataError("class names must be a list of words")
    out = [str(n).strip() for n in names]
    if not MIN_CLASSES <= len(out) <= MAX_CLASSES:
        raise DataError(f"name {MIN_CLASSES} to {MAX_CLASSES} classes, not {len(out)}")
    for n in out:
        if not n:
            raise DataError("a class name is empty")
        if len(n) > NAME_CHARS:
            raise DataError(f"class name {n[:NAME_CHARS]!r}… is longer than {NAME_CHARS} characters")
        if n in (".", "..") or n.startswith(".") or re.search(r'[/\\:*?"<>|\x00-\x1f\x7f]', n):
            raise DataError(f"class name {n!r} cannot be a folder's name: use letters, digits, "
                            f"spaces, - or _")
    low = [n.lower() for n in out]
    dup = sorted({n for n in low if low.count(n) > 1})
    if dup:
        raise DataError(f"class name {dup[0]!r} is given twice")
    return out


def as_pixels(images):
    """Drawn digits (floats in [0, 1], ``(N, H, W)`` or ``(N, H, W, 1)``) or uint8 pixels, as
    uint8 ``(N, H, W, C)`` (how the engine stores images)."""
    a = np.asarray(images)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4:
        raise DataError(f"examples: expected images (N, H, W[, C]), got shape {a.shape}")
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype.kind not in "fiu":
        raise DataError(f"examples: expected numbers, got {a.dtype}")
    a = np.where(np.isfinite(a), a, 0.0)
    return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)


def wiggle(pixels, rng, shift=SHIFT, rotate=ROTATE, scale=SCALE):
    """Each image moved by up to ``shift`` px, turned by up to ``rotate`` degrees and scaled by
    up to ``scale`` (bilinear, about its centre, background 0): uint8 ``(N, H, W, C)`` in, out."""
    n, h, w = pixels.shape[:3]
    if n == 0:
        return pixels
    a = np.deg2rad(rng.uniform(-rotate, rotate, n))
    s = np.exp(rng.uniform(-scale, scale, n))
    d = rng.uniform(-shift, shift, (n, 2))
    cy, cx = (h - 1) / 2, (w - 1) / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    yy, xx = yy - cy, xx - cx
    cos, sin = (np.cos(a) / s)[:, None, None], (np.sin(a) / s)[:, None, None]
    # where each output pixel comes from (the inverse map)
    sy = cos * (yy - d[:, 0, None, None]) - sin * (xx - d[:, 1, None, None]) + cy
    sx = sin * (yy - d[:, 0, None, None]) + cos * (xx - d[:, 1, None, None]) + cx
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    fy, fx = (sy - y0)[..., None], (sx - x0)[..., None]
    src = pixels.astype(np.float32)
    idx = np.arange(n)[:, None, None]

    def at(y, x):
        ok = ((y >= 0) & (y < h) & (x >= 0) & (x < w))[..., None]
        return np.where(ok, src[idx, np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)], 0.0)

    out = (at(y0, x0) * (1 - fy) * (1 - fx) + at(y0, x0 + 1) * (1 - fy) * fx
           + at(y0 + 1, x0) * fy * (1 - fx) + at(y0 + 1, x0 + 1) * fy * fx)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _as_net(net):
    from engine.core.net import Net
    if isinstance(net, Net):
        return net.copy()
    if isinstance(net, dict):
        return Net.from_json(net)
    if hasattr(net, "network"):  # a published copy (the workbench's Weights)
        return net.network()
    raise EngineError(f"teach: expected a Net or a ConvNetJS snapshot, got {type(net).__name__}")


def _right(net, pixels, labels):
    if len(labels) == 0:
        return 0, np.zeros(0, np.int64)
    pred = predict(net, pixels).argmax(axis=1)
    return int(np.sum(pred == labels)), pred


def _test_accuracy(net, test, examples):
    if test is None or len(test) == 0:
        return None
    if examples is not None and examples < len(test):
        test = test.subset(np.arange(examples))
    return accuracy(net, test)


def teach(net, experiment, images, labels, seconds=10.0, steps=None, mix_with="experiment",
          per_batch=PER_BATCH, seed=0, trainer=None, test_examples=None, progress=None,
          cancelled=None, stop=None, on_report=None, report_seconds=0.25):
    """Fine-tune a copy of ``net`` on the learner's examples mixed into the training data.

    Parameters
    ----------
    net : engine.Net or dict
        The network (it is copied, never changed) or a ConvNetJS snapshot object.
    experiment : engine.experiment.Experiment
        Its trainer settings and augmentation (and its data, by default, to mix with).
    images : array
        The learner's examples: drawn digits ``(N, 28, 28)`` floats in [0, 1] (as
        ``engine.digits.to_mnist`` gives them) or uint8 images ``(N, H, W[, C])`` of the
        data's size.
    labels : array of int ``(N,)``
        Their classes (indices into the network's outputs).
    seconds, steps : float, int or None
        Stop after this long or this many parameter updates, whichever comes first
        (at least one of them; tests use ``steps`` so that the outcome is repeatable).
    mix_with : engine.data.Dataset, None or "experiment"
        The training images that fill each batch, and the test set measured before and
        after; "experiment" loads the experiment's data; None trains on the learner's
        examples alone (with no test set).
    per_batch : int
        Learner's examples in each batch (the rest of the experiment's batch size is
        training images).
    seed : int
        Seed of which examples and images go in each batch and how they are moved.
    trainer : dict, optional
        Trainer options that override the experiment's; None: ``FINE_TUNE`` (``{}``: the
        experiment's own, as for a network trained from scratch).
    test_examples : int, optional
        Measure the test accuracy on the first this many test images (default: all).
    progress, cancelled : callables, optional
        ``engine.tasks`` style; a cancel raises ``engine.errors.Cancelled``.
    stop : callable() -> bool, optional
        Asked between steps: True ends the fine-tune early, with its result.
    on_report : callable(dict), optional
        Told about every ``report_seconds`` (and at the end) ``{"tag": "progress", "steps",
        "examples_seen", "cost_loss", "train_accuracy", "examples_accuracy", "seconds"}``:
        the live curves (``examples_accuracy`` is on the learner's examples in the batches).

    Returns
    -------
    (engine.Net, dict)
        The fine-tuned copy, and the report: ``test_accuracy_before``/``_after`` (None
        without a test set), ``test_examples``, ``examples``, ``examples_right_before``/
        ``_after``, ``predictions_before``/``_after`` (per example), ``steps``,
        ``examples_seen``, ``seconds``, ``stopped`` (ended by ``stop``).
    """
    from engine.core.trainer import Trainer
    if seconds is None and steps is None:
        raise EngineError("teach: give a time (seconds) or a number of steps")
    if seconds is not None and not (isinstance(seconds, (int, float)) and math.isfinite(seconds)
                                    and seconds > 0):
        raise EngineError(f"teach: seconds must be a positive number, got {seconds!r}")
    if steps is not None and (isinstance(steps, bool) or int(steps) != steps or steps < 1):
        raise EngineError(f"teach: steps must be a whole number of 1 or more, got {steps!r}")
    report = Reporter(progress, cancelled)
    net = _as_net(net)
    if net.loss_layer.layer_type not in ("softmax", "svm"):
        raise EngineError("teach: the network must classify (softmax or svm), not regress")
    pixels = as_pixels(images)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if len(pixels) == 0:
        raise DataError("teach: there are no examples to learn from: add some first")
    if len(labels) != len(pixels):
        raise DataError(f"teach: {len(pixels)} examples but {len(labels)} labels")
    k = net.num_outputs
    if labels.min() < 0 or labels.max() >= k:
        raise DataError(f"teach: label {int(labels.max() if labels.max() >= k else labels.min())} "
                        f"is not one of the network's {k} classes")
    if isinstance(mix_with, str) and mix_with == "experiment":
        mix_with = experiment.load_data(cancelled=cancelled)
    train = test = None
    if mix_with is not None:
        train, test = mix_with.train, mix_with.test
        if train.shape[:2] != pixels.shape[1:3] or train.shape[2] != pixels.shape[3]:
            raise DataError(f"teach: the examples are {pixels.shape[2]}x{pixels.shape[1]}x"
                            f"{pixels.shape[3]} but the data to mix with is "
                            f"{train.shape[1]}x{train.shape[0]}x{train.shape[2]}")
        if mix_with.num_classes > k:
            raise DataError(f"teach: the data has {mix_with.num_classes} classes but the network "
                            f"outputs {k}")
    report.check()
    before_right, before_pred = _right(net, pixels, labels)
    before_acc = _test_accuracy(net, test, test_examples)
    report.progress(0.02)
    opts = dict(experiment.trainer)
    opts.update(FINE_TUNE if trainer is None else trainer)
    t = Trainer(net, **opts)
    bs = max(1, int(opts["batch_size"]))
    n_own = len(pixels) if train is None else min(max(1, int(per_batch)), bs, len(pixels))
    if train is None:
        bs = max(bs, n_own)
    augment = experiment.build_augment(net, pixels.shape[1:])
    rng = np.random.default_rng(seed)
    own_order, own_pos = rng.permutation(len(pixels)), 0
    done = seen = 0
    sums = [0.0, 0, 0, 0, 0]  # loss*n, right, n, own right, own n
    start = last = time.perf_counter()
    stopped = False

    def emit():
        if on_report is not None and sums[2]:
            on_report({"tag": "progress", "steps": done, "examples_seen": seen,
                       "cost_loss": sums[0] / sums[2], "train_accuracy": sums[1] / sums[2],
                       "examples_accuracy": sums[3] / sums[4] if sums[4] else float("nan"),
                       "seconds": time.perf_counter() - start})
        sums[:] = [0.0, 0, 0, 0, 0]

    while True:
        elapsed = time.perf_counter() - start
        frac = max(elapsed / seconds if seconds else 0.0, done / steps if steps else 0.0)
        if frac >= 1.0:
            break
        report.progress(0.02 + 0.88 * frac)
        if stop is not None and stop():
            stopped = True
            break
        # the learner's examples, in turn, each moved and turned a little
        if own_pos + n_own > len(pixels):
            own_order, own_pos = rng.permutation(len(pixels)), 0
        take = own_order[own_pos:own_pos + n_own]
        own_pos += n_own
        xb = wiggle(pixels[take], rng)
        yb = labels[take]
        if train is not None and bs > n_own:
            idx = np.sort(rng.choice(len(train), bs - n_own, replace=False))
            xb = np.concatenate([xb, train.images[idx]])
            yb = np.concatenate([yb, train.labels[idx]])
        x = to_float(augment(xb, rng))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            stats = t.train(x, yb)
        if not math.isfinite(stats["loss"]):
            raise EngineError("teach: the loss became NaN: the trainer's settings make this network "
                              "diverge (try a smaller learning rate)")
        out = net.layers[-1].out_act.reshape(len(x), -1).argmax(axis=1)
        sums[0] += stats["cost_loss"] * len(x)
        sums[1] += int(np.sum(out == yb))
        sums[2] += len(x)
        sums[3] += int(np.sum(out[:len(take)] == yb[:len(take)]))
        sums[4] += len(take)
        done += 1
        seen += len(x)
        now = time.perf_counter()
        if now - last >= report_seconds:
            last = now
            emit()
    emit()
    elapsed = time.perf_counter() - start
    report.progress(0.9)
    after_right, after_pred = _right(net, pixels, labels)
    after_acc = _test_accuracy(net, test, test_examples)
    report.progress(1.0)
    return net, {"test_accuracy_before": before_acc, "test_accuracy_after": after_acc,
                 "test_examples": None if test is None else min(len(test), test_examples or len(test)),
                 "examples": len(pixels), "examples_right_before": before_right,
                 "examples_right_after": after_right, "predictions_before": before_pred,
                 "predictions_after": after_pred, "steps": done, "examples_seen": seen,
                 "seconds": elapsed, "stopped": stopped}


# -- the learner's own classes ----------------------------------------------------------------

def _checked_examples(images, labels, class_names):
    """``(names, pixels, labels)``: the learner's examples checked against their class names."""
    names = check_class_names(list(class_names))
    pixels = as_pixels(images)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if len(labels) != len(pixels):
        raise DataError(f"{len(pixels)} examples but {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(names)):
        raise DataError(f"label {int(labels.max())} is not one of the {len(names)} classes")
    return names, pixels, labels


def examples_dataset(images, labels, class_names, name="My drawings", test_fraction=0.2, seed=0):
    """The examples as an in-memory ``engine.data.Dataset``: a ``test_fraction`` of each class
    (at least one of a class with two or more) held out to evaluate on."""
    from engine.data.formats._common import split_for_test
    names, pixels, labels = _checked_examples(images, labels, class_names)
    held = split_for_test(labels, test_fraction, seed) if len(labels) else np.zeros(0, bool)
    return Dataset(ImageSet(pixels[~held], labels[~held], "train"), ImageSet(pixels[held], labels[held], "test"),
                   name, len(names), class_names=names, source=None, format="drawn",
                   split=f"{test_fraction:.0%} of each class's drawings held out for testing (seed {seed})")


def fit_experiment(experiment, dataset):
    """``(experiment, changes)``: the experiment with its input and last layer adapted to
    ``dataset`` (``engine.datasets.fit_layer_defs``), trained with every image each epoch."""
    from engine.data.formats import fit_layer_defs
    defs, changes = fit_layer_defs(experiment.layer_defs, dataset)
    return experiment.replace(layer_defs=defs, validation=0), changes


def learn_classes(experiment, dataset, seconds=20.0, steps=None, seed=0, **options):
    """Train a fresh network, the experiment's with its last layer adapted to ``dataset``'s
    classes, on the dataset's training part alone (``teach`` with nothing to mix with).

    Returns ``(net, experiment, report)``; the report adds ``held_out_accuracy`` (on the
    dataset's test part; None when it has none).
    """
    exp, _ = fit_experiment(experiment, dataset)
    net = exp.build_net(seed=seed)
    options.setdefault("trainer", {})  # a fresh network: the experiment's own trainer
    net, report = teach(net, exp, dataset.train.images, dataset.train.labels, seconds=seconds,
                        steps=steps, mix_with=None, seed=seed, **options)
    report["held_out_accuracy"] = accuracy(net, dataset.test) if len(dataset.test) else None
    return net, exp, report


# -- kept as an image folder ------------------------------------------------------------------------

def save_folder(folder, images, labels, class_names):
    """Write the examples as an image-folder dataset: ``folder/<class>/<n>.png``, one folder
    per class (an empty class gets an empty folder).

    ``folder`` must not exist or be an empty folder; everything is written into a temporary
    folder beside it and renamed into place, so a failure leaves nothing half written.
    Returns the number of images written.
    """
    from engine.data.formats.folder import _image_module
    Image = _image_module()
    names, pixels, labels = _checked_examples(images, labels, class_names)
    folder = pathlib.Path(folder)
    if folder.is_symlink() or (folder.exists() and (not folder.is_dir() or any(folder.iterdir()))):
        raise DataError(f"{folder}: already exists and is not an empty folder; choose a new folder's name")
    parent = folder.parent
    if not parent.is_dir():
        raise DataError(f"{parent}: no such folder")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=parent))
    try:
        counts = [0] * len(names)
        for name in names:
            (tmp / name).mkdir()
        for img, c in zip(pixels, labels):
            counts[c] += 1
            arr = img[..., 0] if img.shape[2] == 1 else img
            Image.fromarray(arr).save(tmp / names[c] / f"{counts[c]:04d}.png")
        if folder.exists():
            folder.rmdir()  # empty (checked above)
        os.replace(tmp, folder)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"{folder}: cannot write ({e.strerror or e})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return len(labels)


def load_folder(folder, size=FIELD):
    """``(images, labels, class_names)`` of an image-folder dataset, every image of both parts,
    grey ``(N, size, size)`` uint8 (other sizes are resized; colour becomes grey)."""
    from engine.data.digits import resize
    from engine.data.formats import load
    ds = load(pathlib.Path(folder))
    names = check_class_names(list(ds.class_names))
    images = np.concatenate([ds.train.images, ds.test.images])
    labels = np.concatenate([ds.train.labels, ds.test.labels])
    if images.shape[3] == 3:
        images = np.rint(images.astype(np.float32) @ np.float32([0.299, 0.587, 0.114]))[..., None]
    grey = images[..., 0].astype(np.float64)
    if grey.shape[1:] != (size, size):
        grey = np.stack([resize(g, size, size) for g in grey])
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8), labels.astype(np.int64), names
