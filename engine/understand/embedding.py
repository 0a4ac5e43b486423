"""An embedding map: a layer's activations for many images, laid out in 2-D.

``embed(net, x, layer, method)`` runs the images through the network, takes one layer's
activations (default: the last hidden layer, the one the class scores are computed from)
and lays them out by PCA or t-SNE. Points that the layer holds close together end up
close on the map, so a trained network's last hidden layer shows one island per class.

t-SNE (van der Maaten & Hinton 2008) is written here in numpy, in the form the common
libraries use: affinities over the ``3 * perplexity`` nearest neighbours (found after a
PCA to 50 dimensions), each point's bandwidth set by bisection to the perplexity, a PCA
start, 250 steps of early exaggeration then 500 plain steps of gradient descent with
momentum and per-coordinate gains. The repulsive forces are summed exactly over all
pairs, in blocks that stay in cache and are shared between threads: for the ~2,000
points this map is meant for that is a few milliseconds a step, and, unlike the
Barnes-Hut approximation, it has no accuracy knob to get wrong. (Exact repulsion costs
``N^2``: 10,000 points would take some 25 times longer; the map is capped at
``MAX_POINTS``.)

Long runs take ``progress(fraction)``, ``cancelled() -> bool`` (see ``engine.tasks``) and,
for t-SNE, ``partial(points)``: the layout so far, every ``partial_every`` steps, for a
map that forms as it is computed.
"""
import numbers

import numpy as np

from engine.core import parallel
from engine.core.errors import DataError, OptionError
from engine.core.tasks import Reporter

MAX_POINTS = 5000
METHODS = ("tsne", "pca")


# -- activations ----------------------------------------------------------------------
def last_hidden_layer(net):
    """Index of the layer whose output the class scores (or values) are computed from."""
    last = len(net.layers) - 1
    if last >= 2 and net.layers[last - 1].layer_type == "fc":
        return last - 2 if last - 2 >= 1 else last - 1
    return last - 1


def check_layer(net, layer):
    last = len(net.layers) - 1
    if layer is None:
        return last_hidden_layer(net)
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not 0 <= layer <= last:
        raise OptionError(f"layer must be the index of a layer (0 to {last}), got {layer!r}")
    return int(layer)


def activations(net, x, layer=None, batch_size=256, progress=None, cancelled=None):
    """``(N, features)`` float32: ``layer``'s output for each example, flattened.

    ``x`` is a batch in the network's input scaling; ``layer`` an index into
    ``net.layers`` (default ``last_hidden_layer(net)``; 0 is the images themselves).
    """
    x = net.check_batch(x)
    layer = check_layer(net, layer)
    report = Reporter(progress, cancelled)
    out = None
    for a in range(0, len(x), batch_size):
        report.check()
        acts = net.trace(x[a:a + batch_size]).acts[layer]
        acts = acts.reshape(len(acts), -1)
        if out is None:
            out = np.empty((len(x), acts.shape[1]), np.float32)
        out[a:a + len(acts)] = acts
        report.progress(min(len(x), a + batch_size) / len(x))
    return out


# -- PCA ----------------------------------------------------------------------------------
def pca(features, dims=2):
    """``(N, dims)`` float64: the features projected on their ``dims`` principal axes.

    Each axis's sign is fixed (its largest loading positive), so the same data always
    gives the same picture.
    """
    f = _check_features(features, 2)
    dims = min(int(dims), f.shape[1], len(f))
    f = f - f.mean(axis=0)
    _, _, vt = np.linalg.svd(f, full_matrices=False)
    axes = vt[:dims]
    signs = np.sign(axes[np.arange(dims), np.abs(axes).argmax(axis=1)])
    return f @ (axes * signs[:, None]).T


def _check_features(features, minimum):
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2:
        raise DataError(f"features: expected an array (points, features), got shape {f.shape}")
    if len(f) < minimum:
        raise DataError(f"features: need at least {minimum} points, got {len(f)}")
    if len(f) > MAX_POINTS:
        raise DataError(f"features: at most {MAX_POINTS} points can be mapped, got {len(f)}")
    if not np.isfinite(f).all():
        raise DataError("features: hold a value that is NaN or infinite")
    return f


# -- t-SNE --------------------------------------------------------------------------------
def conditional_affinities(d, perplexity):
    """``p_{j|i}`` ``(N, k)`` from squared distances ``d`` ``(N, k)`` to each point's neighbours:
    ``exp(-beta_i d_ij)`` normalised per row, ``beta_i`` found by bisection (in log space)
    so that the row's perplexity ``exp(entropy)`` is ``perplexity``."""
    d = d - d.min(axis=1, keepdims=True)  # the same p, and no underflow far from the data
    n = len(d)
    target = np.log(perplexity)
    lo, hi = np.full(n, -30.0), np.full(n, 30.0)
    scale = np.median(d[d > 0]) if (d > 0).any() else 1.0
    for _ in range(64):
        mid = (lo + hi) / 2
        beta = np.exp(mid)[:, None] / scale
        p = np.exp(-beta * d)
        s = p.sum(axis=1, keepdims=True)
        entropy = np.log(s[:, 0]) + (beta * (d * p)).sum(axis=1) / s[:, 0]
        too_flat = entropy > target  # more spread than the perplexity: sharpen
        lo = np.where(too_flat, mid, lo)
        hi = np.where(too_flat, hi, mid)
    return p / s


def neighbour_affinities(f, perplexity):
    """The symmetric t-SNE affinities ``P`` over each point's ``3 * perplexity`` nearest
    neighbours, as sparse ``(rows, cols, values)`` (rows sorted), summing to 1."""
    n = len(f)
    k = min(n - 1, int(3 * perplexity))
    sq = (f * f).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2 * (f @ f.T)
    np.fill_diagonal(d2, np.inf)
    nbr = np.argpartition(d2, k - 1, axis=1)[:, :k]
    p = conditional_affinities(np.maximum(np.take_along_axis(d2, nbr, axis=1), 0), perplexity)
    rows = np.repeat(np.arange(n), k)
    cols = nbr.ravel()
    # p_ij = (p_{j|i} + p_{i|j}) / 2N: both directions, duplicates added
    key = np.concatenate([rows * n + cols, cols * n + rows])
    uniq, inv = np.unique(key, return_inverse=True)
    v = np.bincount(inv, weights=np.concatenate([p.ravel(), p.ravel()]))
    return uniq // n, uniq % n, v / v.sum()


def forces(y, p, blocks, threads):
    """``(attraction, repulsion, Z)`` of the t-SNE gradient at layout ``y`` ``(N, 2)``.

    With ``w_ij = 1/(1 + |y_i - y_j|^2)`` over all pairs: ``attraction_i = sum_j p_ij w_ij
    (y_i - y_j)``, ``repulsion_i = sum_j w_ij^2 (y_i - y_j)``, ``Z = sum_{i != j} w_ij``; the
    gradient of the KL divergence is ``4 (attraction - repulsion / Z)``. ``p`` is the dense
    symmetric affinity matrix (float32).

    Each pair of blocks ``I <= J`` is done once (``w`` and ``p`` are symmetric), and
    ``1 + |y_i - y_j|^2`` comes from one product of ``[y_i, |y_i|^2 + 1, 1]`` with
    ``[-2 y_j, 1, |y_j|^2]``, in float32: its rounding (about 1e-7 of ``|y|^2``, against the
    1 that is added) leaves ``w`` good to about 1e-4, far below what moves a map.
    """
    n = len(y)
    y32 = y.astype(np.float32)
    sq = (y32 * y32).sum(axis=1)
    one = np.ones(n, np.float32)
    left = np.stack([y32[:, 0], y32[:, 1], sq + 1, one], axis=1)
    right = np.ascontiguousarray(np.stack([-2 * y32[:, 0], -2 * y32[:, 1], one, sq], axis=1).T)
    yx = np.stack([y32[:, 0], y32[:, 1], one], axis=1)  # one product: M @ y and M's row sums
    pairs = [(i, j) for i in range(len(blocks)) for j in range(i, len(blocks))]

    def job(ids):
        att = np.zeros((n, 3), np.float64)
        rep = np.zeros((n, 3), np.float64)
        z = 0.0
        for k in ids:
            (a, b), (c, d) = blocks[pairs[k][0]], blocks[pairs[k][1]]
            w = left[a:b] @ right[:, c:d]
            np.reciprocal(w, out=w)
            zz = float(w.sum())
            pw = p[a:b, c:d] * w
            w *= w
            att[a:b] += pw @ yx[c:d]
            rep[a:b] += w @ yx[c:d]
            if a == c:
                z += zz - (b - a)  # without w_ii = 1
            else:
                z += 2 * zz
                att[c:d] += pw.T @ yx[a:b]
                rep[c:d] += w.T @ yx[a:b]
        return att, rep, z

    k = max(1, min(threads, len(pairs)))
    results = parallel.run_split([lambda ids=range(t, len(pairs), k): job(ids) for t in range(k)])
    att = sum(r[0] for r in results)
    rep = sum(r[1] for r in results)
    return (y * att[:, 2:3] - att[:, :2], y * rep[:, 2:3] - rep[:, :2],
            sum(r[2] for r in results))


def tsne(features, perplexity=30.0, iterations=750, exaggeration=12.0, early_iterations=250,
         learning_rate=None, pca_dims=50, seed=0, threads=None, progress=None, cancelled=None,
         partial=None, partial_every=25):
    """A 2-D t-SNE layout ``(N, 2)`` float64 of ``features`` ``(N, F)``.

    Parameters
    ----------
    perplexity : float
        About how many neighbours each point keeps close (lowered to ``(N - 1) / 3``
        for few points).
    iterations : int
        Gradient steps in all, the first ``early_iterations`` with the attractions
        multiplied by ``exaggeration``.
    learning_rate : float, optional
        Default ``max(N / exaggeration / 4, 50)`` (scikit-learn's "auto").
    pca_dims : int
        The features are first reduced to this many principal components (0: not).
    seed : int
        A tiny jitter added to the PCA start (points with equal features).
    threads : int, optional
        Threads for the repulsive forces (default: the engine's, one per core).
    progress, cancelled, partial : callables, optional
        See the module's docstring.
    """
    f = _check_features(features, 4)
    n = len(f)
    for name, value, minimum in (("iterations", iterations, 1), ("early_iterations", early_iterations, 0),
                                 ("pca_dims", pca_dims, 0), ("partial_every", partial_every, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise OptionError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    for name, value in (("perplexity", perplexity), ("exaggeration", exaggeration)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
            raise OptionError(f"{name} must be a number > 0, got {value!r}")
    report = Reporter(progress, cancelled)
    perplexity = min(float(perplexity), (n - 1) / 3)
    if pca_dims and f.shape[1] > pca_dims:
        f = pca(f, pca_dims)
    report.check()
    rows, cols, pv = neighbour_affinities(f, perplexity)
    p = np.zeros((n, n), np.float32)
    p[rows, cols] = pv
    report.progress(0.02)
    rng = np.random.default_rng(seed)
    y = pca(f, 2)
    y = y / (y[:, 0].std() or 1.0) * 1e-4 + rng.standard_normal((n, 2)) * 1e-6
    lr = float(learning_rate) if learning_rate is not None else max(n / exaggeration / 4, 50.0)
    update = np.zeros_like(y)
    gains = np.ones_like(y)
    threads = parallel.default_threads() if threads is None else max(1, int(threads))
    size = 256  # 256 x 256 float32 blocks: 256 KB, in cache
    blocks = [(a, min(n, a + size)) for a in range(0, n, size)]
    reporter = report.part(0.02, 0.98)
    for it in range(iterations):
        early = it < early_iterations
        attract, rep, z = forces(y, p, blocks, threads)
        grad = 4.0 * ((exaggeration if early else 1.0) * attract - rep / z)
        momentum = 0.5 if early else 0.8
        same = np.sign(grad) == np.sign(update)
        gains = np.where(same, gains * 0.8, gains + 0.2)
        np.maximum(gains, 0.01, out=gains)
        update = momentum * update - lr * gains * grad
        y += update
        if it % 10 == 9:
            reporter.progress((it + 1) / iterations)
        if partial is not None and (it + 1) % partial_every == 0:
            partial(y - y.mean(axis=0))
    reporter.progress(1.0)
    return y - y.mean(axis=0)


def embed(net, x, layer=None, method="tsne", progress=None, cancelled=None, partial=None,
          **options):
    """``(points (N, 2), features (N, F))``: ``layer``'s activations for ``x``, laid out in 2-D.

    ``method`` is ``"tsne"`` (``options`` go to ``tsne``) or ``"pca"``; ``layer`` an index
    into ``net.layers`` (default the last hidden layer).
    """
    if method not in METHODS:
        raise OptionError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    x = net.check_batch(x)
    if len(x) > MAX_POINTS:
        raise DataError(f"at most {MAX_POINTS} images can be mapped, got {len(x)}")
    report = Reporter(progress, cancelled)
    span = 0.1 if method == "tsne" else 0.9
    feats = activations(net, x, layer, progress=report.part(0, span).progress, cancelled=cancelled)
    if method == "pca":
        points = pca(_check_features(feats, 2), 2)
        report.progress(1.0)
    else:
        points = tsne(feats, progress=report.part(span, 1 - span).progress, cancelled=cancelled,
                      partial=partial, **options)
    return points, feats


def knn_agreement(points, labels, k=5):
    """Fraction of points whose ``k`` nearest others (in ``points``) mostly share its label
    (leave-one-out ``k``-nearest-neighbour classification, ties to the nearest label)."""
    p = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    if len(labels) != len(p):
        raise DataError(f"labels: expected {len(p)} (one per point), got {len(labels)}")
    sq = (p * p).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2 * (p @ p.T)
    np.fill_diagonal(d2, np.inf)
    nbr = np.argsort(d2, axis=1)[:, :k]
    votes = labels[nbr]
    classes = np.unique(labels)
    counts = (votes[:, :, None] == classes[None, None, :]).sum(axis=1)
    # the most votes; among tied classes, the one of the nearest neighbour holding one
    best = counts.max(axis=1, keepdims=True)
    tied = counts == best
    first = np.array([next(v for v in row if tied[i, np.searchsorted(classes, v)])
                      for i, row in enumerate(votes)])
    return float(np.mean(first == labels))
