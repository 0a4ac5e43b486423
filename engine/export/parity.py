"""The proof an export gives: the exported model's outputs against the engine's.

Inputs are dataset images as the network takes them (``engine.data.network_input``:
centre crop, ``p/255 - 0.5``): the test images of the dataset in use (given, or the
experiment's data in any format the engine reads), else MNIST's bundled test images,
the first of them that fits the network's input; else seeded uniform noise in the
same range. Outputs must agree to ``tolerance`` in absolute terms; for raw
scores and values (svm, regression) the tolerance scales with the largest output
magnitude, since float32 rounding does.
"""

import numpy as np

from engine.core.errors import EngineError
from engine.data.containers import MNIST_DIR, MNIST_FILES, network_input
from engine.data.mnist import load_idx_pair

DEFAULT_EXAMPLES = 1000
DEFAULT_TOLERANCE = 1e-5

OUTPUT_KINDS = {"softmax": "probabilities", "svm": "scores", "regression": "values"}


def parity_test_sets(experiment=None, dataset=None):
    """The test sets an export may check on, best first, each ``(images uint8 (N, H, W, C),
    labels, description)``: ``dataset``'s (the one in use, already loaded), the experiment's
    data (any format ``engine.datasets.load`` reads), then the bundled MNIST test set.
    Each is loaded only when the one before it does not do (a generator)."""
    if dataset is not None and len(dataset.test):
        yield dataset.test.images, dataset.test.labels, f"{dataset.name} test images"
    if experiment is not None and experiment.data:
        from engine.data.formats import load
        try:
            ds = load(experiment.data)
        except EngineError:
            ds = None  # moved, unreadable: the next set
        if ds is not None and len(ds.test):
            yield ds.test.images, ds.test.labels, f"{ds.name} test images"
    try:
        test = load_idx_pair(*(MNIST_DIR / f for f in MNIST_FILES["test"]), name="test")
    except EngineError:
        return
    yield test.images, test.labels, "MNIST test images"


def dataset_test_images(experiment=None, dataset=None):
    """``(images, labels, description)`` of the first of ``parity_test_sets``; ``(None, None, "")``
    when there is none."""
    return next(parity_test_sets(experiment, dataset), (None, None, ""))


def parity_inputs(net, experiment=None, examples=DEFAULT_EXAMPLES, images=None, dataset=None):
    """``(x, labels, description)``: ``x`` float32 ``(N, sy, sx, depth)`` for ``net``.

    The first of ``parity_test_sets(experiment, dataset)`` whose images fit the network's input
    (as they are, or centre-cropped to it as training with a crop evaluates), its first
    ``examples``; else seeded uniform noise. ``images``: uint8 images to use instead
    (all of them).
    """
    sy, sx, depth = net.input_shape
    if images is not None:
        candidates = [(images, None, "given images")]
    else:
        candidates = ((im[:examples], lab[:examples], what)
                      for im, lab, what in parity_test_sets(experiment, dataset))
    for images, labels, what in candidates:
        try:
            x = network_input(images, net.input_shape)
        except EngineError:
            continue  # the network's input does not fit these images
        crop = "" if images.shape[1:3] == (sy, sx) else f", centre-cropped to {sx}x{sy}"
        return x, labels, f"{len(x):,} {what}{crop}, scaled p/255 - 0.5"
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
