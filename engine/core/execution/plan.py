"""Running a stack of layers on one batch: folded steps, cache-sized pieces, threads.

A *plan* turns a net's layers into steps. Most steps are one layer; a relu followed
by a max pool is one step, because relu and max commute: the pool takes the max of
the pre-activations and the relu runs on the 4-9x smaller result, and on the way
back the relu's mask is applied before the gradient is routed to the winners. That
saves two passes over the full-size activations. The relu's own output and output
gradient are computed only when somebody looks at them, exactly as the relu alone
would have made them.

A large batch is cut into pieces of about ``MAX_PIECE`` examples, each run forward and
at once backward while its activations are still in cache (the same sums as a whole
forward pass then a whole backward pass: the weights do not change within a step);
the pieces are dealt out to threads. Every result is a value the caller owns: the
activations and gradients of a pass come back in a ``Trace``.
"""
import time

import numpy as np

from engine.core import parallel
from engine.core.trace import Trace

MIN_SPLIT = 8     # examples a thread must have before a batch is split across threads
MAX_PIECE = 32    # examples per piece (the working set of the demo net fits in cache)
MAX_PIECES = 16   # pieces per batch at most

LAYER, RELU_POOL = 0, 1


class Deferred:
    """A value computed when first asked for (a trace's folded or split layers)."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn


class Values(list):
    """A list whose ``Deferred`` items are computed (once) when read."""

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        v = list.__getitem__(self, i)
        if isinstance(v, Deferred):
            v = v.fn()
            list.__setitem__(self, i, v)
        return v

    def __iter__(self):
        return (self[k] for k in range(len(self)))

    def raw(self, i):
        """Item ``i`` as stored (a Deferred stays deferred)."""
        return list.__getitem__(self, i)


def resolve(v):
    return v.fn() if isinstance(v, Deferred) else v


def concat(parts):
    """The pieces' values of one layer as one batch, joined when asked for."""
    if len(parts) == 1:
        return parts[0]
    if any(p is None for p in parts):
        return None
    return Deferred(lambda: np.concatenate([resolve(p) for p in parts]))


def steps(layers):
    """The steps a stack runs as (between the input layer and the loss layer)."""
    out, i, last = [], 1, len(layers) - 1
    while i < last:
        if (layers[i].layer_type == "relu" and i + 1 < last
                and layers[i + 1].layer_type == "pool"):
            out.append((RELU_POOL, i))
            i += 2
        else:
            out.append((LAYER, i))
            i += 1
    return out


def pieces(layers, n, threads):
    """Slices of a batch of ``n``, or None to run it whole.

    Cut into pieces of about ``MAX_PIECE`` examples (at most ``MAX_PIECES``), or
    into one piece per thread when each gets at least ``MIN_SPLIT``. Never for a
    net with batchnorm, whose statistics are per batch.
    """
    if any(l.layer_type == "batchnorm" for l in layers):
        return None
    k = max(min(threads, n // MIN_SPLIT), min(-(-n // MAX_PIECE), MAX_PIECES))
    if k < 2:
        return None
    bounds = np.linspace(0, n, k + 1).round().astype(int)
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


# -- one piece ----------------------------------------------------------------------
def forward_piece(layers, plan, x, training, rng):
    """``(acts, caches)`` of every layer for ``x``."""
    n_layers = len(layers)
    acts, caches = [None] * n_layers, [None] * n_layers
    acts[0] = x
    for kind, i in plan:
        if kind == LAYER:
            x, caches[i] = layers[i].forward(x, training, rng)
            acts[i] = x
        else:
            pool = layers[i + 1]
            pre = x
            pooled, caches[i + 1] = pool.forward(pre, training)
            x = np.maximum(pooled, 0)  # (pooled is in the cache: kept as it is)
            caches[i] = pre
            acts[i] = Deferred(lambda pre=pre: np.maximum(pre, 0))
            acts[i + 1] = x
    loss_layer = layers[-1]
    x, caches[-1] = loss_layer.forward(x, training, rng)
    acts[-1] = x
    return acts, caches


class OutGrad:
    """Targets that are a gradient: of something with respect to layer ``index``'s output,
    used instead of the loss's own (e.g. one-hot on a class's score, or on a filter's
    channel, to see what the input does to it). The backward pass starts there."""

    def __init__(self, index, g):
        self.index, self.g = index, g

    def __getitem__(self, sl):
        return OutGrad(self.index, self.g[sl])


def backward_piece(layers, plan, acts, caches, y, n_total, grad_views, input_grad):
    """``(loss, grads)``: the mean loss and every layer's output gradient; the parameter
    gradients (divided by ``n_total``) go into ``grad_views`` (one tuple per layer)."""
    if isinstance(y, OutGrad):
        loss, start, d = None, y.index, y.g
    else:
        loss, d = layers[-1].loss(caches[-1], y, n_total, checked=True)
        start = len(layers) - 2
    grads = [None] * len(layers)
    for kind, i in reversed(plan):
        if i > start:
            continue
        need_dx = i > 1 or input_grad
        if kind == LAYER:
            grads[i] = d
            d = layers[i].backward(caches[i], d, grad_views[i], need_dx)
        elif i == start:  # from the output of a relu folded into the pool after it
            grads[i] = d
            d = d * (caches[i] > 0) if need_dx else None
        else:
            pool = layers[i + 1]
            grads[i + 1] = d
            dx = pool.backward(caches[i + 1], d * (acts[i + 1] > 0), (), need_dx)
            grads[i] = Deferred(lambda pool=pool, pre=caches[i], d=d: relu_out_grad(pool, pre, d))
            d = dx
    grads[0] = d if input_grad else None
    return loss, grads


def relu_out_grad(pool, pre, d):
    """What a relu before ``pool`` holds as its output gradient: ``d`` routed to the
    winners among the relu's outputs (ties, as in all-negative windows, as ConvNetJS
    breaks them)."""
    _, cache = pool.forward(np.maximum(pre, 0))
    return pool.backward(cache, d)


# -- a whole batch --------------------------------------------------------------------
def run(net, x, y=None, training=False, input_grad=False, grads=None, n_total=None,
        threads=None):
    """Run ``x`` forward (and back, with checked targets ``y``) through ``net``.

    ``grads``: the flat buffer that receives the parameter gradients (sums over
    ``n_total`` examples; default the batch); a new one when None and ``y`` is given.
    Returns ``(trace, fwd_seconds, bwd_seconds)``; ``trace.param_grads`` are views of
    ``grads``. Each piece of a split batch runs forward and straight back.
    """
    if y is not None and grads is None:
        grads = net.new_grads()
    return _run(net, x, y, training, input_grad, grads, n_total, threads, None)


class Pending:
    """A forward pass kept for a later backward pass (ConvNetJS's forward-then-backward)."""

    def __init__(self, x, training, parts, pieces, rngs):
        self.x, self.training, self.parts, self.pieces, self.rngs = x, training, parts, pieces, rngs


def forward(net, x, training=False, threads=None):
    """``(trace, seconds, pending)``: a forward pass whose caches ``backward`` can use."""
    state = []
    trace, f_s, _ = _run(net, x, None, training, False, None, None, threads, state)
    return trace, f_s, state[0]


def backward(net, pending, y, input_grad=False, grads=None, threads=None):
    """The backward pass of ``pending`` with checked targets ``y``: ``(trace, seconds)``."""
    if grads is None:
        grads = net.new_grads()
    return _run(net, pending.x, y, pending.training, input_grad, grads, None, threads, None,
                pending)[0::2]


def _run(net, x, y, training, input_grad, grads, n_total, threads, keep, pending=None):
    # One BLAS thread, always: the engine splits the work itself. A batch run whole
    # (a net with batchnorm, a small batch) otherwise got OpenBLAS's own threads, which
    # wait busily for each other: on a loaded 2-core machine a batchnorm net's step
    # of 64 took 1,182 ms instead of 368 (best of 15 each).
    parallel.limit_blas()
    layers, plan = net.layers, net.plan
    n = len(x)
    n_total = n_total or n
    threads = net.threads if threads is None else threads
    parts = pending.parts if pending is not None else pieces(layers, n, threads)
    if parts is None:
        t0 = time.perf_counter()
        if pending is None:
            acts, caches = forward_piece(layers, plan, x, training, net.rng)
        else:
            acts, caches = pending.pieces[0]
        t1 = time.perf_counter()
        if y is None:
            if keep is not None:
                keep.append(Pending(x, training, None, [(acts, caches)], None))
            return Trace(Values(acts)), t1 - t0, 0.0
        loss, gs = backward_piece(layers, plan, acts, caches, y, n_total,
                                  net.grad_views(grads), input_grad)
        return (Trace(Values(acts), Values(gs), loss, net.param_views(grads)),
                t1 - t0, time.perf_counter() - t1)

    if pending is not None:
        rngs = pending.rngs
    elif training and any(l.layer_type == "dropout" for l in layers):
        rngs = net.rng.spawn(len(parts))
    else:
        rngs = [None] * len(parts)
    k = min(threads, len(parts))

    def job(ids):
        out, acc, f_s, b_s = [], None, 0.0, 0.0
        for i in ids:
            sl = parts[i]
            a = time.perf_counter()
            if pending is None:
                acts, caches = forward_piece(layers, plan, x[sl], training, rngs[i])
            else:
                acts, caches = pending.pieces[i]
            b = time.perf_counter()
            f_s += b - a
            if y is None:  # caches are kept only for a backward pass to come
                out.append((acts, caches if keep is not None else None, None, None))
                continue
            buf = net.new_grads()
            loss, gs = backward_piece(layers, plan, acts, caches, y[sl], n_total,
                                      net.grad_views(buf), input_grad)
            if acc is None:
                acc = buf
            else:
                acc += buf
            b_s += time.perf_counter() - b
            out.append((acts, None, gs, loss))
        return out, acc, f_s, b_s

    t0 = time.perf_counter()
    jobs = [list(range(t, len(parts), k)) for t in range(k)]
    results = parallel.run_split([lambda ids=ids: job(ids) for ids in jobs])
    wall = time.perf_counter() - t0
    per_part = [None] * len(parts)
    for ids, (out, _, _, _) in zip(jobs, results):
        for i, r in zip(ids, out):
            per_part[i] = r
    acts = Values(concat([p[0][j] for p in per_part]) for j in range(len(layers)))
    f_s = sum(r[2] for r in results)
    b_s = sum(r[3] for r in results)
    if y is None:
        if keep is not None:
            keep.append(Pending(x, training, parts, [(p[0], p[1]) for p in per_part], rngs))
        return Trace(acts), wall, 0.0
    np.copyto(grads, results[0][1])
    for r in results[1:]:
        grads += r[1]
    gs = Values(concat([p[2][j] for p in per_part]) for j in range(len(layers)))
    loss = None if isinstance(y, OutGrad) else float(
        sum(p[3] * (sl.stop - sl.start) for p, sl in zip(per_part, parts)) / n)
    total = f_s + b_s
    if pending is not None:
        return Trace(acts, gs, loss, net.param_views(grads)), wall, wall
    return (Trace(acts, gs, loss, net.param_views(grads)),
            wall * f_s / total if total else 0.0, wall * b_s / total if total else 0.0)
