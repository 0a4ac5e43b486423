"""The network: a stack of layers and their parameters.

Running it is ``engine.execution``'s business; every pass returns a ``Trace`` that
belongs to the caller. The ConvNetJS-style calls (``forward``, ``backward``,
``layer.out_act``/``out_grad``, ``params_and_grads``) keep a record of the last such
call for single-threaded use.
"""
import copy
import threading

import numpy as np

from engine.core import execution, limits, parallel
from engine.core.errors import DataError, OptionError, SnapshotError, SpecError
from engine.core.execution import plan as _plan
from engine.core.layers import LAYER_TYPES, LOSS_TYPES
from engine.core.spec import build_layers


def _check_dtype(dtype):
    try:
        dtype = np.dtype(dtype)
    except (TypeError, ValueError):
        raise OptionError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise OptionError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _rng(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or seed < 0):
        raise OptionError(f"seed must be a whole number >= 0 or None, got {seed!r}")
    return np.random.default_rng(seed)


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


class _LastPass:
    """The net's record of its last stateful call, shared by its layers (``out_act``)."""
    __slots__ = ("trace", "pending")

    def __init__(self):
        self.trace = self.pending = None


class _Again:
    """The record of a large inference ``forward``: its batch, run again for a ``backward``."""
    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x


def _acts_on_request(net, x, out):
    """A Trace of ``x`` through ``net`` whose layers' outputs are computed when read, a
    piece of the batch at a time (one layer's output for the batch, not every layer's)."""
    from engine.core.execution.plan import Deferred, Values
    from engine.core.trace import Trace
    rows = net.infer_rows()

    def layer(i):
        parts = [execution.run(net, net.check_batch(x[a:a + rows]))[0].acts[i]
                 for a in range(0, len(x), rows)]
        return np.concatenate(parts)

    acts = Values([Deferred(lambda i=i: layer(i)) for i in range(len(net.layers) - 1)] + [out])
    return Trace(acts)


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
        ``ENGINE_THREADS`` overrides). Training steps and large inference batches
        also use worker processes (``ENGINE_PROCESSES=0`` keeps them to threads).
    """

    def __init__(self, layer_defs, dtype=np.float32, seed=None, threads=None):
        self.dtype = _check_dtype(dtype)
        self.layer_defs = copy.deepcopy(list(layer_defs)) if isinstance(layer_defs, (list, tuple)) else layer_defs
        rng = _rng(seed)
        layers = build_layers(layer_defs)
        for layer in layers:
            layer.init_params(rng, self.dtype)
        self._setup(layers, rng, threads)

    @classmethod
    def from_layers(cls, layers, dtype=np.float32, seed=None, threads=None, rng=None):
        """A net over layers that already hold their parameters."""
        net = cls.__new__(cls)
        net.dtype = _check_dtype(dtype)
        net.layer_defs = spec_from_layers(layers)
        net._setup(layers, rng if rng is not None else _rng(seed), threads)
        return net

    def _setup(self, layers, rng, threads):
        self.layers = layers
        self.rng = rng
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer))
                                    or threads < 1):
            raise OptionError(f"threads must be a whole number >= 1, got {threads!r}")
        self.threads = parallel.default_threads() if threads is None else int(threads)
        self.plan = _plan.steps(layers)
        self.token = execution.processes.new_token()
        self.has_batchnorm = any(l.layer_type == "batchnorm" for l in layers)
        self._last = _LastPass()
        for i, layer in enumerate(layers):
            layer.index = i
            layer._last = self._last
        self._flat_lock = threading.Lock()
        self._flat = None
        self.flat_buffers()

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

    # -- passes the caller owns (any thread) -------------------------------------
    def check_batch(self, x, finite=False):
        """``x`` as a C-contiguous batch of this net's dtype; DataError if it does not fit
        (or, with ``finite``, if a value is NaN or infinite)."""
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
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if finite and not np.isfinite(x).all():
            bad = np.argwhere(~np.isfinite(x))[0]
            raise DataError(f"input: example {bad[0]} holds {x[tuple(bad)]} at (y {bad[1]}, x "
                            f"{bad[2]}, channel {bad[3]}): training on it would make every "
                            f"weight NaN")
        return x

    _check_batch = check_batch

    def _batch_of(self, x):
        """``x`` checked as ``check_batch`` does, but not converted (a large batch is
        converted a piece at a time)."""
        x = np.asarray(x)
        if x.ndim == 3 and x.shape == self.input_shape:
            x = x[None]
        self.check_batch(x[:1] if x.ndim == 4 and len(x) else x)
        return x

    def infer_rows(self):
        """Examples an inference pass runs at once: as many as ``limits.INFER_BYTES`` of
        activations (and window copies) hold, at least 64."""
        per = sum(limits.example_bytes(l) for l in self.layers) * self.dtype.itemsize // 4
        return max(64, limits.INFER_BYTES // max(1, per))

    def _infer_pieces(self, x, rows):
        """The outputs of a large batch, ``rows`` examples at a time: memory bounded by a
        piece's activations (and the output), not the batch's."""
        out = None
        for a in range(0, len(x), rows):
            o = execution.infer(self, self.check_batch(x[a:a + rows])).output
            if out is None:
                out = np.empty((len(x),) + o.shape[1:], o.dtype)
            out[a:a + len(o)] = o
        return out

    def trace(self, x, y=None, input_grad=True, score_grad=None, out_grad=None):
        """Run ``x`` (and, with targets ``y``, back) in inference mode: a ``Trace`` the caller owns.

        ``trace.acts[i]`` is layer ``i``'s output; with ``y``, ``trace.grads[i]`` its output
        gradient (the input layer's is the gradient with respect to the images, unless
        ``input_grad`` is False), ``trace.loss`` the mean cost loss and
        ``trace.param_grads`` the parameter gradients (in ``params_and_grads`` order).
        Instead of ``y``, the backward pass may start from a chosen gradient (``loss`` is
        then None): ``score_grad`` ``(N, scores)`` with respect to the loss layer's input
        (the scores before softmax: one-hot rows give the gradients of one class's
        score), or ``out_grad=(i, g)`` with ``g`` shaped like layer ``i``'s output (e.g.
        one-hot on a filter's channel). Safe on several threads at once; leaves the net's
        own record alone.
        """
        x = self.check_batch(x)
        if score_grad is not None:
            g = np.asarray(score_grad, dtype=self.dtype)
            width = self.loss_layer.num_inputs
            if g.shape != (len(x), width):
                raise DataError(f"score_grad: expected shape ({len(x)}, {width}), got {g.shape}")
            out_grad = (len(self.layers) - 2, g.reshape(len(x), 1, 1, width))
        if out_grad is not None:
            i, g = out_grad
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 < i < len(self.layers) - 1:
                raise DataError(f"out_grad: the layer must be 1 to {len(self.layers) - 2}, got {i!r}")
            g = np.ascontiguousarray(g, dtype=self.dtype)
            shape = (len(x),) + self.layers[i].out_shape
            if g.shape != shape:
                raise DataError(f"out_grad: layer {i}'s output gradient must have shape {shape}, "
                                f"got {g.shape}")
            return execution.run(self, x, _plan.OutGrad(int(i), g), input_grad=input_grad)[0]
        if y is None:
            return execution.run(self, x)[0]
        y = self.loss_layer.targets(y, len(x), self.dtype)
        return execution.run(self, x, y, input_grad=input_grad)[0]

    def infer(self, x):
        """The outputs for a batch (inference), a large batch shared with the worker processes
        and run in pieces of ``infer_rows()`` examples (100,000 images take the memory of one
        piece and the outputs, not of 100,000 images' activations)."""
        x = self._batch_of(x)
        rows = self.infer_rows()
        if len(x) <= rows:
            return execution.infer(self, self.check_batch(x)).output
        return self._infer_pieces(x, rows)

    def predict(self, x):
        """Most likely class (or the values, for regression) of each example."""
        out = self.infer(x)
        out = out.reshape(len(out), -1)
        if self.layers[-1].layer_type == "regression":
            return out
        return out.argmax(axis=1)

    # -- ConvNetJS's stateful calls (one thread) ---------------------------------------
    def forward(self, x, training=False):
        """Run a batch through the net; returns the last layer's output.

        Each layer's ``out_act`` then shows this batch. Inference (``training=False``)
        is safe on several threads at once. An inference batch of more than ``infer_rows()``
        examples runs in pieces, keeping only the output: a layer's ``out_act`` is then
        computed when it is read (by a copy of the net as it was, so training in between
        does not change it), and a ``backward`` runs the forward pass again whole.
        """
        if not training:
            big = self._batch_of(x)
            if len(big) > self.infer_rows():
                out = self._infer_pieces(big, self.infer_rows())
                self._last.pending = _Again(big)
                self._last.trace = _acts_on_request(self.copy(), big, out)
                return out
        trace, _, pending = execution.plan.forward(self, self.check_batch(x), training)
        self._last.pending = pending
        self._last.trace = trace
        return trace.output

    def backward(self, y, input_grad=False):
        """Mean cost loss of the last forward batch; leaves gradients in every parameter.

        Each layer's ``out_grad`` then holds the gradient of the mean loss with respect
        to its output (the input layer's only with ``input_grad``).
        """
        pending = self._last.pending
        if pending is None:
            raise RuntimeError("backward() needs a forward() pass first")
        if isinstance(pending, _Again):  # a large inference batch kept only its output
            _, _, pending = execution.plan.forward(self, self.check_batch(pending.x), False)
        y = self.loss_layer.targets(y, len(pending.x), self.dtype)
        trace, _ = execution.plan.backward(self, pending, y, input_grad, self.flat_buffers()[1])
        self._last.trace = trace
        return trace.loss

    def train_step(self, x, y):
        """``forward(x, training=True)`` then ``backward(y)``: ``(output, loss, fwd_s, bwd_s)``.

        What ``Trainer.train`` runs: the gradients land in the net's own buffer.
        """
        x = self.check_batch(x, finite=True)
        # Checked for the whole batch here, so that an error names the batch the
        # caller passed, not the share of it that a worker got.
        y = self.loss_layer.targets(y, len(x), self.dtype)
        trace, fwd_s, bwd_s = execution.train_step(self, x, y)
        self._last.pending = None
        self._last.trace = trace
        return trace.output, trace.loss, fwd_s, bwd_s

    # -- parameters ---------------------------------------------------------------
    def params_and_grads(self):
        return [pg for layer in self.layers for pg in layer.params_and_grads()]

    def state_arrays(self):
        """Every array that makes up the weights: parameters, then running statistics."""
        return ([pg["params"] for pg in self.params_and_grads()]
                + [getattr(l, a) for l in self.layers for a in l.state_attrs])

    def flat_buffers(self):
        """All parameters and all gradients as two flat arrays, with decay multipliers.

        Returns ``(params, grads, l1_mul, l2_mul)``: every layer's parameter and
        gradient arrays are views into ``params`` and ``grads``, so a trainer can
        update the whole net in a few vector operations. A layer whose arrays were
        replaced since is copied back in first.
        """
        f = self._flat
        if f is None or any(getattr(l, p) is not v or getattr(l, g) is not gv
                            for l, p, g, v, gv in f["slots"]):
            with self._flat_lock:
                f = self._flat = self._make_flat()
        # The decay multipliers are plain attributes too: read them without building dicts.
        muls = tuple((getattr(l, "l1_decay_mul", None), getattr(l, "l2_decay_mul", None))
                     for l, *_ in f["slots"])
        if muls != f["muls"]:
            pgs = self.params_and_grads()
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
        layout = [[] for _ in self.layers]  # per layer: (offset, shape) of each gradient
        o = 0
        for layer, p, g in slots:
            arr = getattr(layer, p)
            view = params[o:o + arr.size].reshape(arr.shape)
            view[...] = arr
            setattr(layer, p, view)
            gview = grads[o:o + arr.size].reshape(arr.shape)
            gview[...] = getattr(layer, g)
            setattr(layer, g, gview)
            layout[layer.index].append((o, arr.shape))
            o += arr.size
        own = [tuple(getattr(l, g) for g in l.grad_attrs) for l in self.layers]
        return {"params": params, "grads": grads, "muls": None, "layout": layout, "own": own,
                "slots": [(l, p, g, getattr(l, p), getattr(l, g)) for l, p, g in slots]}

    def new_grads(self):
        """A flat gradient buffer shaped like the net's (its contents undefined)."""
        return np.empty_like(self.flat_buffers()[1])

    def grad_views(self, flat):
        """Per layer, the tuple of its parameter gradients as views of ``flat``."""
        f = self._flat
        if flat is f["grads"]:
            return f["own"]
        return [tuple(flat[o:o + int(np.prod(shape))].reshape(shape) for o, shape in slots)
                for slots in f["layout"]]

    def param_views(self, flat):
        """The parameter gradients in ``flat``, in ``params_and_grads`` order."""
        return [v for views in self.grad_views(flat) for v in views]

    def copy(self):
        """An independent copy with the same weights (for a view that must not see updates)."""
        other = Net.from_layers([l.clone(share_params=False) for l in self.layers], self.dtype,
                                threads=self.threads, rng=self.rng.spawn(1)[0])
        other.layer_defs = copy.deepcopy(self.layer_defs)
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
            from engine.core.io import parse_json
            obj = parse_json(obj, SnapshotError, "snapshot")
        if not isinstance(obj, dict) or not isinstance(obj.get("layers"), list) or not obj["layers"]:
            raise SnapshotError("snapshot: expected an object with a non-empty 'layers' list")
        entries = obj["layers"]
        try:
            limits.check_layer_count(len(entries), "the snapshot")
        except SpecError as e:
            raise SnapshotError(str(e)) from None
        layers = []
        shape = None
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise SnapshotError(f"snapshot layer {i}: expected an object")
            t = entry.get("layer_type")
            if not isinstance(t, str) or t not in LAYER_TYPES:
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
            if layer.layer_type in ("conv", "fc"):  # counted now, allocated later
                count = layer.filters if layer.layer_type == "conv" else layer.num_neurons
                if not isinstance(entry.get("filters"), list) or len(entry["filters"]) != count:
                    raise SnapshotError(f"snapshot layer {i}, {layer.describe()}: expected {count} "
                                        f"filters")
            layer.source_index = i
            layers.append(layer)
            shape = layer.out_shape
        try:  # before a single weight is allocated
            limits.check(layers)
        except SpecError as e:
            raise SnapshotError(f"snapshot {e}") from None
        for i, (layer, entry) in enumerate(zip(layers, entries)):
            layer.init_params(np.random.default_rng(0), dtype)
            try:
                layer.load_json_params(entry)
            except SnapshotError as e:
                raise SnapshotError(f"snapshot layer {i}, {e}") from None
        return cls.from_layers(layers, dtype)
