"""Small datasets written in every format the engine reads (for the engine's and the app's tests)."""
import gzip
import pathlib
import struct

import numpy as np


def images(n, h=8, w=8, c=1, classes=3, seed=0):
    """``(x, y)``: uint8 images whose mean brightness depends on the class, labels ``0..classes-1``."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    rng.shuffle(y)
    base = (y * (200 // max(1, classes - 1)))[:, None, None, None]
    x = np.clip(base + rng.integers(0, 56, (n, h, w, c)), 0, 255).astype(np.uint8)
    return x, y


def write_idx(path, arr, code=0x08, gz=False):
    path = pathlib.Path(path)
    arr = np.asarray(arr)
    head = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    raw = head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw, 1) if gz else raw)
    return path


def _idx_images(x):
    return x[..., 0] if x.shape[3] == 1 else x


def write_idx_folder(folder, train, test=None, gz=False):
    """MNIST's four files (or one train pair when ``test`` is None)."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    parts = [("train", train)] + ([("t10k", test)] if test is not None else [])
    for prefix, (x, y) in parts:
        write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", _idx_images(x), gz=gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", np.asarray(y, np.uint8), gz=gz)
    return folder


def write_npz(path, train, test=None, **extra):
    path = pathlib.Path(path)
    if test is None:
        np.savez_compressed(path, x=train[0], y=train[1], **extra)
    else:
        np.savez_compressed(path, x_train=train[0], y_train=train[1], x_test=test[0], y_test=test[1], **extra)
    return path


def csv_text(x, y, header=False):
    rows = x.reshape(len(x), -1)
    lines = []
    if header:
        lines.append("label," + ",".join(f"pixel{i}" for i in range(rows.shape[1])))
    for label, row in zip(y, rows):
        lines.append(f"{int(label)}," + ",".join(map(str, row.tolist())))
    return "\n".join(lines) + "\n"


def write_csv(path, x, y, header=False):
    path = pathlib.Path(path)
    path.write_text(csv_text(x, y, header))
    return path


def write_folder(root, train, test=None, class_names=None, suffix=".png"):
    """One folder per class (``train/`` and ``test/`` when ``test`` is given)."""
    from PIL import Image
    root = pathlib.Path(root)
    parts = [(root / "train", train), (root / "test", test)] if test is not None else [(root, train)]
    for folder, (x, y) in parts:
        for i, (img, label) in enumerate(zip(x, y)):
            name = class_names[label] if class_names else f"class{label}"
            d = folder / name
            d.mkdir(parents=True, exist_ok=True)
            a = img[..., 0] if img.shape[2] == 1 else img
            Image.fromarray(a).save(d / f"{i:05d}{suffix}")
    return root


def as_set(x, y):
    """Images and labels as a sorted list, to compare datasets whatever their order."""
    return sorted((int(label), img.tobytes()) for img, label in zip(x, y))


def write_small_mnist(path, n_train=4000, n_test=1000):
    """The first ``n_train`` training and ``n_test`` test images of the bundled MNIST as an
    .npz at ``path`` (an epoch of 4,000 trains in about a second); returns ``path``."""
    from engine.data import load_mnist
    m = load_mnist()
    np.savez(path, x_train=m.train.images[:n_train, ..., 0], y_train=m.train.labels[:n_train],
             x_test=m.test.images[:n_test, ..., 0], y_test=m.test.labels[:n_test])
    return path
