"""Background tasks about the data: loading a dataset, the dataset view's numbers and pictures,
and asking the network about a picture of the dataset's kind.

Plain functions ``task(state, *inputs)`` as in ``jobs``: they need no Qt, check ``state``
for cancellation and return plain data.
"""
import os
import time

import numpy as np

from engine.data import formats as datasets
from engine.data import network_input

#: Samples per class in the dataset view's grid.
SAMPLES_PER_CLASS = 24

#: Classes shown in the grid (a dataset of hundreds of classes shows its first ones).
GRID_CLASSES = 100


def normalize_path(path):
    """A dataset path as the session keeps it: absolute (each part of an "images,labels" pair);
    None (the bundled MNIST) stays None."""
    if path is None:
        return None
    path = str(path)
    parts = [path]
    if "," in path and not os.path.exists(os.path.expanduser(path)):
        parts = path.split(",", 1)
    return ",".join(os.path.abspath(os.path.expanduser(p.strip())) for p in parts)


def missing_part(path):
    """The first part of ``path`` that does not exist, or None (None: the bundled MNIST)."""
    if path is None:
        return None
    parts = [path] if os.path.exists(path) or "," not in path else path.split(",", 1)
    return next((p for p in parts if not os.path.exists(p)), None)


def dataset_path(dataset):
    """Where a loaded dataset came from, as ``normalize_path`` gives it (None: bundled)."""
    return None if dataset.source in (None, "bundled") else normalize_path(dataset.source)


def load_dataset(state, path, min_interval=0.05):
    """``engine.datasets.load(path)`` with progress and cancellation from ``state``.

    Progress reaches the GUI at most every ``min_interval`` seconds (a folder of 10,000 files
    reports once a file; each report is a queued signal).
    """
    last = [0.0, -1.0]

    def progress(done, total):
        now = time.monotonic()
        if done >= total or now - last[0] >= min_interval:
            last[0] = now
            state.set_progress(done / max(1, total))

    return datasets.load(path, progress=progress, cancelled=lambda: state.cancelled)


def _class_sums(images, labels, k, state, chunk=None):
    """Per-class sums of the images ``(k, H*W*C)`` float64, a chunk of images at a time (about
    ``limits.STATS_CHUNK`` pixel values), each chunk's rows sorted by class and summed."""
    from engine.core.limits import STATS_CHUNK
    n = len(images)
    flat = images.reshape(n, -1)
    sums = np.zeros((k, flat.shape[1]), np.float64)
    chunk = chunk or max(1, STATS_CHUNK // max(1, flat.shape[1]))
    for start in range(0, n, chunk):
        state.check()
        lab = labels[start:start + chunk]
        order = np.argsort(lab, kind="stable")
        x = flat[start:start + chunk][order].astype(np.float64)
        classes, first = np.unique(lab[order], return_index=True)
        sums[classes] += np.add.reduceat(x, first, axis=0)
        state.set_progress(0.8 * min(1.0, (start + chunk) / max(1, n)))
    return sums


def dataset_overview(state, dataset, version, samples=SAMPLES_PER_CLASS, seed=0):
    """What the dataset view shows, as plain data.

    Returns a dict: ``version`` (the session's dataset version it describes), ``name``,
    ``format``, ``source``, ``split``, ``notes``, ``image_shape`` (H, W, C), ``class_names``,
    ``train_counts``/``test_counts`` per class, ``mean_image`` (H, W, C) float32 of the
    training images, ``class_means`` (K, H, W, C) float32, ``samples`` (a list per class of
    uint8 images, up to ``samples`` each, chosen at random with a fixed seed), and the pixel
    statistics per channel in 0..255: ``pixel_mean``, ``pixel_std``, ``pixel_min``, ``pixel_max``.
    """
    tr, te = dataset.train, dataset.test
    k = dataset.num_classes
    h, w, c = dataset.image_shape
    state.check()
    train_counts = np.bincount(tr.labels, minlength=k)[:k]
    test_counts = np.bincount(te.labels, minlength=k)[:k] if len(te) else np.zeros(k, np.int64)
    sums = _class_sums(tr.images, tr.labels, k, state)
    class_means = (sums / np.maximum(train_counts, 1)[:, None]).astype(np.float32).reshape(k, h, w, c)
    mean_image = (sums.sum(axis=0) / max(1, len(tr))).astype(np.float32).reshape(h, w, c)
    state.check()
    mean, std = datasets.pixel_stats(tr.images)
    state.set_progress(0.95)
    lo = tr.images.reshape(-1, c).min(axis=0) if len(tr) else np.zeros(c)
    hi = tr.images.reshape(-1, c).max(axis=0) if len(tr) else np.zeros(c)
    rng = np.random.default_rng(seed)
    picks = []
    for cls in range(min(k, GRID_CLASSES)):
        idx = np.flatnonzero(tr.labels == cls)
        if len(idx) > samples:
            idx = np.sort(rng.choice(idx, samples, replace=False))
        picks.append(tr.images[idx].copy())
    return {"version": version, "name": dataset.name, "format": dataset.format, "source": dataset.source,
            "split": dataset.split, "notes": list(dataset.notes), "image_shape": (h, w, c),
            "class_names": list(dataset.class_names), "train_counts": train_counts,
            "test_counts": test_counts, "mean_image": mean_image, "class_means": class_means,
            "samples": picks, "pixel_mean": list(mean), "pixel_std": list(std),
            "pixel_min": [int(v) for v in lo], "pixel_max": [int(v) for v in hi]}


def predict_picture(state, weights, pixels):
    """Draw's answer for a picture of the dataset's kind (uint8 ``(H, W, C)``), as
    ``jobs.predict_digit`` answers for a drawn digit (``probs`` or ``message``, ``crop``, ``ms``)."""
    t0 = time.perf_counter()
    out = {"crop": None, "untrained": weights.untrained, "version": weights.version, "weights": weights}
    sy, sx, depth = weights.input_shape
    h, w, c = pixels.shape
    if depth != c:
        out["message"] = (f"This network takes {depth}-channel images; the picture has {c}. "
                          f"Adapt the network to the data in Build.")
    elif not datasets.size_fits((sy, sx), (h, w)):
        out["message"] = (f"This network's input is {sx}x{sy}; pictures become {w}x{h} images like "
                          f"the dataset's. Adapt the network to the data in Build.")
    elif weights.loss_type == "regression":
        out["message"] = "This network does regression, not classification."
    else:
        if (sy, sx) != (h, w):
            out["crop"] = sy
        state.check()
        x = out["input"] = network_input(pixels[None], weights.input_shape)
        out["probs"] = np.array(weights.forward(x).reshape(-1), dtype=np.float32)
    out["ms"] = (time.perf_counter() - t0) * 1000
    return out
