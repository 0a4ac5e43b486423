"""What the builder knows about each layer type: group, words, defaults, editable fields.

All of it comes from the engine's table of layer options (``engine.options``), so the
palette, the property forms and a freshly dropped layer agree with what the engine does.
"""
from dataclasses import dataclass, field

from engine.core.options import ACTIVATIONS, LAYERS, TABLE, groups

GROUPS = groups()
TITLES = {t.type: t.title for t in LAYERS}
DESCRIPTIONS = {t.type: t.description for t in LAYERS}
#: The definition of a layer dropped into the stack, by type.
DEFAULTS = {t.type: t.new_layer() for t in LAYERS}

ACTIVATION_CHOICES = [""] + list(ACTIVATIONS)


@dataclass
class Field:
    """One editable option of a layer."""
    key: str
    label: str
    kind: str                 # "int", "float", "choice", "optional_int"
    tooltip: str
    minimum: float = 0
    maximum: float = 1e9
    default: object = None
    decimals: int = 4
    choices: list = field(default_factory=list)


def _field(o):
    """The form field of a table option: the engine's range made closed (and topped where
    the engine has no maximum), its default as the form shows it."""
    lo, hi = o.form_range()
    if o.required or o.same_as:
        default = None
    elif o.default is None:  # a shorthand that is off: no activation, no dropout (0)
        default = "" if o.kind == "choice" else 0.0
    else:
        default = o.default
    choices = ([""] + list(o.choices)) if o.kind == "choice" else []
    return Field(o.key, o.label, o.kind, o.help, 0 if lo is None else lo,
                 1e9 if hi is None else hi, default, o.decimals, choices)


FIELDS = {t.type: [_field(o) for o in t.options if o.form] for t in LAYERS}


def layer_type(d):
    """A definition's type as a word to show ("?" when it has none, or not a word)."""
    t = d.get("type", "?") if isinstance(d, dict) else "?"
    return t if isinstance(t, str) else "?"


def summary(d):
    """Key settings in a few words, e.g. ``conv 5x5, 8 filters, stride 1, pad 2, relu``."""
    t = layer_type(d)
    g = d.get

    def v(key):  # the definition's value, else the engine's default (from the table)
        return d[key] if d.get(key) is not None else TABLE[t].option(key).default

    if t == "input":
        text = f"input {g('out_sx', '?')}x{g('out_sy', '?')}x{g('out_depth', '?')}"
    elif t == "conv":
        sx = g("sx", "?")
        text = f"conv {sx}x{g('sy') or sx}, {g('filters', '?')} filters, stride {v('stride')}, pad {v('pad')}"
    elif t == "pool":
        sx = g("sx", "?")
        text = f"pool {sx}x{g('sy') or sx}, stride {v('stride')}" + (f", pad {g('pad')}" if g("pad") else "")
    elif t == "fc":
        text = f"fc, {g('num_neurons', g('filters', '?'))} neurons"
    elif t in ("softmax", "svm"):
        text = f"{t}, {g('num_classes', '?')} classes"
    elif t == "regression":
        text = f"regression, {g('num_neurons', '?')} outputs"
    elif t == "dropout":
        text = f"dropout {v('drop_prob')}"
    elif t == "maxout":
        text = f"maxout, groups of {v('group_size')}"
    elif t == "leaky_relu":
        text = f"leaky relu, slope {v('alpha')}"
    elif t == "lrn":
        text = f"lrn n {v('n')}, k {v('k')}, alpha {v('alpha')}, beta {v('beta')}"
    else:
        text = t
    if g("activation"):
        text += f", {g('activation')}"
    if g("drop_prob") and t != "dropout":
        text += f", dropout {g('drop_prob')}"
    return text


def volume(row):
    """``24x24x8`` for a shape row of engine.spec.check."""
    return f"{row['out_sx']}x{row['out_sy']}x{row['out_depth']}" if row else "?"
