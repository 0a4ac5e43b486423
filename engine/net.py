"""The network: a stack of layers run forward and backward on batches."""
import copy
import json

import numpy as np

from .errors import DataError, SnapshotError, SpecError
from .layers import LAYER_TYPES, LOSS_TYPES
from .spec import build_layers


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
    """

    def __init__(self, layer_defs, dtype=np.float32, seed=None):
        self.dtype = _check_dtype(dtype)
        self.layer_defs = copy.deepcopy(list(layer_defs)) if isinstance(layer_defs, (list, tuple)) else layer_defs
        self.layers = build_layers(layer_defs)
        self.rng = np.random.default_rng(seed)
        for layer in self.layers:
            layer.init_params(self.rng, self.dtype)
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
        x = self._check_batch(x)
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, y, input_grad=False):
        """Mean cost loss of the last forward batch; leaves gradients in every parameter."""
        if self.layers[-1].out_act is None:
            raise RuntimeError("backward() needs a forward() pass first")
        loss, d = self.layers[-1].loss(y)
        self.layers[-1].out_grad = None
        for i in range(len(self.layers) - 2, 0, -1):
            d = self.layers[i].backward(d, need_dx=(i > 1 or input_grad))
        self.layers[0].out_grad = d if input_grad else None
        return loss

    def predict(self, x):
        """Most likely class (or the values, for regression) of each example."""
        out = self.forward(x).reshape(len(x) if np.ndim(x) == 4 else 1, -1)
        if self.layers[-1].layer_type == "regression":
            return out
        return out.argmax(axis=1)

    def params_and_grads(self):
        return [pg for layer in self.layers for pg in layer.params_and_grads()]

    def copy(self):
        """An independent copy with the same weights (for a view that must not see updates)."""
        other = Net.__new__(Net)
        other.__dict__.update(self.__dict__)
        other.layers = copy.deepcopy(self.layers)
        for layer in other.layers:
            layer.out_act = layer.out_grad = None
            for k in ("_cols", "_x", "_mask", "_idx", "_pos", "_xhat", "_scale", "_pw"):
                layer.__dict__.pop(k, None)
        other.rng = copy.deepcopy(self.rng)
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
        for layer in layers:
            if hasattr(layer, "rng"):
                layer.rng = net.rng
        return net
