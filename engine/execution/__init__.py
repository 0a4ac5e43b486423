"""How a stack of layers runs: the one place that knows the engine's speed tricks.

Layers are short forward/backward functions over whole batches (``engine.layers``)
built on pure kernels (``engine.kernels``). This package decides how a net's stack
runs them:

- ``plan``: a relu followed by a max pool runs as one step; large batches run in
  cache-sized pieces, forward and straight back, dealt out to threads;
- ``processes``: a training step or a large inference batch shares its examples with
  worker processes (numpy holds the GIL between its many short calls, so two threads
  reach only 1.0-1.4x one thread on the demo net, two processes 1.9x); the caller
  adds the gradients they send back;
- ``worker``: the worker processes' side.

Every pass returns a ``Trace`` that belongs to the caller, so passes on one net may
run on several threads at once.
"""
import time

import numpy as np

from ..trace import Trace
from . import processes
from .plan import MIN_SPLIT, Values, concat, run

__all__ = ["run", "train_step", "infer", "processes"]

MAIN_SHARE = 0.5  # of a batch split with one worker, this process's part


def train_step(net, x, y):
    """A training step on checked ``x`` and targets ``y``: ``(trace, fwd_s, bwd_s)``.

    The parameter gradients land in the net's own gradient buffer. A batch of at
    least ``2 * MIN_SPLIT`` examples is shared with the worker processes when they
    are available; the numbers are those of one process.
    """
    shared = _shared(net, x, y)
    if shared is not None:
        return shared
    return run(net, x, y, training=True, grads=net.flat_buffers()[1])


def infer(net, x):
    """An inference pass on checked ``x``, a large batch shared with the workers: a Trace."""
    shared = _shared(net, x, None)
    return shared[0] if shared is not None else run(net, x)[0]


def _shared(net, x, y):
    """A training step (``y`` given) or an inference pass with the workers, or None."""
    k = min(net.threads, len(x) // MIN_SPLIT)
    if k < 2 or not processes.enabled() or net.has_batchnorm:
        return None
    step = processes.Step.open(k - 1)
    if step is None:
        return None
    try:
        return _shared_run(net, step, x, y, k)
    except processes._Lost:
        return None  # a worker died: the caller does it here


def _shared_run(net, step, x, y, k):
    n = len(x)
    training = y is not None
    m = int(round(n * (MAIN_SHARE if k == 2 else 1.0 / k)))
    bounds = [0, m] + [int(round(m + (n - m) * j / (k - 1))) for j in range(1, k)]
    params, grads, _, _ = net.flat_buffers()
    shares = [(x[a:b], None if y is None else y[a:b]) for a, b in zip(bounds[1:-1], bounds[2:])]
    step.start(net, params, shares, n)  # gives the lock back itself if it fails
    error = local = None
    fwd_s = bwd_s = 0.0
    t0 = time.perf_counter()
    try:
        if training:
            local, fwd_s, bwd_s = run(net, x[:m], y[:m], training=True, grads=grads, n_total=n,
                                      threads=1)
        else:
            local, fwd_s, _ = run(net, x[:m], threads=1)
    except BaseException as e:  # collect the workers' shares before raising
        error = e
    # A worker that does not answer in a bounded time is abandoned: the step is then
    # done again here (``_Lost``), with the same numbers.
    results = step.finish(max(processes.WAIT_SECONDS,
                              processes.WAIT_FACTOR * (time.perf_counter() - t0)))
    if error is not None:
        raise error
    loss = None
    if training:
        # Every share's gradients are already divided by the whole batch's size.
        for _, _, g in results:
            grads += g
        sizes = [len(s[0]) for s in shares]
        loss = float((local.loss * m + sum(r[0] * size for r, size in zip(results, sizes))) / n)
    out = np.concatenate([local.output] + [r[1] for r in results])
    last = len(net.layers) - 1
    acts = Values(concat([local.acts.raw(i)] + [processes.remote(w, net.token, i, "act")
                                                for w in step.workers]) for i in range(last))
    acts.append(out)
    trace_grads = None
    if training:
        trace_grads = Values([None] + [
            concat([local.grads.raw(i)] + [processes.remote(w, net.token, i, "grad")
                                           for w in step.workers]) for i in range(1, last)] + [None])
    return Trace(acts, trace_grads, loss, net.param_views(grads) if training else None), fwd_s, bwd_s
