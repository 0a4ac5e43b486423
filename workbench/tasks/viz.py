"""Plain-data pictures of a network's internals, made off the GUI thread.

``network_state`` runs one example through published ``Weights`` with ``trace``
and returns only numpy copies and numbers: what the Inspect view draws.
"""
import numpy as np


def network_state(weights, x, label=None, source=""):
    """Activations, gradients and weights of every layer for one example.

    Parameters
    ----------
    weights : workbench.weights.Weights
    x : ndarray (1, sy, sx, depth)
        The example as the network takes it (``engine.data.network_input``).
    label : int, optional
        The class used for the backward pass (default: the predicted one).

    Returns
    -------
    dict
        ``layers`` (one dict per layer: ``act``, ``grad``, ranges, ``filters`` /
        ``filter_grads`` for conv, ``weights`` for fc), ``probs``, ``label``,
        ``predicted``, ``source``, and ``weights`` and ``input``: what it was made
        from, so that anybody can check it against a fresh trace.
    """
    classify = weights.loss_type != "regression"
    if classify and label is not None:
        trace = weights.trace(x, [int(label)])
    else:
        trace = weights.trace(x)
        if classify:  # the gradient of the predicted class
            trace = weights.trace(x, [int(np.argmax(trace.output.reshape(-1)))])
    probs = np.array(trace.output.reshape(-1), dtype=np.float32)
    grads = trace.grads is not None
    layers = []
    for info, act_batch in zip(weights.layers, trace.acts):
        i = info["index"]
        act = np.array(act_batch[0], dtype=np.float32)
        g = trace.grads[i] if grads else None
        grad = np.array(g[0], dtype=np.float32) if g is not None else None
        entry = dict(info, act=act, grad=grad, act_range=(float(act.min()), float(act.max())),
                     grad_range=(float(grad.min()), float(grad.max())) if grad is not None else None)
        if info["type"] in ("conv", "fc"):
            first = np.array(weights.layer_params(i)[0], dtype=np.float32)
            if info["type"] == "conv":  # (filters, sy, sx, depth)
                entry["filters"] = first
                entry["filter_grads"] = (np.array(trace.param_grads[weights.param_slot(i)], dtype=np.float32)
                                         if grads else None)
            else:  # (neurons, inputs)
                entry["weights"] = first
        layers.append(entry)
    return {"layers": layers, "probs": probs, "label": label, "predicted": int(np.argmax(probs)),
            "source": source, "weights": weights, "input": x, "loss": trace.loss}


def mosaic(maps, pad=1, columns=None, fill=np.nan):
    """Tile ``(h, w, n)`` maps into one 2-D image, ``columns`` per row (default: near square)."""
    h, w, n = maps.shape
    cols = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), fill, dtype=np.float32)
    for k in range(n):
        r, c = divmod(k, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = maps[:, :, k]
    return out
