"""The small protocol every layer follows, and option parsing shared by them.

A layer is built from a dict of options and the shape of its input volume
``(sy, sx, depth)``. The constructor validates the options and computes the output
shape up front without allocating anything; ``init_params`` allocates weights.
Batches are ``(N, sy, sx, depth)`` arrays.
"""
import copy
import numbers

import numpy as np

from engine.core import options
from engine.core.errors import SnapshotError


class Layer:
    """One layer type: options and shapes, parameters, and a forward/backward pair.

    ``forward(x, training, rng) -> (out, cache)`` and
    ``backward(cache, dout, grads, need_dx) -> dx`` are pure: the cache holds what the
    backward pass needs, ``grads`` (one array per parameter, in ``param_attrs`` order)
    receives the parameter gradients. Nothing about a batch is kept on the layer, so a
    net may run several batches on several threads at once. How a whole stack runs
    (pieces, threads, processes, layers folded together) is ``engine.execution``'s business.
    """

    layer_type = None
    has_params = False
    # Attribute names of parameters and of their gradients, in params_and_grads order.
    param_attrs = ()
    grad_attrs = ()
    # Arrays that are neither parameters nor gradients but belong to the weights
    # (batchnorm's running statistics): copied with them, restored with them.
    state_attrs = ()

    def __init__(self, opts, in_shape):
        self.opts = dict(opts)
        self.in_sy, self.in_sx, self.in_depth = in_shape
        self.out_sy, self.out_sx, self.out_depth = in_shape
        self.dtype = np.float32
        self._last = None  # the net's record of its last stateful pass (see out_act)
        self.index = None  # this layer's position in its net

    # -- the last stateful pass (ConvNetJS's out_act / out_grad) -----------------
    @property
    def out_act(self):
        """This layer's output batch of the net's last ``forward``/``backward`` call."""
        t = self._last.trace if self._last is not None else None
        return None if t is None else t.acts[self.index]

    @property
    def out_grad(self):
        """The gradient of the mean loss with respect to ``out_act`` (after ``backward``)."""
        t = self._last.trace if self._last is not None else None
        return None if t is None or t.grads is None else t.grads[self.index]

    def clone(self, share_params):
        """A copy; parameters (and state) shared or copied, gradients new."""
        other = copy.copy(self)
        other._last = None
        for name in self.param_attrs + self.state_attrs:
            if not share_params:
                setattr(other, name, getattr(self, name).copy())
        for name in self.grad_attrs:
            setattr(other, name, np.zeros_like(getattr(self, name)))
        return other

    def __getstate__(self):  # sent to worker processes without the net's record
        state = dict(self.__dict__)
        state["_last"] = None
        return state

    # -- shapes -----------------------------------------------------------
    @property
    def out_shape(self):
        return (self.out_sy, self.out_sx, self.out_depth)

    @property
    def n_params(self):
        return 0

    def describe(self):
        """Short words for the layer's settings, e.g. ``conv 5x5, 8 filters``."""
        return self.layer_type

    # -- compute ------------------------------------------------------------
    def init_params(self, rng, dtype):
        self.dtype = dtype

    def forward(self, x, training=False, rng=None):
        """``(out, cache)`` for the batch ``x``."""
        raise NotImplementedError

    def backward(self, cache, dout, grads=(), need_dx=True):
        """The input gradient (None without ``need_dx``); parameter gradients into ``grads``."""
        raise NotImplementedError

    def params_and_grads(self):
        return []

    # -- serialisation ------------------------------------------------------
    spec_keys = ()

    def to_spec(self):
        """This layer as a ``layer_defs`` entry (no shorthands, no weights)."""
        spec = {"type": self.layer_type}
        spec.update({k: getattr(self, k) for k in self.spec_keys})
        return spec

    def to_json(self):
        return {"layer_type": self.layer_type, "out_sx": self.out_sx,
                "out_sy": self.out_sy, "out_depth": self.out_depth}

    @classmethod
    def opts_from_json(cls, obj):
        """Options that rebuild this layer from a snapshot entry (engine.options' table)."""
        return options.from_snapshot(cls.layer_type, obj)

    def load_json_params(self, obj):
        """Copy weights from a snapshot entry (layers with parameters override)."""


def vol_from_json(obj, shape, what, dtype):
    """Read a ConvNetJS ``Vol`` JSON (``w`` a list or a dict keyed "0", "1", ...)."""
    if not isinstance(obj, dict) or "w" not in obj:
        raise SnapshotError(f"{what}: expected an object with 'sx', 'sy', 'depth' and 'w'")
    w = obj["w"]
    size = int(np.prod(shape))
    if not isinstance(w, (dict, list, tuple)):
        raise SnapshotError(f"{what}: 'w' must be a list or an object of numbers")
    try:
        values = [w[str(i)] for i in range(size)] if isinstance(w, dict) else w
        arr = np.asarray(values, dtype=np.float64)
    except KeyError as e:
        raise SnapshotError(f"{what}: 'w' is missing entry {e.args[0]} of {size}") from None
    except (TypeError, ValueError):
        raise SnapshotError(f"{what}: 'w' holds something that is not a number") from None
    if arr.ndim != 1 or arr.size != size:
        raise SnapshotError(f"{what}: 'w' has {arr.size} values, expected {size}")
    if not np.all(np.isfinite(arr)):
        raise SnapshotError(f"{what}: 'w' holds a value that is not finite")
    dims = tuple(obj.get(k) for k in ("sy", "sx", "depth"))
    if all(isinstance(d, numbers.Integral) for d in dims) and int(np.prod(dims)) != size:
        raise SnapshotError(f"{what}: declared size {dims[1]}x{dims[0]}x{dims[2]} "
                            f"does not fit the layer ({size} values)")
    with np.errstate(over="ignore"):
        out = arr.reshape(shape).astype(dtype)
    if not np.all(np.isfinite(out)):
        raise SnapshotError(f"{what}: 'w' holds a value too large for {np.dtype(dtype).name}")
    return out


def vol_to_json(arr, sx, sy, depth):
    return {"sx": int(sx), "sy": int(sy), "depth": int(depth),
            "w": np.asarray(arr, dtype=np.float64).ravel().tolist()}
