"""The bundled MNIST and IDX image/label pairs, read through ``engine.data.formats``."""
import pathlib

import numpy as np

from engine.core.errors import DataError

from .containers import ImageSet


def read_idx(path):
    """Read an IDX file (gzip or raw) into an ndarray (see ``engine.datasets.idx``).

    Raises
    ------
    DataError
        If the file is not IDX, is truncated or holds an unknown type.
    """
    from engine.data.formats.idx import read_idx as read
    return read(path)


def load_idx_pair(images_path, labels_path, name=""):
    """An ImageSet from an IDX images file and an IDX labels file."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise DataError(f"{pathlib.Path(images_path).name}: expected uint8 images "
                        f"(N, H, W[, C]), got {images.dtype} {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{pathlib.Path(labels_path).name}: expected one label per image")
    return ImageSet(images, labels, name)


def load_mnist(directory=None):
    """The bundled MNIST (or the IDX files in ``directory``; ``engine.datasets.load`` reads every format)."""
    from engine.data.formats import load
    return load(None if directory is None else pathlib.Path(directory))
