"""Which pixels made the network say what it said: four explanation maps and a test of them.

Each method is called as ``f(net, x, classes)`` with a batch ``x`` ``(N, H, W, C)`` in the
network's input scaling (``engine.data.network_input``) and ``classes`` ``(N,)``, the class
to explain for each example; it returns maps ``(N, H, W)`` float32 where higher means more
important for that class.

What the gradient methods differentiate (``target``): by default the class's *centred
score*, ``s_c - mean_k s_k``, with ``s`` the scores the loss layer takes (for softmax the
logits). A softmax ignores a shift of all the scores together, so only their differences
mean anything, and a pixel that raises every score alike is no evidence for one class.
The raw score ``s_c`` (``target="score"``, Simonyan et al.'s choice) mixes that shift in:
on the trained demo network every class's logit is negative, even the predicted one, and
the deletion test below gives it much worse figures (docs/understand.md). ``"log_probability"``
(softmax only) is ``log p_c``: a contrast with the classes the network finds likely.

- ``saliency``: ``max over channels of |d target / d x|``. How sensitive the class is to
  each pixel, whichever way; it says nothing about what the pixel holds.
- ``gradient_x_input``: ``sum over channels of (d target / d x) * (x - background)``, the
  first-order estimate of how much the target falls when the pixel is set to the
  background. Plain ``gradient * x`` takes zero as the reference, which in this scaling is
  mid grey: it would give every black background pixel of an MNIST digit an attribution
  (``-0.5 * gradient``) for a change (black to grey) that no deletion makes. Relative to
  the background, background pixels get exactly zero and ink gets what it contributes.
  Signed: a negative value is a pixel whose ink argues against the class.
- ``occlusion``: the fall of ``p_c`` when a ``patch x patch`` square is set to the
  background, slid with ``stride``; a pixel gets the mean fall over the squares that cover
  it (Zeiler & Fergus 2014). All the occluded copies go through the network as batches.
- ``grad_cam``: on a layer with a spatial output (default the last conv; a conv followed
  by its activation means the activation's output, the rectified feature maps), the
  channels weighted by the spatial mean of ``d target / d A``, summed, ReLU'd
  (Selvaraju et al. 2017), and upsampled to the input linearly with each cell placed at
  the centre of its receptive field. Coarse by nature: on MNIST it shows the region, not
  the strokes.

``deletion_test`` measures how faithful a method is: blanking the pixels it ranks highest
must lower the class's probability much more than blanking as many random pixels.

Everything here is plain numpy on ``net.trace`` passes, safe to call from a background
thread while the network is used elsewhere (not while it trains: the weights would change
under it).

``python -m engine.understand.bench`` prints how long each method takes and the deletion
test's figures on the trained demo network.
"""
import numbers

import numpy as np

from engine.core.errors import DataError, OptionError
from engine.core.layers.loss import class_indices
from engine.data.containers import to_float

#: Network input of a blank (0) pixel in the engine's one input scaling: -0.5.
BACKGROUND = float(to_float(np.uint8(0)))

# Layers that apply an activation function to the conv before them (ConvNetJS's
# ``activation`` option makes one): Grad-CAM takes their output.
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "maxout")


# -- checks -------------------------------------------------------------------------
def check_inputs(net, x, classes):
    """``(x, classes)`` checked: a batch for ``net`` and one class index per example."""
    x = net.check_batch(x)
    return x, class_indices(classes, len(x), net.loss_layer.num_inputs, "classes", "class indices",
                             "class index")


def _int_option(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise OptionError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def _float_option(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise OptionError(f"{name} must be a number, got {value!r}")
    return float(value)


def one_hot(n, classes, width, dtype):
    g = np.zeros((n, width), dtype)
    g[np.arange(n), classes] = 1
    return g


TARGETS = ("centred", "score", "log_probability")


def target_gradient(net, x, classes, target="centred"):
    """``(N, scores)``: the gradient of each example's ``target`` with respect to the scores
    the loss layer takes (see the module's docstring)."""
    n, k = len(x), net.loss_layer.num_inputs
    g = one_hot(n, classes, k, np.float64)
    if target == "centred":
        if net.loss_layer.layer_type != "regression":  # regression values are not shift-free
            g -= 1.0 / k
    elif target == "log_probability":
        if net.loss_layer.layer_type != "softmax":
            raise OptionError(f"target 'log_probability' needs a softmax network, this one "
                              f"ends in {net.loss_layer.layer_type}")
        p = net.trace(x).output.reshape(n, k).astype(np.float64)
        rows = np.arange(n)
        rest = p.copy()
        rest[rows, classes] = 0
        g = -p
        g[rows, classes] = rest.sum(axis=1)  # 1 - p_c without the rounding of 1 - p_c
    elif target != "score":
        raise OptionError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    return g.astype(net.dtype)


def class_gradient(net, x, classes, target="centred"):
    """``(d target / d x, trace)`` for checked ``x`` and ``classes``; the trace has every
    layer's activations and the gradient of the target with respect to them."""
    trace = net.trace(x, score_grad=target_gradient(net, x, classes, target), input_grad=True)
    return trace.grads[0], trace


def class_outputs(net, x, classes):
    """The loss layer's output for each example's class (softmax: its probability)."""
    # a trace, not net.infer: it stays in this thread, off the worker processes that a
    # training run may be using
    out = net.trace(x).output.reshape(len(x), -1)
    return out[np.arange(len(x)), classes]


# -- the four methods -----------------------------------------------------------------
def saliency(net, x, classes, target="centred"):
    """Input-gradient saliency: ``max over channels of |d target / d x|``.

    Parameters
    ----------
    net : engine.Net
    x : ndarray ``(N, H, W, C)``
        A batch in the network's input scaling.
    classes : array of int ``(N,)``
        The class to explain for each example.
    target : str
        ``"centred"`` (``s_c - mean_k s_k``, default), ``"score"`` (``s_c``) or
        ``"log_probability"``; see the module's docstring.

    Returns
    -------
    ndarray ``(N, H, W)`` float32
    """
    x, classes = check_inputs(net, x, classes)
    g, _ = class_gradient(net, x, classes, target)
    return np.abs(g).max(axis=3).astype(np.float32)


def gradient_x_input(net, x, classes, background=BACKGROUND, target="centred"):
    """Gradient times input relative to the background value:
    ``sum over channels of (d target / d x) * (x - background)`` (signed).

    ``background`` is the network input of a blank pixel (-0.5 for 8-bit images in
    the engine's scaling); a pixel that already holds it gets exactly 0.
    """
    x, classes = check_inputs(net, x, classes)
    background = _float_option(background, "background")
    g, _ = class_gradient(net, x, classes, target)
    return (g * (x - np.asarray(background, x.dtype))).sum(axis=3).astype(np.float32)


def patch_positions(size, patch, stride):
    """Top-left corners of patches along one side: every ``stride``, the last flush with the edge."""
    pos = list(range(0, size - patch + 1, stride))
    if pos[-1] != size - patch:
        pos.append(size - patch)
    return pos


def occlusion_masks(h, w, patch, stride):
    """``(P, h, w)`` bool: one square of ``patch`` pixels per position."""
    ys, xs = patch_positions(h, patch, stride), patch_positions(w, patch, stride)
    masks = np.zeros((len(ys) * len(xs), h, w), bool)
    for i, (y, x) in enumerate((y, x) for y in ys for x in xs):
        masks[i, y:y + patch, x:x + patch] = True
    return masks


def occlusion(net, x, classes, patch=3, stride=1, background=BACKGROUND, batch_size=1024):
    """Occlusion sensitivity: how much ``p_c`` falls when a square around a pixel is blanked.

    Every ``patch x patch`` square on a grid of ``stride`` (the last one flush with the
    edge) is set to ``background`` in turn; a pixel's value is the mean fall of the
    class's probability (softmax output; the score for svm or regression) over the
    squares that cover it. Negative where hiding a square makes the class more likely.
    The occluded copies run through the network ``batch_size`` at a time; squares that
    cover only background are not run (hiding them changes nothing).
    """
    x, classes = check_inputs(net, x, classes)
    n, h, w, c = x.shape
    patch = _int_option(patch, "patch")
    stride = _int_option(stride, "stride")
    batch_size = _int_option(batch_size, "batch_size")
    background = _float_option(background, "background")
    if patch > min(h, w):
        raise OptionError(f"patch: {patch} px does not fit the {w}x{h} input")
    if stride > patch:
        raise OptionError(f"stride: {stride} px is larger than the {patch} px patch, "
                          f"so some pixels would never be covered")
    masks = occlusion_masks(h, w, patch, stride)
    p_count = len(masks)
    flat = masks.reshape(p_count, h * w)
    bg = np.asarray(background, x.dtype)
    # A square that covers only background changes nothing: its fall is 0 without a pass
    # (on an MNIST digit, about half of them).
    changed = (x != bg).any(axis=3).reshape(n, h * w).astype(np.float32) @ flat.T.astype(np.float32) > 0
    pairs = np.argwhere(changed)  # (example, square), example-major
    base = class_outputs(net, x, classes)
    drops = np.zeros((n, p_count), np.float64)
    for a in range(0, len(pairs), batch_size):
        ex, sq = pairs[a:a + batch_size].T
        copies = np.where(masks[sq][..., None], bg, x[ex])
        drops[ex, sq] = base[ex] - class_outputs(net, copies, classes[ex])
    cover = flat.astype(np.float64)
    return ((drops @ cover) / cover.sum(axis=0)).reshape(n, h, w).astype(np.float32)


def default_cam_layer(net):
    """Index of the last conv layer of ``net`` (OptionError if it has none)."""
    convs = [l.index for l in net.layers if l.layer_type == "conv"]
    if not convs:
        raise OptionError("grad_cam: the network has no conv layer; pass layer= the index "
                          "of a layer with a spatial output")
    return convs[-1]


def cam_layer(net, layer=None):
    """The layer whose output Grad-CAM weighs, for the ``layer`` asked for (see ``grad_cam``)."""
    if layer is None:
        layer = default_cam_layer(net)
    last = len(net.layers) - 1
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not 0 < layer < last:
        raise OptionError(f"grad_cam: layer must be the index of a layer between the input "
                          f"and the loss layer (1 to {last - 1}), got {layer!r}")
    layer = int(layer)
    lyr = net.layers[layer]
    if lyr.out_sx * lyr.out_sy == 1:
        raise OptionError(f"grad_cam: layer {layer} ({lyr.layer_type}) has a 1x1 output: "
                          f"there is no map to weigh; pick a conv or pool layer")
    if lyr.layer_type == "conv" and net.layers[layer + 1].layer_type in ACTIVATIONS \
            and net.layers[layer + 1].out_shape[:2] == lyr.out_shape[:2]:
        layer += 1
    return layer


def receptive_centres(net, layer):
    """``((ay, by), (ax, bx))``: cell ``i`` of ``layer``'s output is centred on input pixel
    ``a*i + b`` (composing each conv and pool's stride, padding and window)."""
    ay, by, ax, bx = 1.0, 0.0, 1.0, 0.0
    for lyr in reversed(net.layers[1:layer + 1]):
        if lyr.layer_type in ("conv", "pool"):
            ay, by = ay * lyr.stride, by * lyr.stride - lyr.pad + (lyr.sy - 1) / 2
            ax, bx = ax * lyr.stride, bx * lyr.stride - lyr.pad + (lyr.sx - 1) / 2
    return (ay, by), (ax, bx)


def interpolation_matrix(size, cells, a, b):
    """``(size, cells)``: linear interpolation at each pixel of values at ``a*i + b``."""
    pos = (np.arange(size) - b) / a
    pos = np.clip(pos, 0, cells - 1)
    lo = np.minimum(np.floor(pos).astype(int), max(cells - 2, 0))
    frac = pos - lo
    m = np.zeros((size, cells))
    m[np.arange(size), lo] = 1 - frac
    if cells > 1:
        m[np.arange(size), lo + 1] += frac
    return m


def grad_cam(net, x, classes, layer=None, target="centred"):
    """Grad-CAM: ``ReLU(sum_k alpha_k A_k)`` with ``alpha_k`` the spatial mean of
    ``d target / d A_k``, upsampled to the input size.

    ``layer``: index into ``net.layers`` of a layer with a spatial output (default the
    last conv). A conv followed by its activation is read after the activation, as
    the rectified feature maps of the paper.
    """
    x, classes = check_inputs(net, x, classes)
    idx = cam_layer(net, layer)
    _, trace = class_gradient(net, x, classes, target)
    acts, grads = trace.acts[idx], trace.grads[idx]
    alpha = grads.mean(axis=(1, 2))
    cam = np.maximum(np.einsum("nhwk,nk->nhw", acts, alpha), 0)
    (ay, by), (ax, bx) = receptive_centres(net, idx)
    h, w = x.shape[1:3]
    my = interpolation_matrix(h, cam.shape[1], ay, by)
    mx = interpolation_matrix(w, cam.shape[2], ax, bx)
    return np.matmul(np.matmul(my, cam), mx.T).astype(np.float32)


def in_image_frame(maps, height, width, fill=0.0):
    """Maps of a centre-cropped input ``(N, h, w)`` placed in the frame of the full images
    ``(N, height, width)`` (as ``engine.data.network_input`` crops them: a 24x24 net sees
    the centre of a 28x28 digit), ``fill`` outside the crop, so an overlay lines up."""
    maps = np.asarray(maps)
    n, h, w = maps.shape
    if h > height or w > width:
        raise DataError(f"maps of {w}x{h} do not fit in {width}x{height} images")
    oy, ox = (height - h) // 2, (width - w) // 2
    out = np.full((n, height, width), fill, np.float32)
    out[:, oy:oy + h, ox:ox + w] = maps
    return out


METHODS = {"saliency": saliency, "gradient_x_input": gradient_x_input,
           "occlusion": occlusion, "grad_cam": grad_cam}


def explain(net, x, classes, method="saliency", **options):
    """``METHODS[method](net, x, classes, **options)``, for callers that pick by name."""
    if method not in METHODS:
        raise OptionError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    return METHODS[method](net, x, classes, **options)


# -- faithfulness ------------------------------------------------------------------------
def top_pixels(maps, k, rng):
    """``(N, k)`` flat indices of each map's ``k`` highest pixels, ties broken at random."""
    n = len(maps)
    flat = maps.reshape(n, -1)
    order = np.lexsort((rng.random(flat.shape), -flat), axis=-1)
    return order[:, :k]


def blank(x, pixels, background=BACKGROUND):
    """A copy of ``x`` with the given flat pixel indices ``(N, k)`` set to ``background``."""
    n, h, w, c = x.shape
    out = x.copy().reshape(n, h * w, c)
    out[np.arange(n)[:, None], pixels] = background
    return out.reshape(x.shape)


def deletion_test(net, x, method, fraction=0.1, classes=None, rng=None, background=BACKGROUND,
                  batch_size=250, progress=None, cancelled=None):
    """How much the class's probability falls when the pixels an explanation ranks highest are blanked.

    For each example, the ``fraction`` of its pixels that ``method`` ranks highest are set
    to ``background``; so are as many pixels drawn at random from the whole image, and as
    many drawn at random from its ink (the pixels that are not background, a harder
    baseline: most of an MNIST digit's pixels are background). A faithful explanation
    makes the first fall much larger than the second.

    Parameters
    ----------
    method : str or callable
        A name in ``METHODS`` or ``f(net, x, classes) -> (N, H, W)``.
    classes : array of int, optional
        The class to explain per example (default: the network's prediction).
    rng : numpy Generator or int, optional
    progress, cancelled : callables, optional
        ``progress(fraction_done)`` after each batch; ``cancelled() -> bool`` is checked
        before each batch and raises ``engine.errors.Cancelled`` when true.

    Returns
    -------
    dict
        ``explained``, ``random``, ``random_ink``: the mean falls; ``base``: the mean
        probability before; and the per-example falls ``explained_drops``,
        ``random_drops``, ``random_ink_drops``.
    """
    from engine.core.tasks import Reporter
    fn = METHODS.get(method) if isinstance(method, str) else method
    if not callable(fn):
        raise OptionError(f"method must be one of {', '.join(METHODS)} or a function, "
                          f"got {method!r}")
    x = net.check_batch(x)
    if classes is None:
        classes = net.trace(x).output.reshape(len(x), -1).argmax(axis=1)
    x, classes = check_inputs(net, x, classes)
    fraction = _float_option(fraction, "fraction")
    if not 0 < fraction <= 1:
        raise OptionError(f"fraction must be in (0, 1], got {fraction}")
    batch_size = _int_option(batch_size, "batch_size")
    rng = np.random.default_rng(rng)
    n, h, w, c = x.shape
    k = max(1, int(round(fraction * h * w)))
    report = Reporter(progress, cancelled)
    keys = ("base", "explained", "random", "random_ink")
    out = {key: np.empty(n) for key in keys}
    bg = np.asarray(background, x.dtype)
    for a in range(0, n, batch_size):
        report.check()
        xs, cs = x[a:a + batch_size], classes[a:a + batch_size]
        maps = np.asarray(fn(net, xs, cs), dtype=np.float64)
        if maps.shape != xs.shape[:3]:
            raise DataError(f"method returned maps of shape {maps.shape}, expected {xs.shape[:3]}")
        ink = (xs != bg).any(axis=3).reshape(len(xs), -1)
        chosen = {
            "explained": top_pixels(maps, k, rng),
            "random": np.argsort(rng.random((len(xs), h * w)), axis=1)[:, :k],
            # random among the ink first (background pixels after them, if the ink is short)
            "random_ink": np.argsort(rng.random((len(xs), h * w)) - ink, axis=1)[:, :k],
        }
        out["base"][a:a + len(xs)] = class_outputs(net, xs, cs)
        for key, pixels in chosen.items():
            out[key][a:a + len(xs)] = class_outputs(net, blank(xs, pixels, bg), cs)
        report.progress(min(n, a + batch_size) / n)
    result = {"base": float(out["base"].mean())}
    for key in keys[1:]:
        drops = out["base"] - out[key]
        result[key] = float(drops.mean())
        result[f"{key}_drops"] = drops
    return result
