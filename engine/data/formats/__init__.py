"""Image classification datasets in every format the engine reads, behind one ``load``.

    ds = engine.datasets.load("path/to/data")          # format detected
    ds.train.images   # uint8 (N, H, W, C), C 1 (grey) or 3 (RGB)
    ds.class_names, ds.format, ds.source, ds.notes
    print(json.dumps(engine.datasets.summary(ds)))

Formats (see each module):
- ``idx``: MNIST's IDX files, raw or gzipped: a folder with training and test pairs, a folder
  with one pair, or one images file with its labels file beside it (``engine.datasets.idx``).
- ``npz``: NumPy archives with ``x_train, y_train, x_test, y_test`` or ``x, y`` (``.npz``).
- ``csv``: a label column then one column per pixel, as the MNIST/Fashion-MNIST CSV files.
- ``folder``: a folder of images per class, with ``train/`` and ``test/`` or split by the tool.

A source without a test part is split by the tool: 20% of each class, at random with a fixed
seed, so the same files always give the same split.

``load`` takes ``progress(done, total)`` (called on the loading thread, counts only grow) and
``cancelled()`` (polled between pieces of work; true raises ``LoadCancelled``), so the app can
load on a worker thread with a progress bar and a Cancel button. Bad input raises
``DataError`` naming the file; nothing is returned half-loaded. Sizes beyond ``max_bytes`` of
uint8 images are refused before anything is allocated.
"""
import logging
import pathlib

import numpy as np

from engine.core.errors import DataError
from engine.core.io import open_regular
from engine.data.containers import MNIST_DIR, Dataset
from engine.data.formats._common import MAX_BYTES, TEST_FRACTION, LoadCancelled, LoadJob, PixelScale
from engine.data.formats.fit import check_fit, fit_layer_defs, fit_problems, size_fits
from engine.data.formats.folder import read_image

log = logging.getLogger(__name__)

FORMATS = ("idx", "npz", "csv", "folder")

__all__ = ["load", "detect", "summary", "describe", "check_fit", "fit_layer_defs", "fit_problems",
           "size_fits", "Dataset", "DataError", "LoadCancelled", "MAX_BYTES", "TEST_FRACTION", "FORMATS",
           "PixelScale", "read_image", "pixel_stats"]


def _pair(path):
    """``"images,labels"`` (as the CLI takes an IDX pair) as two paths, or None."""
    if isinstance(path, (tuple, list)):
        return tuple(pathlib.Path(p) for p in path)
    text = str(path)
    if "," in text and not pathlib.Path(text).exists():
        a, b = text.split(",", 1)
        return pathlib.Path(a), pathlib.Path(b)
    return None


def detect(path):
    """The format of the dataset at ``path``: one of ``FORMATS``. DataError if it is none of them."""
    from engine.data.formats import csvfile, folder, idx
    if _pair(path) is not None:
        return "idx"
    path = pathlib.Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        try:
            entries = [p for p in path.iterdir() if not p.name.startswith(".")]
        except OSError as e:
            raise DataError(f"{path}: cannot list ({e.strerror or e})") from None
        files = [p for p in entries if p.is_file()]
        if idx.idx_candidates(path) and any(idx.looks_like_idx(p) for p in idx.idx_candidates(path)):
            return "idx"
        npz = [p for p in files if p.suffix.lower() == ".npz"]
        if len(npz) == 1 and not folder.has_class_folders(path):
            return "npz"
        if any(csvfile.is_csv_name(p) for p in files) and not folder.has_class_folders(path):
            return "csv"
        if folder.has_class_folders(path):
            return "folder"
        raise DataError(f"{path}: found no dataset in it (IDX files, an .npz file, CSV files, "
                        f"or one folder of images per class)")
    name = path.name.lower()
    if name.endswith(".npz"):
        return "npz"
    if csvfile.is_csv_name(path):
        return "csv"
    try:
        with open_regular(path, DataError) as f:
            head = f.read(4)
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if head[:2] == b"PK":
        return "npz"
    if idx.looks_like_idx(path):
        return "idx"
    raise DataError(f"{path.name}: not a dataset the engine reads (IDX files, .npz, .csv, "
                    f"or a folder of images per class)")


def load(path=None, progress=None, cancelled=None, max_bytes=MAX_BYTES):
    """The dataset at ``path`` (None: the bundled MNIST), its format detected.

    Parameters
    ----------
    path : str, path, (images, labels) or None
        A file or folder in one of ``FORMATS``; an IDX pair as two paths (or "images,labels").
    progress : callable(done, total), optional
    cancelled : callable() -> bool, optional
    max_bytes : int
        The most memory the images may take as uint8.

    Raises
    ------
    DataError
        The data cannot be read, or does not make a dataset; the message names the file.
    LoadCancelled
        ``cancelled()`` said so.
    """
    from engine.data.formats import csvfile, folder, idx, npz
    job = LoadJob(progress, cancelled, max_bytes)
    if path is None:
        ds = idx.load_pairs(idx.find_pairs(MNIST_DIR), job, "MNIST", "bundled", None)
    elif _pair(path) is not None:
        pair = _pair(path)
        for p in pair:
            if not p.is_file():
                raise DataError(f"{p}: no such file")
        ds = idx.load_idx(pair, job)
    else:
        loader = {"idx": idx.load_idx, "npz": npz.load_npz, "csv": csvfile.load_csv,
                  "folder": folder.load_folder}[detect(path)]
        ds = loader(pathlib.Path(path), job)
    job.finish()
    log.info("loaded %s (%s): %d training and %d test images of %s, %d classes", ds.name,
             "bundled" if path is None else path, len(ds.train), len(ds.test),
             "x".join(map(str, ds.image_shape)), ds.num_classes)
    return ds


def _per_class(labels, k):
    return np.bincount(labels, minlength=k)[:k].tolist() if len(labels) else [0] * k


def pixel_stats(images, chunk=None):
    """Per-channel mean and standard deviation of uint8 images (in 0..255), without a float copy
    of them: ``chunk`` images at a time (default: about ``limits.STATS_CHUNK`` pixel values)."""
    from engine.core.limits import STATS_CHUNK
    c = images.shape[-1]
    if chunk is None:
        chunk = max(1, STATS_CHUNK // max(1, int(np.prod(images.shape[1:]))))
    n = 0
    s = np.zeros(c)
    s2 = np.zeros(c)
    for start in range(0, len(images), chunk):
        x = images[start:start + chunk].reshape(-1, c).astype(np.float64)
        n += len(x)
        s += x.sum(axis=0)
        s2 += np.square(x).sum(axis=0)
    if n == 0:
        return [0.0] * c, [0.0] * c
    mean = s / n
    std = np.sqrt(np.maximum(s2 / n - mean ** 2, 0.0))
    return mean.tolist(), std.tolist()


def summary(ds):
    """A dataset described as plain JSON-able data (``python -m engine data`` prints it)."""
    h, w, c = ds.image_shape
    mean, std = pixel_stats(ds.train.images)
    return {"name": ds.name, "format": ds.format, "source": ds.source, "image_shape": [h, w, c],
            "channels": "grey" if c == 1 else "RGB", "num_classes": ds.num_classes,
            "class_names": list(ds.class_names), "train": len(ds.train), "test": len(ds.test),
            "train_per_class": _per_class(ds.train.labels, ds.num_classes),
            "test_per_class": _per_class(ds.test.labels, ds.num_classes),
            "split": ds.split, "pixel_mean": [round(v, 3) for v in mean],
            "pixel_std": [round(v, 3) for v in std], "notes": list(ds.notes)}


def describe(ds):
    """One line for progress and summary lines: "MNIST (28x28 grey, 10 classes)"."""
    h, w, c = ds.image_shape
    return f"{ds.name} ({w}x{h} {'grey' if c == 1 else 'RGB'}, {ds.num_classes} classes)"
