"""Network specifications: ConvNetJS's shorthands, validation and shape inference.

A specification is a list of plain dicts in ConvNetJS's ``layer_defs`` vocabulary.
``expand`` applies ConvNetJS's ``makeLayers`` shorthands; ``build_layers`` makes
layer objects (shapes computed, no weights); ``infer_shapes`` reports them.
"""
import copy

from engine.core import limits, options
from engine.core.errors import EngineError, SpecError
from engine.core.layers import LAYER_TYPES, LOSS_TYPES
from engine.core.options import ACTIVATIONS  # noqa: F401 (spec.ACTIVATIONS, as before)


def _type_of(d, i):
    if not isinstance(d, dict):
        raise SpecError(f"layer {i}: expected an object with a 'type', got {type(d).__name__}", i)
    t = d.get("type")
    if not isinstance(t, str):
        raise SpecError(f"layer {i}: missing 'type'", i)
    if t not in LAYER_TYPES:
        raise SpecError(f"layer {i}: unknown layer type '{t}' "
                        f"(known: {', '.join(sorted(LAYER_TYPES))})", i)
    return t


def expand(layer_defs):
    """ConvNetJS's ``makeLayers`` desugaring: returns ``[(def, source_index), ...]``.

    An fc is inserted before softmax/svm (``num_classes``) and regression
    (``num_neurons``); ``activation`` and ``drop_prob`` become layers of their own;
    ``bias_pref`` defaults to 0.1 on a conv/fc followed by a relu.
    """
    if not isinstance(layer_defs, (list, tuple)) or not layer_defs:
        raise SpecError("a network needs a list of layers, starting with an input layer")
    limits.check_layer_count(len(layer_defs))
    out = []
    last = len(layer_defs) - 1
    for i, d in enumerate(layer_defs):
        t = _type_of(d, i)
        if t == "input" and i != 0:
            raise SpecError(f"layer {i}, input: the input layer must be first", i)
        if i == 0 and t != "input":
            raise SpecError(f"layer 0, {t}: the first layer must be an input layer", 0)
        if t in LOSS_TYPES and i != last:
            raise SpecError(f"layer {i}, {t}: a loss layer must be the last layer "
                            f"(move it to the end or remove it)", i)
        if i == last and t not in LOSS_TYPES:
            raise SpecError(f"layer {i}, {t}: the last layer must be a loss layer "
                            f"(softmax, svm or regression)", i)
        out.extend((e, i) for e in _expand_def(d, i, t))
    return out


def _expand_def(d, i, t):
    """The layers one definition stands for (ConvNetJS's shorthands), as defs."""
    out = []
    try:
        options.check_keys(d, t)
    except SpecError as e:
        raise SpecError(f"layer {i}, {e}", i) from None
    d = copy.deepcopy(d)
    if t in LOSS_TYPES:
        key = "num_neurons" if t == "regression" else "num_classes"
        try:
            n = options.read(d, t, key)
        except SpecError as e:
            raise SpecError(f"layer {i}, {e}", i) from None
        out.append({"type": "fc", "num_neurons": n})
    act = d.get("activation")
    if t in ("fc", "conv") and d.get("bias_pref") is None:
        d["bias_pref"] = 0.1 if act == "relu" else options.TABLE[t].option("bias_pref").default
    out.append(d)
    if act is not None:
        if act not in ACTIVATIONS:
            raise SpecError(f"layer {i}, {t}: unknown activation {act!r} "
                            f"(known: {', '.join(ACTIVATIONS)})", i)
        a = {"type": act}
        if act == "maxout" and d.get("group_size") is not None:
            a["group_size"] = d["group_size"]
        out.append(a)
    if d.get("drop_prob") is not None and t != "dropout":
        out.append({"type": "dropout", "drop_prob": d["drop_prob"]})
    return out


def build_layers(layer_defs):
    """Layer objects for a specification, shapes computed, weights not allocated."""
    layers = []
    shape = None
    for d, i in expand(layer_defs):
        cls = LAYER_TYPES[d["type"]]
        try:
            layer = cls(d, shape)
        except SpecError as e:
            raise SpecError(f"layer {i}, {e}", i) from None
        except EngineError as e:  # pragma: no cover - layers raise SpecError
            raise SpecError(f"layer {i}, {d['type']}: {e}", i) from None
        layer.source_index = i
        layers.append(layer)
        shape = layer.out_shape
    limits.check(layers)
    return layers


def layer_macs(layer):
    """Multiply-adds per example in one forward pass of ``layer``: those of its dot products.

    conv: ``out_sx * out_sy * filters * sx * sy * in_depth`` (every window position,
    padded cells included, as the engine computes them); fc (also the one before a loss
    layer): ``num_inputs * num_neurons``. Bias additions are not counted, nor is the
    element-wise work of every other layer (activations, pooling's comparisons, lrn,
    batchnorm, dropout, softmax): 0 for them, as it is small and bound by memory, not
    arithmetic.
    """
    if layer.layer_type == "conv":
        return layer.out_sx * layer.out_sy * layer.filters * layer.sx * layer.sy * layer.in_depth
    if layer.layer_type == "fc":
        return layer.num_inputs * layer.num_neurons
    return 0


def _costs(layer):
    """``macs`` and ``act_bytes`` (the layer's output per example in float32)."""
    return {"macs": layer_macs(layer),
            "act_bytes": 4 * layer.out_sx * layer.out_sy * layer.out_depth}


def infer_shapes(layer_defs):
    """One dict per expanded layer: ``type, out_sx, out_sy, out_depth, params, source_index``,
    its cost ``macs`` (multiply-adds per example in a forward pass, see ``layer_macs``) and
    ``act_bytes`` (``4 * out_sx * out_sy * out_depth``), and a ``description``.

    Raises
    ------
    SpecError
        With ``layer_index`` and a message naming the layer and what is wrong.
    """
    return [{"type": l.layer_type, "out_sx": l.out_sx, "out_sy": l.out_sy,
             "out_depth": l.out_depth, "params": l.n_params, "source_index": l.source_index,
             "description": l.describe(), **_costs(l)}
            for l in build_layers(layer_defs)]


def cost_totals(shapes):
    """Totals per example over ``infer_shapes`` rows: ``params``, ``act_bytes``,
    ``forward_macs`` and ``training_macs``.

    ``training_macs`` roughly counts a training step: each product runs forward, again
    for its weights' gradient, and again for its input's gradient, except the first layer
    after the input (nobody needs the images' gradient while training).
    """
    forward = sum(s["macs"] for s in shapes)
    no_input_grad = shapes[1]["macs"] if len(shapes) > 1 else 0
    return {"params": sum(s["params"] for s in shapes),
            "act_bytes": sum(s["act_bytes"] for s in shapes),
            "forward_macs": forward, "training_macs": 3 * forward - no_input_grad}


def check(layer_defs):
    """Shapes as far as they can be computed, and the stack's first error.

    For an editor that shows every layer while the stack is still wrong: returns
    ``(rows, error)``, ``rows`` one dict per *given* definition (``None`` from the
    first layer whose shape cannot be computed) with ``out_sx, out_sy, out_depth``
    of the last layer it expands to, its total ``params``, the expanded ``types``
    and a ``description``, and the costs of all the layers it expands to: ``macs`` and
    ``act_bytes`` summed (each expanded layer's output is kept for the backward pass);
    ``error`` is what ``infer_shapes`` raises, or None.
    """
    try:
        infer_shapes(layer_defs)
        error = None
    except SpecError as e:
        error = e
    if not isinstance(layer_defs, (list, tuple)) or len(layer_defs) > limits.MAX_LAYERS:
        return [], error
    rows = [None] * len(layer_defs)
    shape = None
    for i, d in enumerate(layer_defs):
        try:
            t = _type_of(d, i)
            if (t == "input") != (i == 0):
                break
            layers = []
            for sub in _expand_def(d, i, t):
                layer = LAYER_TYPES[sub["type"]](sub, shape)
                layers.append(layer)
                shape = layer.out_shape
        except SpecError:
            break
        last = layers[-1]
        main = layers[1] if t in LOSS_TYPES else layers[0]
        rows[i] = {"out_sx": last.out_sx, "out_sy": last.out_sy, "out_depth": last.out_depth,
                   "params": sum(l.n_params for l in layers),
                   "types": [l.layer_type for l in layers], "description": main.describe(),
                   "macs": sum(layer_macs(l) for l in layers),
                   "act_bytes": sum(_costs(l)["act_bytes"] for l in layers)}
    return rows, error
