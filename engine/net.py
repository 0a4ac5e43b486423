"""The network: a stack of layers run forward and backward on batches."""
import copy
import json
import time

import numpy as np

from . import parallel, workers
from .errors import DataError, SnapshotError, SpecError
from .layers import LAYER_TYPES, LOSS_TYPES
from .spec import build_layers
from .trace import Trace


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def spec_from_layers(layers):
    """``layer_defs`` that rebuild these layers in the same order, or None.

    An fc right before the loss layer is folded into the loss layer's
    ``num_classes``/``num_neurons``, since ConvNetJS inserts that fc itself. A
    snapshot whose loss layer follows something else has no such description.
    """
    defs = []
    for i, layer in enumerate(layers):
        if i + 1 < len(layers) and layer.layer_type == "fc" and layers[i + 1].layer_type in LOSS_TYPES:
            continue
        spec = layer.to_spec()
        if layer.layer_type in LOSS_TYPES:
            if layers[i - 1].layer_type != "fc":
                return None
            key = "num_neurons" if layer.layer_type == "regression" else "num_classes"
            spec[key] = layer.num_inputs
        defs.append(spec)
    return defs


class Net:
    """A ConvNetJS-style network over batches ``(N, sy, sx, depth)``.

    Parameters
    ----------
    layer_defs : list of dict
        ConvNetJS ``layer_defs``: an input layer first, a loss layer last.
    dtype : numpy dtype
        float32 (default) or float64.
    seed : int, optional
        Seed for the initial weights and for dropout.
    threads : int, optional
        Cores a batch is split across (default: one per core, at most 4;
        ``ENGINE_THREADS`` overrides). ``forward``/``backward`` split a batch across
        threads; ``train_step`` (what ``Trainer.train`` runs) gives all but one share
        to worker processes (``engine.workers``; ``ENGINE_PROCESSES=0`` keeps it to
        threads). Each share has at least ``min_split`` examples; nets with batchnorm
        are never split (its statistics are per batch).
    """

    min_split = 8
    max_piece = 32
    max_pieces = 16  # replicas kept per net (each holds one piece's activations)

    def __init__(self, layer_defs, dtype=np.float32, seed=None, threads=None):
        self.dtype = _check_dtype(dtype)
        self.layer_defs = copy.deepcopy(list(layer_defs)) if isinstance(layer_defs, (list, tuple)) else layer_defs
        self.layers = build_layers(layer_defs)
        self.rng = np.random.default_rng(seed)
        for layer in self.layers:
            layer.init_params(self.rng, self.dtype)
        self._setup(threads)

    def _setup(self, threads):
        self.threads = parallel.default_threads() if threads is None else max(1, int(threads))
        self._replicas = []
        self._split = None
        self._flat = None
        self._token = workers.new_token()
        self.flat_buffers()
        for layer in self.layers:
            if hasattr(layer, "rng"):
                layer.rng = self.rng

    # -- shapes -------------------------------------------------------------
    @property
    def input_shape(self):
        """``(sy, sx, depth)`` of one input volume."""
        return self.layers[0].out_shape

    @property
    def loss_layer(self):
        return self.layers[-1]

    @property
    def num_outputs(self):
        return self.layers[-1].out_depth

    @property
    def n_params(self):
        return sum(l.n_params for l in self.layers)

    # -- compute ------------------------------------------------------------
    def _check_batch(self, x):
        x = np.asarray(x)
        shape = self.input_shape
        if x.ndim == 3 and x.shape == shape:
            x = x[None]
        if x.ndim != 4 or x.shape[1:] != shape:
            raise DataError(f"input: expected a batch of shape (N, {shape[0]}, {shape[1]}, "
                            f"{shape[2]}) (N, height, width, depth), got {x.shape}")
        if x.shape[0] == 0:
            raise DataError("input: the batch is empty")
        if x.dtype.kind not in "fiub":
            raise DataError(f"input: expected numbers, got {x.dtype}")
        return np.ascontiguousarray(x, dtype=self.dtype)

    def forward(self, x, training=False):
        """Run a batch through the net; returns the last layer's output."""
        return self._run_forward(self._check_batch(x), training, self.threads)

    def _run_forward(self, x, training, threads):
        parts = self._plan_split(len(x), threads)
        if parts is None:
            self._split = None
            return _forward(self.layers, x, training)
        reps = self._replicas[:len(parts)]
        outs = self._run_parts(parts, lambda r, sl: _forward(r, x[sl], training), threads)
        self._split = parts
        for i, layer in enumerate(self.layers):
            layer.out_act = None
            layer._act_parts = [r[i] for r in reps]
        self.layers[-1].out_act = out = np.concatenate(outs)
        return out

    def backward(self, y, input_grad=False):
        """Mean cost loss of the last forward batch; leaves gradients in every parameter."""
        if self.layers[-1]._out_act is None:
            raise RuntimeError("backward() needs a forward() pass first")
        return self._run_backward(y, input_grad, self.threads)

    def _run_backward(self, y, input_grad, threads, n_total=None, checked=False):
        """Backward over the last forward batch; gradients are sums over ``n_total`` (default: the batch)."""
        if self._split is None:
            return _backward(self.layers, y, input_grad, n_total, checked)
        parts = self._split
        n = parts[-1].stop
        if not checked:  # the whole batch's targets, so that an error names the caller's batch
            y = self.loss_layer.targets(y, n, self.dtype)
        scale = n_total or n
        losses = self._run_parts(parts, lambda r, sl: _backward(r, y[sl], input_grad, scale, True),
                                 threads)
        self._gather_grads(len(parts), input_grad)
        return float(sum(l * (sl.stop - sl.start) for l, sl in zip(losses, parts)) / n)

    def _gather_grads(self, k, input_grad):
        """Sum the first ``k`` replicas' parameter gradients into the net's; keep their
        ``out_grad`` as the layers' parts."""
        reps = self._replicas[:k]
        for i, layer in enumerate(self.layers):
            for name in layer.grad_attrs:
                total = getattr(layer, name)
                np.copyto(total, getattr(reps[0][i], name))
                for r in reps[1:]:
                    total += getattr(r[i], name)
            layer.out_grad = None
            if i < len(self.layers) - 1 and (i > 0 or input_grad):
                layer._grad_parts = [r[i] for r in reps]

    def _run_train(self, x, y, threads, n_total=None):
        """A training step on checked ``x`` and targets ``y``: ``(output, loss, fwd_s, bwd_s)``.

        A batch cut into pieces runs each piece forward and at once backward, while
        its activations are still in cache (the same sums as a whole forward pass
        then a whole backward pass: the weights do not change within a step).
        """
        parts = self._plan_split(len(x), threads)
        t0 = time.perf_counter()
        if parts is None:
            self._split = None
            out = _forward(self.layers, x, True)
            t1 = time.perf_counter()
            loss = _backward(self.layers, y, False, n_total, checked=True)
            return out, loss, t1 - t0, time.perf_counter() - t1
        n, scale = len(x), n_total or len(x)

        def work(r, sl):
            a = time.perf_counter()
            o = _forward(r, x[sl], True)
            b = time.perf_counter()
            return o, _backward(r, y[sl], False, scale, checked=True), b - a, time.perf_counter() - b

        res = self._run_parts(parts, work, threads)
        wall = time.perf_counter() - t0
        self._split = parts
        for i, layer in enumerate(self.layers):
            layer.out_act = None
            layer._act_parts = [r[i] for r in self._replicas[:len(parts)]]
        self._gather_grads(len(parts), False)
        self.layers[-1].out_act = out = np.concatenate([r[0] for r in res])
        loss = float(sum(r[1] * (sl.stop - sl.start) for r, sl in zip(res, parts)) / n)
        f, b = sum(r[2] for r in res), sum(r[3] for r in res)
        return out, loss, wall * f / (f + b), wall * b / (f + b)

    def _run_parts(self, parts, work, threads):
        """``work(replica, slice)`` for every part, the parts dealt out to the threads."""
        k = min(threads, len(parts))
        jobs = [list(range(t, len(parts), k)) for t in range(k)]
        reps = self._replicas

        def job(ids):
            return [(i, work(reps[i], parts[i])) for i in ids]

        results = dict(r for rs in parallel.run_split([lambda ids=ids: job(ids) for ids in jobs])
                       for r in rs)
        return [results[i] for i in range(len(parts))]

    def _plan_split(self, n, threads):
        """Slices of the batch for the threads, or None to run it whole on this thread.

        A large batch is cut into pieces of about ``max_piece`` examples, which
        keeps each layer's working set in cache; the threads take turns on them
        (one thread takes them one after another).
        """
        if self._has_batchnorm():
            return None
        k = max(min(threads, n // self.min_split), min(-(-n // self.max_piece), self.max_pieces))
        if k < 2:
            return None
        # Replicas beyond this batch's pieces would keep an earlier (larger) batch's
        # activations alive: an evaluation of 1,000 images must not pin its memory.
        del self._replicas[k:]
        while len(self._replicas) < k:
            reps = [l.clone(share_params=True) for l in self.layers]
            rng = self.rng.spawn(1)[0]
            for l in reps:
                if hasattr(l, "rng"):
                    l.rng = rng
            self._replicas.append(reps)
        for reps in self._replicas[:k]:  # parameters may have been rebound since
            for main, rep in zip(self.layers, reps):
                for name in main.param_attrs:
                    setattr(rep, name, getattr(main, name))
        bounds = np.linspace(0, n, k + 1).round().astype(int)
        return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]

    def _has_batchnorm(self):
        return any(l.layer_type == "batchnorm" for l in self.layers)

    # -- work shared with worker processes -------------------------------------
    main_share = 0.5  # of a batch split with one worker, this process's part

    def train_step(self, x, y):
        """``forward(x, training=True)`` then ``backward(y)``: ``(output, loss, fwd_s, bwd_s)``.

        What ``Trainer.train`` runs. The result is the same as the two calls; a
        batch of at least ``2 * min_split`` examples is shared with worker processes
        when they are available (see ``engine.workers``), which on the demo net
        trains a quarter to a third faster than threads. Layers then show the whole batch as
        usual: the workers' shares of ``out_act``/``out_grad`` are fetched on request.
        """
        x = self._check_batch(x)
        # Checked for the whole batch here, so that an error names the batch the
        # caller passed, not the share of it that a worker got.
        y = self.loss_layer.targets(y, len(x), self.dtype)
        shared = self._shared(x, y)
        if shared is not None:
            return shared
        return self._run_train(x, y, self.threads)

    def infer(self, x):
        """``forward(x)`` for inference, a large batch shared with the worker processes.

        Same output and layer activations as ``forward(x)`` (when shared, the
        gradients of an earlier training step are dropped); ``predict`` and the data
        helpers (``engine.data.predict``, ``accuracy``) use it.
        """
        x = self._check_batch(x)
        shared = self._shared(x, None)
        return shared[0] if shared is not None else self._run_forward(x, False, self.threads)

    def _shared(self, x, y):
        """A training step (``y`` given) or an inference pass with the workers, or None."""
        n = len(x)
        k = min(self.threads, n // self.min_split)
        if k < 2 or not workers.enabled() or self._has_batchnorm():
            return None
        step = workers.Step.open(k - 1)
        if step is None:
            return None
        try:
            return self._shared_run(step, x, y, k)
        except workers._Lost:
            return None  # a worker died: the caller does it here

    def _shared_run(self, step, x, y, k):
        n = len(x)
        training = y is not None
        m = int(round(n * (self.main_share if k == 2 else 1.0 / k)))
        bounds = [0, m] + [int(round(m + (n - m) * j / (k - 1))) for j in range(1, k)]
        params, grads, _, _ = self.flat_buffers()
        try:
            step.start(self, params, [(x[a:b], None if y is None else y[a:b])
                                      for a, b in zip(bounds[1:-1], bounds[2:])], n)
        except BaseException:
            step.release()
            raise
        error = None
        loss, fwd_s, bwd_s = None, 0.0, 0.0
        try:
            if training:
                out, loss, fwd_s, bwd_s = self._run_train(x[:m], y[:m], 1, n)
            else:
                t0 = time.perf_counter()
                out = self._run_forward(x[:m], False, 1)
                fwd_s = time.perf_counter() - t0
        except BaseException as e:  # collect the workers' shares before raising
            error = e
        results = step.finish()
        if error is not None:
            raise error
        sizes = [b - a for a, b in zip(bounds[1:-1], bounds[2:])]
        if training:
            # Every share's gradients are already divided by the whole batch's size.
            for _, _, g in results:
                grads += g
            loss = float((loss * m + sum(r[0] * size for r, size in zip(results, sizes))) / n)
        out = np.concatenate([out] + [r[1] for r in results])
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            held_act, held_grad = layer._held()
            acts = layer._act_parts or [workers.HeldPart(held_act, None)]
            remote = [workers.RemotePart(w, self._token, i) for w in step.workers]
            grads_here = None
            if training and 0 < i < last:
                grads_here = layer._grad_parts or [workers.HeldPart(None, held_grad)]
            layer.out_act = None
            layer._act_parts = acts + remote
            # An earlier step's gradients are dropped: the workers no longer hold them.
            layer.out_grad = None
            if grads_here is not None:
                layer._grad_parts = grads_here + remote
        self.layers[-1].out_act = out
        self._split = None
        return out, loss, fwd_s, bwd_s

    def predict(self, x):
        """Most likely class (or the values, for regression) of each example."""
        out = self.infer(x).reshape(len(x) if np.ndim(x) == 4 else 1, -1)
        if self.layers[-1].layer_type == "regression":
            return out
        return out.argmax(axis=1)

    def trace(self, x, y=None, input_grad=True):
        """Run ``x`` (and, with targets ``y``, back) through the net: a ``Trace`` the caller owns.

        Safe to call from several threads at once on one net; the net's own
        ``out_act``/``out_grad`` and gradients are left alone.
        """
        net = self.copy()  # TODO(exec): run on the shared layers with per-call state
        net.threads = 1
        x = net._check_batch(x)
        if y is None:
            net._run_forward(x, False, 1)
            return Trace([np.array(l.out_act) for l in net.layers])
        y = net.loss_layer.targets(y, len(x), net.dtype)
        net._run_forward(x, False, 1)
        loss = net._run_backward(y, input_grad, 1, checked=True)
        grads = [None if l.out_grad is None else np.array(l.out_grad) for l in net.layers]
        return Trace([np.array(l.out_act) for l in net.layers], grads, loss,
                     [pg["grads"].copy() for pg in net.params_and_grads()])

    def params_and_grads(self):
        return [pg for layer in self.layers for pg in layer.params_and_grads()]

    def flat_buffers(self):
        """All parameters and all gradients as two flat arrays, with decay multipliers.

        Returns ``(params, grads, l1_mul, l2_mul)``: every layer's parameter and
        gradient arrays are views into ``params`` and ``grads``, so a trainer can
        update the whole net in a few vector operations. A layer whose arrays were
        replaced since is copied back in first.
        """
        pgs = self.params_and_grads()
        f = self._flat
        if f is None or len(f["views"]) != len(pgs) or any(
                pg["params"] is not v or pg["grads"] is not g
                for pg, (v, g) in zip(pgs, f["views"])):
            f = self._flat = self._make_flat()
            pgs = self.params_and_grads()
        muls = tuple((pg["l1_decay_mul"], pg["l2_decay_mul"]) for pg in pgs)
        if muls != f["muls"]:
            f["l1"] = np.concatenate([np.full(pg["params"].size, pg["l1_decay_mul"], self.dtype)
                                      for pg in pgs]) if pgs else np.zeros(0, self.dtype)
            f["l2"] = np.concatenate([np.full(pg["params"].size, pg["l2_decay_mul"], self.dtype)
                                      for pg in pgs]) if pgs else np.zeros(0, self.dtype)
            f["muls"] = muls
        return f["params"], f["grads"], f["l1"], f["l2"]

    def _make_flat(self):
        slots = [(layer, p, g) for layer in self.layers
                 for p, g in zip(layer.param_attrs, layer.grad_attrs)]
        total = sum(getattr(layer, p).size for layer, p, _ in slots)
        params = np.empty(total, self.dtype)
        grads = np.zeros(total, self.dtype)
        o = 0
        for layer, p, g in slots:
            arr = getattr(layer, p)
            view = params[o:o + arr.size].reshape(arr.shape)
            view[...] = arr
            setattr(layer, p, view)
            gview = grads[o:o + arr.size].reshape(arr.shape)
            gview[...] = getattr(layer, g)
            setattr(layer, g, gview)
            o += arr.size
        views = [(pg["params"], pg["grads"]) for pg in self.params_and_grads()]
        return {"params": params, "grads": grads, "views": views, "muls": None}

    def copy(self):
        """An independent copy with the same weights (for a view that must not see updates)."""
        other = Net.__new__(Net)
        other.dtype = self.dtype
        other.layer_defs = copy.deepcopy(self.layer_defs)
        other.layers = [l.clone(share_params=False) for l in self.layers]
        other.rng = self.rng.spawn(1)[0]
        other._setup(self.threads)
        return other

    # -- snapshots ----------------------------------------------------------
    def to_json(self):
        """ConvNetJS's snapshot format, weights included: ``{"layers": [...]}``."""
        return {"layers": [l.to_json() for l in self.layers]}

    @classmethod
    def from_json(cls, obj, dtype=np.float32):
        """Build a net from a ConvNetJS snapshot (what ``net.toJSON()`` writes).

        Raises
        ------
        SnapshotError
            When the snapshot is malformed, truncated or inconsistent.
        """
        dtype = _check_dtype(dtype)
        if isinstance(obj, (str, bytes)):
            try:
                obj = json.loads(obj)
            except ValueError as e:
                raise SnapshotError(f"snapshot is not valid JSON: {e}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("layers"), list) or not obj["layers"]:
            raise SnapshotError("snapshot: expected an object with a non-empty 'layers' list")
        entries = obj["layers"]
        layers = []
        shape = None
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise SnapshotError(f"snapshot layer {i}: expected an object")
            t = entry.get("layer_type")
            if t not in LAYER_TYPES:
                raise SnapshotError(f"snapshot layer {i}: unknown layer_type {t!r}")
            if (t == "input") != (i == 0):
                raise SnapshotError(f"snapshot layer {i}: the input layer must be first, and only first")
            if (t in LOSS_TYPES) != (i == len(entries) - 1):
                raise SnapshotError(f"snapshot layer {i}, {t}: the last layer, and only it, "
                                    f"must be a loss layer")
            layer_cls = LAYER_TYPES[t]
            opts = {k: v for k, v in layer_cls.opts_from_json(entry).items() if v is not None}
            try:
                layer = layer_cls(opts, shape)
            except SpecError as e:
                raise SnapshotError(f"snapshot layer {i}, {e}") from None
            declared = tuple(entry.get(k) for k in ("out_sy", "out_sx", "out_depth"))
            if all(v is not None for v in declared) and declared != layer.out_shape:
                raise SnapshotError(
                    f"snapshot layer {i}, {layer.describe()}: declares output "
                    f"{declared[1]}x{declared[0]}x{declared[2]} but its input gives "
                    f"{layer.out_sx}x{layer.out_sy}x{layer.out_depth}")
            layer.init_params(np.random.default_rng(0), dtype)
            try:
                layer.load_json_params(entry)
            except SnapshotError as e:
                raise SnapshotError(f"snapshot layer {i}, {e}") from None
            layer.source_index = i
            layers.append(layer)
            shape = layer.out_shape
        net = cls.__new__(cls)
        net.dtype = dtype
        net.layers = layers
        net.layer_defs = spec_from_layers(layers)
        net.rng = np.random.default_rng()
        net._setup(None)
        return net


def _relu_pools(layers):
    """Indices of relu layers followed by a max pool: the net runs each such pair as one.

    relu and max commute, so the pool takes the max of the pre-activations and the
    relu runs on the 4-9x smaller result; on the way back the relu's mask is applied
    before the gradient is routed to the winners. That saves two passes over the
    full-size activations. The relu layer's own ``out_act``/``out_grad`` are computed
    only when somebody looks at them, exactly as the relu would have made them.
    """
    return [i for i in range(1, len(layers) - 2)
            if layers[i].layer_type == "relu" and layers[i + 1].layer_type == "pool"]


def _forward(layers, x, training):
    fused = _relu_pools(layers)
    i = 0
    while i < len(layers):
        if i in fused:
            relu, pool = layers[i], layers[i + 1]
            relu.set_lazy(act=lambda pre=x: np.maximum(pre, 0))
            x = np.maximum(pool.forward(x, training), 0)
            pool.out_act = x
            i += 2
        else:
            x = layers[i].forward(x, training)
            i += 1
    return x


def _backward(layers, y, input_grad, n_total=None, checked=False):
    """Backward pass; ``checked``: ``y`` already came through the loss layer's ``targets``."""
    loss, d = layers[-1]._loss(y, n_total) if checked else layers[-1].loss(y, n_total)
    layers[-1].out_grad = None
    pools = {i + 1 for i in _relu_pools(layers)}
    i = len(layers) - 2
    while i > 0:
        if i in pools:
            relu, pool = layers[i - 1], layers[i]
            need_dx = i - 1 > 1 or input_grad
            dx = pool.backward(d * (pool.out_act > 0), need_dx)
            pool.out_grad = d
            relu.set_lazy(grad=lambda pool=pool, d=d, pre=pool._x: _relu_out_grad(pool, pre, d))
            d = dx
            i -= 2
        else:
            d = layers[i].backward(d, need_dx=(i > 1 or input_grad))
            i -= 1
    layers[0].out_grad = d if input_grad else None
    return loss


def _relu_out_grad(pool, pre, d):
    """What a relu before ``pool`` would hold as ``out_grad``: ``d`` routed to the
    winners among the relu's outputs (ties as ConvNetJS breaks them)."""
    ref = pool.clone(share_params=True)
    ref.forward(np.maximum(pre, 0), True)
    return ref.backward(d)
