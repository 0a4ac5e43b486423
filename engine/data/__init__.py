"""Datasets: the containers the engine keeps images in (``containers``), reading every file
format (``formats``), the bundled MNIST (``mnist``) and drawings made MNIST-like (``digits``).

The names of ``containers`` and ``mnist`` are this package's too (``engine.data.load_mnist``).
"""
from .containers import (
    MNIST_DIR,
    MNIST_FILES,
    RESOURCES,
    Augment,
    Dataset,
    ImageSet,
    accuracy,
    center_crop,
    confusion_matrix,
    crops,
    input_pixels,
    network_input,
    predict,
    split_validation,
    to_float,
)
from .mnist import load_idx_pair, load_mnist, read_idx
