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

Whether a training step shares its batch with the worker is decided from what the
engine measures (``WorkerChoice``): for each net and batch size, a few steps each way
in turn, then the faster way, checked again every few seconds of training and at
once when the steps get slower. On a busy machine (a browser, another job on one of
two cores) the worker process can make a step slower than no worker; then the
engine trains without it.

Every pass returns a ``Trace`` that belongs to the caller, so passes on one net may
run on several threads at once.
"""
import time

import numpy as np

from engine.core.execution import processes
from engine.core.execution.plan import MIN_SPLIT, Values, concat, run
from engine.core.trace import Trace

__all__ = ["run", "train_step", "infer", "processes"]

MAIN_SHARE = 0.5  # of a batch split with one worker, this process's part

BLOCK_SECONDS = 0.2     # a check times blocks of steps each way, in the order W, A, A, W ...
BLOCK_STEPS = 2         # ... each at least this long and this many steps
RECHECK_SECONDS = 5.0   # training time from a check to the next; doubled (up to RECHECK_MAX)
RECHECK_MAX = 60.0      # while checks keep choosing the same way
RECHECK_SLOWER = 1.5    # a check at once when the recent steps take this many times longer
MARGIN = 0.97           # the worker is used when its steps take at most this share of the time


class WorkerChoice:
    """Whether steps of one batch size on one net go faster with the worker processes.

    Measured, not assumed: a check times a block of steps with the worker, two
    without, one with again (so that a load that comes or goes during the check
    weighs on both alike), each block at least ``BLOCK_SECONDS`` long, and keeps the
    way with the shorter steps (the worker only when it saves at least 3%: a
    step's wall time is what a round's throughput sees, waits for a busy core
    included). Checked again after ``RECHECK_SECONDS`` of training (twice as long
    after each check that changed nothing, up to ``RECHECK_MAX``), and at once when
    the chosen way's recent steps take ``RECHECK_SLOWER`` times as long as when it
    was chosen (another program started). The worker is chosen only when each of its
    blocks was faster than each block without it. A step that could not reach the worker
    (not started yet, lost) is not counted.
    """

    def __init__(self):
        self.use_worker = True
        self.checks = 0
        self.period = RECHECK_SECONDS
        self._probe()

    def _probe(self):
        self.plan = [True, False, False, True]
        self.block = [0, 0.0]  # steps and seconds of the block under way
        self.blocks = {True: [], False: []}  # each way's blocks' mean step
        self.recent = []

    def want_worker(self):
        return self.plan[0] if self.plan else self.use_worker

    def record(self, tried, used, seconds):
        """A step ran (``tried``: with the worker wanted; ``used``: it took part) in ``seconds``."""
        if self.plan:
            if used != self.plan[0]:
                return  # the worker was not there (or was asked for anyway): nothing learnt
            self.block[0] += 1
            self.block[1] += seconds
            if self.block[0] >= BLOCK_STEPS and self.block[1] >= BLOCK_SECONDS:
                self.blocks[used].append(self.block[1] / self.block[0])
                self.plan.pop(0)
                self.block = [0, 0.0]
                if not self.plan:
                    self._decide()
            return
        if tried and not used:
            return
        self.since += seconds
        self.recent.append(seconds)
        if len(self.recent) > 8:
            del self.recent[0]
        # (the middle of at most 8 numbers: np.median costs ~20 us, 1% of a step at batch 20)
        slower = len(self.recent) >= 4 and sorted(self.recent)[len(self.recent) // 2] > RECHECK_SLOWER * self.reference
        if self.since >= self.period or slower:
            self._probe()

    def _decide(self):
        # The worker only when each of its blocks beat each block without it: on a busy
        # machine the blocks swing, and one lucky block must not bring in the worker.
        use = max(self.blocks[True]) <= MARGIN * min(self.blocks[False])
        per_step = {k: sum(v) / len(v) for k, v in self.blocks.items()}
        self.period = (min(RECHECK_MAX, 2 * self.period) if self.checks and use == self.use_worker
                       else RECHECK_SECONDS)
        self.use_worker = use
        self.reference = per_step[use]
        self.since = 0.0
        self.checks += 1

    def describe(self):
        if self.checks == 0:
            return "measuring"
        return "with the worker" if self.use_worker else "without the worker"


def worker_choice(net):
    """``{batch size: "with the worker" | "without the worker" | "measuring"}`` of ``net``'s
    training steps so far (batch sizes that could use a worker)."""
    return {n: c.describe() for n, c in sorted(getattr(net, "_worker_choices", {}).items())}


def _choice(net, n):
    choices = net.__dict__.setdefault("_worker_choices", {})
    c = choices.get(n)
    if c is None:
        if len(choices) > 64:  # batch sizes come and go (the last batch of an epoch)
            choices.clear()
        c = choices[n] = WorkerChoice()
    return c


def train_step(net, x, y):
    """A training step on checked ``x`` and targets ``y``: ``(trace, fwd_s, bwd_s)``.

    The parameter gradients land in the net's own gradient buffer. A batch of at
    least ``2 * MIN_SPLIT`` examples is shared with the worker processes when they
    are available and the steps measured say it is faster (``WorkerChoice``); the
    numbers are those of one process.
    """
    choice = _choice(net, len(x)) if _could_share(net, len(x)) else None
    tried = choice is not None and choice.want_worker()
    t0 = time.perf_counter()
    shared = _shared(net, x, y) if tried else None
    result = shared if shared is not None else run(net, x, y, training=True,
                                                   grads=net.flat_buffers()[1])
    if choice is not None:
        choice.record(tried, shared is not None, time.perf_counter() - t0)
    return result


def _could_share(net, n):
    return min(net.threads, n // MIN_SPLIT) >= 2 and processes.enabled() and not net.has_batchnorm


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
