"""Every layer type and every layer option, said once.

For each layer type: its title, palette group and description; for each of its options:
key, kind, the engine's default (or that it is required), the allowed range, a short
label, help text, and the value the builder gives a freshly dropped layer where it spells
one out. Everything else reads this table:

- the layer constructors and ``opts_from_json`` (``parse``, ``read``, ``from_snapshot``):
  defaults, range checks and the error messages that name layer, option and range;
- the builder (``workbench.layer_info``): palette groups, titles, tooltips, the new-layer
  dicts and the property forms;
- the docs' layer table: ``python -m engine layers`` prints it and
  ``python -m engine layers --readme`` writes it between the markers of docs/layers.md.

Rules that tie several options or the input volume together (lrn's odd ``n``, a pool's
padding smaller than its window, a window larger than its input) stay in the layers.
"""
import difflib
import math
import numbers
import pathlib
from dataclasses import dataclass

from engine.core.errors import SpecError


class _Marker:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


#: ``Option.default`` of an option a definition must give.
REQUIRED = _Marker("REQUIRED")
#: ``Option.start`` meaning: a new layer in the builder spells out the engine default.
DEFAULT = _Marker("DEFAULT")

#: Activation layers a conv or fc may name with ``activation`` (ConvNetJS's shorthand).
ACTIVATIONS = ("relu", "sigmoid", "tanh", "maxout", "leaky_relu")

KINDS = ("int", "float", "choice", "optional_int")


@dataclass(frozen=True)
class Option:
    """One option of a layer type.

    Attributes
    ----------
    key : str
        The ``layer_defs`` key (ConvNetJS's name).
    kind : str
        ``int``, ``float``, ``choice``, or ``optional_int`` (absent means another option's
        value: see ``same_as``).
    label, help : str
        A short label for forms and a sentence for tooltips and docs.
    default : object
        The engine's value when the option is absent; ``REQUIRED`` when it must be given;
        None for an optional setting that is simply off when absent (``activation``).
    same_as : str or None
        For ``optional_int``: the option whose value it takes when absent (``sy``: ``sx``).
    minimum, maximum : float or None
        The engine's range (None: unbounded); ``exclusive_min``/``exclusive_max`` make a
        bound strict.
    choices : tuple
        The values a ``choice`` takes.
    aliases : tuple
        Other keys the engine reads it from (ConvNetJS accepts ``width`` for ``out_sx``).
    start : object
        The value a layer dropped in the builder starts with: None (left out, so the engine
        default applies), ``DEFAULT`` (the engine default, spelled out), or a value.
    shorthand : bool
        The option makes a layer of its own (ConvNetJS's ``makeLayers``: ``activation``,
        ``drop_prob``, a loss layer's ``num_classes``) rather than setting this layer.
    form : bool
        Shown in the builder's property form.
    editor_max : float or None
        The top of the form's spin box where the engine sets no maximum.
    decimals : int
        Decimals of a float in the form (an exclusive bound is one step inside it).
    snapshot_key : str or None
        The key in a ConvNetJS snapshot entry, where it differs from ``key``.
    snapshot_default : object
        The value when a snapshot entry lacks it, where ConvNetJS's ``fromJSON`` differs
        from the constructor's default (None: the engine default).
    """
    key: str
    kind: str
    label: str
    help: str
    default: object = REQUIRED
    same_as: str = None
    minimum: float = None
    maximum: float = None
    exclusive_min: bool = False
    exclusive_max: bool = False
    choices: tuple = ()
    aliases: tuple = ()
    start: object = None
    shorthand: bool = False
    form: bool = True
    editor_max: float = None
    decimals: int = 4
    snapshot_key: str = None
    snapshot_default: object = None

    @property
    def required(self):
        return self.default is REQUIRED

    @property
    def start_value(self):
        """The value a new layer in the builder spells out, or None."""
        return self.default if self.start is DEFAULT else self.start

    def range_text(self):
        """The allowed values in a few symbols, e.g. ``0 <= drop_prob < 1``; '' if any."""
        lo = hi = ""
        if self.minimum is not None:
            lo = f"{_num(self.minimum)} {'<' if self.exclusive_min else '<='} "
        if self.maximum is not None:
            hi = f" {'<' if self.exclusive_max else '<='} {_num(self.maximum)}"
        if not lo and not hi:
            return ""
        if lo and not hi:  # "filters >= 1" reads better than "1 <= filters"
            return f"{self.key} {'>' if self.exclusive_min else '>='} {_num(self.minimum)}"
        return f"{lo}{self.key}{hi}"

    def form_range(self):
        """``(minimum, maximum)`` a form can offer: closed, inside any exclusive bound
        by one step of its precision, topped by ``editor_max`` where the engine has none."""
        step = 1 if self.kind in ("int", "optional_int") else 10.0 ** -self.decimals
        lo, hi = self.minimum, self.maximum
        if lo is not None and self.exclusive_min:
            lo = round(lo + step, self.decimals)
        if hi is not None and self.exclusive_max:
            hi = round(hi - step, self.decimals)
        if hi is None:
            hi = self.editor_max
        return lo, hi


@dataclass(frozen=True)
class LayerType:
    """One layer type: its words for people and its options, in form order."""
    type: str
    title: str
    group: str
    description: str
    options: tuple = ()

    def option(self, key):
        for o in self.options:
            if o.key == key:
                return o
        raise KeyError(f"{self.type} has no option {key!r}")

    @property
    def settings(self):
        """The options that set this layer (not shorthands), in order."""
        return tuple(o for o in self.options if not o.shorthand)

    def new_layer(self):
        """The definition the builder drops into a stack: type and spelled-out starts."""
        d = {"type": self.type}
        d.update({o.key: o.start_value for o in self.options if o.start is not None})
        return d


def _num(x):
    return f"{x:g}" if isinstance(x, float) else str(x)


# -- the table ---------------------------------------------------------------------------
def _int(key, label, help, default=REQUIRED, minimum=1, **kw):
    return Option(key, "int", label, help, default, minimum=minimum, **kw)


def _float(key, label, help, default, minimum=None, maximum=None, **kw):
    return Option(key, "float", label, help, default, minimum=minimum, maximum=maximum, **kw)


def _dot_product_extras():
    """The options a conv and an fc share: shorthands after them, decay, bias start.

    A new conv or fc in the builder comes with a relu, as in the ConvNetJS demo.
    """
    return (
        Option("activation", "choice", "Activation",
               "An activation layer added after this one (ConvNetJS's shorthand).",
               default=None, choices=ACTIVATIONS, shorthand=True, start="relu"),
        _int("group_size", "Maxout group", "Channels per group of the maxout layer that "
             "'activation: maxout' adds.", default=2, shorthand=True, form=False),
        _float("drop_prob", "Dropout", "A dropout layer added after this one, with this drop "
               "probability (0: none).", None, 0.0, 1.0, exclusive_max=True, shorthand=True,
               decimals=2),
        _float("l1_decay_mul", "L1 decay ×", "Multiplies the trainer's L1 decay for these weights.",
               0.0, 0.0, editor_max=100, decimals=3, snapshot_default=1.0),
        _float("l2_decay_mul", "L2 decay ×", "Multiplies the trainer's L2 decay for these weights.",
               1.0, 0.0, editor_max=100, decimals=3),
        _float("bias_pref", "Starting bias", "The biases' starting value; left out, it is 0.1 "
               "when 'activation' is relu (ConvNetJS's shorthand, so that units start active).",
               0.0, form=False),
    )


def _outputs(key, label, help, minimum, start):
    """A loss layer's size: it makes the fc layer that ConvNetJS puts before the loss."""
    return _int(key, label, help, minimum=minimum, start=start, shorthand=True, editor_max=10000)


LAYERS = (
    LayerType(
        "input", "Input", "Input",
        "The images the network sees: width x height x channels. MNIST digits are "
        "28x28x1; the ConvNetJS demo crops them to 24x24.",
        (_int("out_sx", "Width", "Input width in pixels.", aliases=("sx", "width"), start=24,
              editor_max=4096),
         _int("out_sy", "Height", "Input height in pixels.", aliases=("sy", "height"), start=24,
              editor_max=4096),
         _int("out_depth", "Channels", "1 for greyscale, 3 for colour.", aliases=("depth",),
              start=1, editor_max=64))),
    LayerType(
        "conv", "Convolution", "Convolution & pooling",
        "Slides a bank of small filters over the volume; each filter gives one feature "
        "map. Output size is (in + 2*pad - size)/stride + 1.",
        (_int("sx", "Filter width", "Width of each filter in pixels.", start=5, editor_max=64),
         Option("sy", "optional_int", "Filter height",
                "Height of each filter (default: the same as the width).", default=None,
                same_as="sx", minimum=1, editor_max=64),
         _int("filters", "Filters", "Number of filters, i.e. the depth of the output volume.",
              start=8, editor_max=1024, snapshot_key="out_depth"),
         _int("stride", "Stride", "Step between filter positions.", 1, start=DEFAULT, editor_max=16),
         _int("pad", "Padding", "Zeros added around the input on every side.", 0, minimum=0,
              start=2, editor_max=32))
        + _dot_product_extras()),
    LayerType(
        "pool", "Max pool", "Convolution & pooling",
        "Keeps the largest value in each window, shrinking the feature maps and making "
        "the network tolerant to small shifts.",
        (_int("sx", "Window width", "Width of the pooling window.", start=2, editor_max=64),
         Option("sy", "optional_int", "Window height",
                "Height of the window (default: the same as the width).", default=None,
                same_as="sx", minimum=1, editor_max=64),
         _int("stride", "Stride", "Step between windows (ConvNetJS's default: 2).", 2,
              start=DEFAULT, editor_max=16),
         _int("pad", "Padding", "Padding around the input; padded cells never win.", 0,
              minimum=0, editor_max=16))),
    LayerType(
        "fc", "Fully connected", "Dense",
        "Every neuron sees the whole input volume: a matrix product plus a bias.",
        (_int("num_neurons", "Neurons", "Number of neurons (outputs).", aliases=("filters",),
              start=64, editor_max=100000, snapshot_key="out_depth"),)
        + _dot_product_extras()),
    LayerType("relu", "ReLU", "Activations",
              "max(0, x): passes positive values, zeroes the rest. The default activation."),
    LayerType(
        "leaky_relu", "Leaky ReLU", "Activations",
        "x where positive, alpha*x elsewhere, so that units never stop learning entirely.",
        (_float("alpha", "Slope", "Slope for negative inputs.", 0.01, 0.0, 1.0, start=DEFAULT,
                decimals=3),)),
    LayerType("sigmoid", "Sigmoid", "Activations",
              "Squashes each value into (0, 1) with the logistic function."),
    LayerType("tanh", "Tanh", "Activations", "Squashes each value into (-1, 1)."),
    LayerType(
        "maxout", "Maxout", "Activations",
        "Takes the maximum over groups of consecutive channels; the depth shrinks by "
        "the group size.",
        (_int("group_size", "Group size", "Channels per group; the depth must be divisible by it.",
              2, start=DEFAULT, editor_max=64),)),
    LayerType(
        "dropout", "Dropout", "Regularisation & normalisation",
        "While training, zeroes each value with probability drop_prob (and scales the "
        "rest up); at test time it does nothing. Fights overfitting.",
        (_float("drop_prob", "Drop probability", "Probability of zeroing each value while training.",
                0.5, 0.0, 1.0, exclusive_max=True, start=DEFAULT, decimals=2),)),
    LayerType(
        "batchnorm", "Batch norm", "Regularisation & normalisation",
        "Normalises each channel to zero mean and unit variance over the batch, then "
        "scales and shifts it with learned parameters. Often allows higher learning rates.",
        (_float("momentum", "Momentum", "How fast the running statistics follow the batches.",
                0.1, 0.0, 1.0, decimals=3),
         _float("eps", "Epsilon", "Added to the variance to avoid division by zero.", 1e-5, 0.0,
                exclusive_min=True, editor_max=1, decimals=6))),
    LayerType(
        "lrn", "Local response norm", "Regularisation & normalisation",
        "Divides each value by the activity of its neighbouring channels (AlexNet's local "
        "response normalisation).",
        (_float("k", "k", "Constant added to the denominator.", 2.0, 0.0, start=DEFAULT,
                editor_max=100, decimals=3),
         _int("n", "Window (n)", "Number of neighbouring channels (odd).", 5, start=DEFAULT,
              editor_max=63),
         _float("alpha", "alpha", "Scale of the sum of squares.", 1e-4, 0.0, start=DEFAULT,
                editor_max=10, decimals=6),
         _float("beta", "beta", "Exponent of the denominator.", 0.75, 0.0, start=DEFAULT,
                editor_max=10, decimals=3))),
    LayerType(
        "softmax", "Softmax", "Loss",
        "Turns scores into class probabilities and trains with cross-entropy. The "
        "usual loss for classification (an fc layer with one neuron per class comes with it).",
        (_outputs("num_classes", "Classes", "Number of classes (10 for digits).", 2, 10),)),
    LayerType(
        "svm", "SVM", "Loss",
        "A multiclass hinge loss: wants the right class's score to beat the others by a margin of 1.",
        (_outputs("num_classes", "Classes", "Number of classes (10 for digits).", 2, 10),)),
    LayerType(
        "regression", "Regression", "Loss",
        "Predicts real values and trains with the squared error (L2 loss).",
        (_outputs("num_neurons", "Outputs", "Number of values to predict.", 1, 1),)),
)

TABLE = {t.type: t for t in LAYERS}


def groups():
    """``[(group, [type, ...]), ...]`` in palette order."""
    out = {}
    for t in LAYERS:
        out.setdefault(t.group, []).append(t.type)
    return list(out.items())


# -- reading options (the layer constructors) ---------------------------------------------
def check_value(value, option, layer_type):
    """``value`` (not None) as ``option`` takes it, or SpecError naming layer, option and range."""
    where = f"{layer_type}: '{option.key}'"
    rng = option.range_text()
    if option.kind == "choice":
        if value not in option.choices:
            raise SpecError(f"{where} must be one of {', '.join(map(str, option.choices))}, "
                            f"got {value!r}")
        return value
    whole = option.kind in ("int", "optional_int")
    what = "a whole number" if whole else "a number"
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or (whole and value != int(value))):
        raise SpecError(f"{where} must be {what}{f' ({rng})' if rng else ''}, got {value!r}")
    value = int(value) if whole else float(value)
    lo, hi = option.minimum, option.maximum
    if lo is not None and (value <= lo if option.exclusive_min else value < lo):
        bound = f"{'above' if option.exclusive_min else 'at least'} {_num(lo)}"
    elif hi is not None and (value >= hi if option.exclusive_max else value > hi):
        bound = f"{'below' if option.exclusive_max else 'at most'} {_num(hi)}"
    else:
        return value
    both = lo is not None and hi is not None
    raise SpecError(f"{where} must be {bound}, got {value}" + (f" ({rng})" if both else ""))


def read(opts, layer_type, key, default=None, option=None):
    """Option ``key`` of ``layer_type`` from the dict ``opts``: checked, or its default.

    ``default`` stands in for the table's where the default is another option's value
    (``sy``); ``option`` for the table's entry, for a setting that is not in it.
    Raises SpecError for a missing required option or a value out of range.
    """
    option = option or TABLE[layer_type].option(key)
    value = None
    for k in (key,) + option.aliases:
        if opts.get(k) is not None:
            value = opts[k]
            break
    if value is None:
        if option.required:
            rng = option.range_text()
            raise SpecError(f"{layer_type}: missing '{key}' ({option.label.lower()}"
                            f"{', ' + rng if rng else ''})")
        return default if default is not None else option.default
    return check_value(value, option, layer_type)


#: Keys ConvNetJS's ``makeLayers`` itself writes into every definition after the input
#: layer (the input volume it computed): accepted, and ignored (the engine computes them).
CONVNETJS_SPEC_KEYS = ("in_sx", "in_sy", "in_depth")


def known_keys(layer_type):
    """Every key a ``layer_type`` definition may hold: ``type``, its options and their aliases
    (and the input size ConvNetJS's ``makeLayers`` leaves in a definition)."""
    keys = {"type"}
    for o in TABLE[layer_type].options:
        keys.add(o.key)
        keys.update(o.aliases)
    if layer_type != "input":
        keys.update(CONVNETJS_SPEC_KEYS)
    return keys


def check_keys(opts, layer_type):
    """SpecError for the first key of ``opts`` that ``layer_type`` does not know, naming the
    closest known one ("conv: unknown option 'activaton': did you mean 'activation'?").

    A misspelt option would otherwise be ignored and the layer built without it (a conv
    without its relu, a layer without its dropout)."""
    known = known_keys(layer_type)
    for key in opts:
        if key in known:
            continue
        shown = sorted(k for k in known if k != "type" and k not in CONVNETJS_SPEC_KEYS)
        close = difflib.get_close_matches(str(key), shown, n=1, cutoff=0.6) if isinstance(key, str) else []
        hint = (f"did you mean '{close[0]}'?" if close else
                f"{layer_type} takes {', '.join(repr(k) for k in shown)}" if shown else
                f"{layer_type} takes no options")
        raise SpecError(f"{layer_type}: unknown option {str(key)!r}: {hint}")


def parse(opts, layer_type):
    """Every setting of ``layer_type`` (shorthands aside) from ``opts``, checked, in order.

    ``optional_int`` settings left out take their ``same_as`` option's value.
    """
    out = {}
    for o in TABLE[layer_type].settings:
        out[o.key] = read(opts, layer_type, o.key,
                          default=out.get(o.same_as) if o.same_as else None)
    return out


def from_snapshot(layer_type, entry):
    """Constructor options from a ConvNetJS snapshot entry (None where it says nothing)."""
    out = {}
    for o in TABLE[layer_type].settings:
        value = entry.get(o.snapshot_key or o.key)
        out[o.key] = o.snapshot_default if value is None else value
    return out


# -- the README's layer table ----------------------------------------------------------------
README_BEGIN = "<!-- layer table: written by `python -m engine layers --readme`; edit engine/core/options.py -->"
README_END = "<!-- end of layer table -->"
LAYERS_DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "layers.md"


def _option_cell(o):
    if o.required:
        default = "required"
    elif o.same_as:
        default = f"default: {o.same_as}"
    elif o.default is None:
        default = "default: none"
    else:
        default = f"default {_num(o.default)}"
    rng = o.range_text()
    if o.kind == "choice":
        rng = " \\| ".join(o.choices)
    extra = f"; {rng}" if rng else ""
    return f"`{o.key}` ({default}{extra}): {o.help}"


def markdown():
    """The README's layer table: every layer type, its options, defaults and ranges."""
    lines = ["| layer | what it does | options |", "| --- | --- | --- |"]
    for t in LAYERS:
        opts = "<br>".join(_option_cell(o) for o in t.options) or "none"
        lines.append(f"| `{t.type}` ({t.title}) | {t.description} | {opts} |")
    return "\n".join(lines) + "\n"


def readme_with_table(text):
    """``text`` (the README) with the layer table between its markers replaced."""
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no layer table markers ({README_BEGIN} ... {README_END})")
    return text[:start + len(README_BEGIN)] + "\n\n" + markdown() + "\n" + text[end:]


def write_readme(path=None):
    """Put the current layer table between the markers of docs/layers.md (or ``path``)."""
    from engine.core.io import atomic_write_text
    path = pathlib.Path(path) if path else LAYERS_DOC
    atomic_write_text(path, readme_with_table(path.read_text()))
    return path
