"""The proof an export gives: the exported model's outputs against the engine's.

Inputs are dataset images as the network takes them (``engine.data.network_input``:
centre crop, ``p/255 - 0.5``): the experiment's test images, else MNIST's bundled
test images, else (a network whose input no such image fits) seeded uniform noise
in the same range. Outputs must agree to ``tolerance`` in absolute terms; for raw
scores and values (svm, regression) the tolerance scales with the largest output
magnitude, since float32 rounding does.
"""
import pathlib

import numpy as np

from ..data import MNIST_DIR, MNIST_FILES, load_idx_pair, network_input
from ..errors import EngineError

DEFAULT_EXAMPLES = 1000
DEFAULT_TOLERANCE = 1e-5

OUTPUT_KINDS = {"softmax": "probabilities", "svm": "scores", "regression": "values"}


def dataset_test_images(experiment=None):
    """``(images uint8 (N, H, W, C), labels, description)`` of the test set the experiment
    names (an MNIST-style IDX folder), else the bundled MNIST test set."""
    folders = []
    if experiment is not None and experiment.data:
        folders.append(pathlib.Path(experiment.data))
    folders.append(MNIST_DIR)
    for folder in folders:
        try:
            test = load_idx_pair(*(folder / f for f in MNIST_FILES["test"]), name="test")
        except EngineError:
            continue
        label = "MNIST" if folder == MNIST_DIR else str(folder)
        return test.images, test.labels, f"{label} test images"
    return None, None, ""


def parity_inputs(net, experiment=None, examples=DEFAULT_EXAMPLES, images=None):
    """``(x, labels, description)``: ``x`` float32 ``(N, sy, sx, depth)`` for ``net``.

    ``images``: uint8 images to use instead of the test set (all of them).
    """
    sy, sx, depth = net.input_shape
    labels, what = None, ""
    if images is None:
        images, labels, what = dataset_test_images(experiment)
        if images is not None:
            images, labels = images[:examples], labels[:examples]
    else:
        what = "given images"
    if images is not None:
        try:
            x = network_input(images, net.input_shape)
            crop = "" if images.shape[1:3] == (sy, sx) else f", centre-cropped to {sx}x{sy}"
            return x, labels, f"{len(x):,} {what}{crop}, scaled p/255 - 0.5"
        except EngineError:
            pass  # the network's input does not fit these images
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, (examples, sy, sx, depth)).astype(np.float32)
    return x, None, (f"{examples:,} random {sx}x{sy}x{depth} inputs in [-0.5, 0.5] "
                     f"(no dataset image fits the network's input)")


def engine_outputs(net, x, batch=500):
    """The engine's outputs for ``x``, ``(N, K)`` (inference, batches of ``batch``)."""
    return np.concatenate([net.forward(x[i:i + batch]).reshape(len(x[i:i + batch]), -1)
                           for i in range(0, len(x), batch)])


def compare(reference, outputs, loss_type, tolerance=DEFAULT_TOLERANCE):
    """The parity figures of ``outputs`` against the engine's ``reference`` (both ``(N, K)``)."""
    reference = np.asarray(reference, dtype=np.float64)
    outputs = np.asarray(outputs, dtype=np.float64).reshape(reference.shape)
    kind = OUTPUT_KINDS[loss_type]
    scale = 1.0 if kind == "probabilities" else max(1.0, float(np.max(np.abs(reference))))
    finite = bool(np.all(np.isfinite(outputs)))
    diff = float(np.max(np.abs(outputs - reference))) if finite else float("inf")
    report = {"output": kind, "examples": int(len(reference)), "max_abs_difference": diff,
              "tolerance": tolerance * scale,
              "argmax_agreement": None, "passed": finite and diff <= tolerance * scale}
    if reference.shape[1] > 1 and loss_type != "regression":
        report["argmax_agreement"] = float(np.mean(reference.argmax(1) == outputs.argmax(1)))
    return report


def describe(report):
    """One line: ``max abs difference 3.1e-08 (tolerance 1e-05), argmax agreement 100.00%``."""
    text = f"max abs difference {report['max_abs_difference']:.3g} (tolerance {report['tolerance']:.3g})"
    if report.get("argmax_agreement") is not None:
        text += f", argmax agreement {100 * report['argmax_agreement']:.2f}%"
    return text
