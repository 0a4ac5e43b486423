"""The small protocol every layer follows, and option parsing shared by them.

A layer is built from a dict of options and the shape of its input volume
``(sy, sx, depth)``. The constructor validates the options and computes the output
shape up front without allocating anything; ``init_params`` allocates weights.
Batches are ``(N, sy, sx, depth)`` arrays.
"""
import copy
import numbers

import numpy as np

from .. import options
from ..errors import SnapshotError


class Layer:
    layer_type = None
    has_params = False
    # Attribute names of parameters and of their gradients, in params_and_grads order.
    param_attrs = ()
    grad_attrs = ()

    def __init__(self, opts, in_shape):
        self.opts = dict(opts)
        self.in_sy, self.in_sx, self.in_depth = in_shape
        self.out_sy, self.out_sx, self.out_depth = in_shape
        self._out_act = self._out_grad = None
        self._act_parts = self._grad_parts = None
        self._lazy_act = self._lazy_grad = None
        self.dtype = np.float32

    # -- last activations and gradients ------------------------------------
    # When a batch was split across threads the pieces live in the replicas'
    # layers; they are joined only when somebody asks (training never does).
    # A layer whose pass the net folded into its neighbour's (a relu before a max
    # pool) holds a function that computes its values when somebody asks.
    @property
    def out_act(self):
        if self._out_act is None:
            if self._act_parts is not None:
                self._out_act = np.concatenate([l._part_act() for l in self._act_parts])
            elif self._lazy_act is not None:
                self._out_act, self._lazy_act = self._lazy_act(), None
        return self._out_act

    @out_act.setter
    def out_act(self, value):
        self._out_act, self._act_parts, self._lazy_act = value, None, None

    @property
    def out_grad(self):
        if self._out_grad is None:
            if self._grad_parts is not None:
                self._out_grad = np.concatenate([l._part_grad() for l in self._grad_parts])
            elif self._lazy_grad is not None:
                self._out_grad, self._lazy_grad = self._lazy_grad(), None
        return self._out_grad

    @out_grad.setter
    def out_grad(self, value):
        self._out_grad, self._grad_parts, self._lazy_grad = value, None, None

    def set_lazy(self, act=None, grad=None):
        """``out_act``/``out_grad`` computed by these functions when first asked for."""
        if act is not None:
            self._out_act, self._act_parts, self._lazy_act = None, None, act
        if grad is not None:
            self._out_grad, self._grad_parts, self._lazy_grad = None, None, grad

    def _part_act(self):  # as a part of a split batch (see engine.workers.HeldPart)
        return self.out_act

    def _part_grad(self):
        return self.out_grad

    def _held(self):
        """``(act, grad)``, each an array, None, or a function computing it: this
        process's share of a batch, before the layer is pointed at all the shares."""
        act = self._out_act if self._out_act is not None else self._lazy_act
        grad = self._out_grad if self._out_grad is not None else self._lazy_grad
        return act, grad

    def clone(self, share_params):
        """A copy without cached batches; parameters shared or copied, gradients new."""
        other = copy.copy(self)
        # settings are public attributes; everything cached from a batch starts with "_"
        other.__dict__ = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        other._out_act = other._out_grad = None
        other._act_parts = other._grad_parts = None
        other._lazy_act = other._lazy_grad = None
        for name in self.param_attrs:
            if not share_params:
                setattr(other, name, getattr(self, name).copy())
        for name in self.grad_attrs:
            setattr(other, name, np.zeros_like(getattr(self, name)))
        for name in ("running_mean", "running_var"):
            if hasattr(self, name) and not share_params:
                setattr(other, name, getattr(self, name).copy())
        return other

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

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dout, need_dx=True):
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


# -- option helpers --------------------------------------------------------
# Layer options are read with engine.options (their defaults and ranges are in its table);
# these two check a value that is not in the table with the same words.
def int_opt(opts, name, layer_type, default=None, minimum=1, aliases=()):
    """An integer option >= minimum; raises SpecError with the option's name."""
    return options.read(opts, layer_type, name, option=options.Option(
        name, "int", name, "", default=options.REQUIRED if default is None else default,
        minimum=minimum, aliases=tuple(aliases)))


def float_opt(opts, name, layer_type, default, minimum=None, maximum=None,
              exclusive_max=False):
    return options.read(opts, layer_type, name, option=options.Option(
        name, "float", name, "", float(default), minimum=minimum, maximum=maximum,
        exclusive_max=exclusive_max))


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
    return arr.reshape(shape).astype(dtype)


def vol_to_json(arr, sx, sy, depth):
    return {"sx": int(sx), "sy": int(sy), "depth": int(depth),
            "w": np.asarray(arr, dtype=np.float64).ravel().tolist()}
