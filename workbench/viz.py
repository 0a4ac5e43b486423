"""Plain-data pictures of a network's internals, made off the GUI thread.

``network_state`` runs one example through a *copy* of the network and returns
only numpy copies and numbers: what the Inspect views draw. Views never touch the
arrays the training thread is updating.
"""
import numpy as np

from engine.data import input_pixels, to_float


def network_state(net, pixels, label=None, source=""):
    """Activations, gradients and weights of every layer for one example.

    Parameters
    ----------
    net : engine.Net (a copy the caller owns)
    pixels : uint8 (H, W, C) image, or float (sy, sx, depth) already scaled
    label : int, optional — the class used for the backward pass (default: predicted)
    """
    if pixels.dtype == np.uint8:
        x = to_float(input_pixels(pixels[None], net.input_shape))
    else:
        x = np.asarray(pixels, dtype=net.dtype)[None]
    probs = net.forward(x).reshape(-1)
    y = int(np.argmax(probs)) if label is None else int(label)
    grads = True
    if net.loss_layer.layer_type != "regression":
        net.backward(np.array([y]), input_grad=True)
    else:
        grads = False
    layers = []
    for i, layer in enumerate(net.layers):
        act = np.array(layer.out_act[0], dtype=np.float32)
        g = layer.out_grad
        grad = np.array(g[0], dtype=np.float32) if grads and g is not None else None
        entry = {"index": i, "type": layer.layer_type, "description": layer.describe(),
                 "shape": (layer.out_sx, layer.out_sy, layer.out_depth), "params": layer.n_params,
                 "act": act, "grad": grad,
                 "act_range": (float(act.min()), float(act.max())),
                 "grad_range": (float(grad.min()), float(grad.max())) if grad is not None else None}
        if layer.layer_type == "conv":
            entry["filters"] = np.array(layer.weights, dtype=np.float32)
            entry["filter_grads"] = np.array(layer.dweights, dtype=np.float32) if grads else None
        elif layer.layer_type == "fc":
            entry["weights"] = np.array(layer.weights, dtype=np.float32)
            entry["in_shape"] = (layer.in_sy, layer.in_sx, layer.in_depth)
        layers.append(entry)
    return {"layers": layers, "probs": probs.astype(np.float32), "label": label,
            "predicted": int(np.argmax(probs)), "source": source}


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
