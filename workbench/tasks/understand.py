"""Understanding the model: the plain-data side (no Qt).

The background tasks behind explanations, unit images and the embedding map, each a
plain function ``task(state, *inputs)`` as in ``jobs``: it reads published ``Weights``
and numpy arrays, reports progress, can be cancelled, and returns dicts of numpy copies.
Also the arithmetic the Evaluate place shows: per-class precision, recall and F1, and
which test examples a confusion-matrix cell holds, in the order the gallery lists them.
"""
import time

import numpy as np

from engine.data import network_input
from engine.understand.embedding import knn_agreement
from engine.understand.explain import in_image_frame

#: Method names as the engine takes them, with the words the views show.
METHODS = {"saliency": "Saliency", "gradient_x_input": "Gradient × input",
           "occlusion": "Occlusion", "grad_cam": "Grad-CAM"}
#: Maps whose sign means something (negative: evidence against the class).
SIGNED = ("gradient_x_input", "occlusion")

#: The orders the confused examples' gallery offers: (key, words).
VIEWS = (("most_wrong", "Most wrong (most confident first)"),
         ("least_sure", "Least sure (smallest margin first)"),
         ("class", "All of the true class (least sure of it first)"))


# -- Evaluate: per-class figures and the examples of a cell ------------------------------
def class_metrics(matrix):
    """Per-class ``precision``, ``recall``, ``f1`` and ``support`` from a confusion matrix.

    ``matrix[i, j]`` counts examples of true class ``i`` predicted as ``j``. Precision of
    ``c``: of the examples predicted ``c``, the fraction that are ``c`` (``m[c, c]`` over
    column ``c``); recall: of the examples of ``c``, the fraction predicted ``c`` (over row
    ``c``); F1 their harmonic mean. A ratio with nothing to divide by is NaN.
    """
    m = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(m)
    predicted, actual = m.sum(axis=0), m.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, np.nan)
        recall = np.where(actual > 0, tp / actual, np.nan)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), np.nan)
    f1 = np.where(np.isnan(precision) | np.isnan(recall), np.nan, f1)
    return {"precision": precision, "recall": recall, "f1": f1, "support": actual.astype(np.int64)}


def margins(probs):
    """Top probability minus the second (how sure the network was of its answer)."""
    top2 = np.partition(probs, -2, axis=1)[:, -2:] if probs.shape[1] > 1 else np.c_[probs * 0, probs]
    return top2[:, 1] - top2[:, 0]


def cell_examples(probs, labels, true, predicted, view="most_wrong"):
    """Indices of the test examples of the cell (``true``, ``predicted``), in ``view``'s order.

    ``most_wrong``: the cell's examples, the most confident in ``predicted`` first;
    ``least_sure``: the cell's examples, the smallest margin between the top two
    classes first; ``class``: every example of class ``true`` (whatever was predicted),
    the least probable for ``true`` first. Ties keep the test set's order.
    """
    probs = np.asarray(probs)
    labels = np.asarray(labels)
    pred = probs.argmax(axis=1)
    if view == "class":
        idx = np.flatnonzero(labels == true)
        key = probs[idx, true]
    else:
        idx = np.flatnonzero((labels == true) & (pred == predicted))
        if view == "most_wrong":
            key = -probs[idx, predicted]
        elif view == "least_sure":
            key = margins(probs[idx])
        else:
            raise ValueError(f"unknown view {view!r}")
    return idx[np.argsort(key, kind="stable")]


def validation_indices(n_train, validation, seed=0):
    """Indices (into the training images) of the validation images a run holds out:
    the same as ``engine.data.split_validation`` picks (its permutation, sorted)."""
    if not validation:
        return np.zeros(0, np.int64)
    if 0 < validation < 1:
        validation = int(round(n_train * validation))
    order = np.random.default_rng(seed).permutation(n_train)
    return np.sort(order[:int(validation)])


# -- tasks ---------------------------------------------------------------------------------
def explain_example(state, weights, pixels, cls, method, layer=None, frame=None, source=None,
                    name="", label=None):
    """An explanation map of one example, placed in the frame of its whole image.

    ``pixels``: stored pixels ``(H, W, C)`` uint8, or a drawn digit (28x28 floats);
    ``cls``: the class to explain (None: the predicted one). Returns ``map`` ``(H, W)``,
    ``probs``, ``predicted``, ``class``, ``method``, ``signed``, ``crop`` (the centre the
    network sees, when it crops) and, passed through, ``pixels``, ``frame``, ``source``,
    ``name``, ``label``, ``version``, with ``ms``, the time it took.
    """
    t0 = time.perf_counter()
    state.check()
    x = network_input(np.asarray(pixels)[None], weights.input_shape)
    probs = np.array(weights.forward(x).reshape(-1), dtype=np.float32)
    predicted = int(np.argmax(probs))
    c = predicted if cls is None else int(cls)
    options = {"layer": layer} if method == "grad_cam" and layer is not None else {}
    state.check()
    m = weights.explain(x, [c], method, **options)
    h, w = np.asarray(pixels).shape[:2]
    full = in_image_frame(m, h, w)[0]
    sy, sx = x.shape[1:3]
    return {"map": full, "probs": probs, "predicted": predicted, "class": c, "method": method,
            "layer": layer, "signed": method in SIGNED, "crop": (sy, sx) if (sy, sx) != (h, w) else None,
            "pixels": pixels, "frame": frame, "source": source, "name": name, "label": label,
            "version": weights.version, "ms": (time.perf_counter() - t0) * 1000}


def make_unit_images(state, weights, layer=None):
    """What each unit wants: one image per class (``layer`` None) or per channel of ``layer``.

    Returns ``images`` ``(U, H, W, C)`` float32 in [0, 1], ``layer``, ``units`` (count),
    ``class_probs`` (for classes: the probability each image gets for its own class),
    ``version``, ``seconds``.
    """
    t0 = time.perf_counter()
    imgs = weights.unit_images(layer, progress=state.set_progress, cancelled=lambda: state.cancelled)
    out = {"images": np.clip(imgs + 0.5, 0, 1).astype(np.float32), "layer": layer, "units": len(imgs),
           "class_probs": None, "version": weights.version, "examples_seen": weights.examples_seen}
    if layer is None and weights.loss_type == "softmax":
        p = weights.forward(imgs).reshape(len(imgs), -1)
        out["class_probs"] = p[np.arange(len(imgs)), np.arange(len(imgs))].astype(np.float32)
    out["seconds"] = time.perf_counter() - t0
    return out


def embed_images(state, weights, images, labels, indices, kind, layer=None, method="tsne"):
    """The embedding map: ``layer``'s activations for ``images`` laid out by ``method``.

    t-SNE hands out its layout as it forms (``state.set_partial``). Returns ``points``
    ``(N, 2)``, ``labels``, ``indices`` (into the ``kind`` set, "test" or "train"),
    ``probs`` (the network's answer for each), ``knn`` (5-nearest-neighbour agreement of the map with the labels), ``layer``,
    ``method``, ``version``, ``seconds``.
    """
    t0 = time.perf_counter()
    state.check()
    x = network_input(images, weights.input_shape)
    base = {"labels": labels, "indices": indices, "kind": kind, "layer": layer, "method": method,
            "version": weights.version}

    def partial(points):
        state.set_partial(dict(base, points=np.asarray(points, np.float32), partial=True))

    points, _ = weights.embed(x, layer, method, progress=state.set_progress,
                              cancelled=lambda: state.cancelled, partial=partial)
    points = np.asarray(points, np.float32)
    state.check()
    probs = weights.forward(x).reshape(len(x), -1).astype(np.float32)  # for the gallery's bars
    return dict(base, points=points, partial=False, knn=knn_agreement(points, labels), probs=probs,
                seconds=time.perf_counter() - t0)
