"""What the builder knows about each layer type: group, words, defaults, editable fields."""
from dataclasses import dataclass, field

GROUPS = [
    ("Input", ["input"]),
    ("Convolution & pooling", ["conv", "pool"]),
    ("Dense", ["fc"]),
    ("Activations", ["relu", "leaky_relu", "sigmoid", "tanh", "maxout"]),
    ("Regularisation & normalisation", ["dropout", "batchnorm", "lrn"]),
    ("Loss", ["softmax", "svm", "regression"]),
]

TITLES = {"input": "Input", "conv": "Convolution", "pool": "Max pool", "fc": "Fully connected",
          "relu": "ReLU", "leaky_relu": "Leaky ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh",
          "maxout": "Maxout", "dropout": "Dropout", "batchnorm": "Batch norm",
          "lrn": "Local response norm", "softmax": "Softmax", "svm": "SVM", "regression": "Regression"}

DESCRIPTIONS = {
    "input": "The images the network sees: width x height x channels. MNIST digits are "
             "28x28x1; the ConvNetJS demo crops them to 24x24.",
    "conv": "Slides a bank of small filters over the volume; each filter gives one feature "
            "map. Output size is (in + 2*pad - size)/stride + 1.",
    "pool": "Keeps the largest value in each window, shrinking the feature maps and making "
            "the network tolerant to small shifts.",
    "fc": "Every neuron sees the whole input volume: a matrix product plus a bias.",
    "relu": "max(0, x): passes positive values, zeroes the rest. The default activation.",
    "leaky_relu": "x where positive, alpha*x elsewhere, so that units never stop learning entirely.",
    "sigmoid": "Squashes each value into (0, 1) with the logistic function.",
    "tanh": "Squashes each value into (-1, 1).",
    "maxout": "Takes the maximum over groups of consecutive channels; the depth shrinks by "
              "the group size.",
    "dropout": "While training, zeroes each value with probability drop_prob (and scales the "
               "rest up); at test time it does nothing. Fights overfitting.",
    "batchnorm": "Normalises each channel to zero mean and unit variance over the batch, then "
                 "scales and shifts it with learned parameters. Often allows higher learning rates.",
    "lrn": "Divides each value by the activity of its neighbouring channels (AlexNet's local "
           "response normalisation).",
    "softmax": "Turns scores into class probabilities and trains with cross-entropy. The "
               "usual loss for classification (an fc layer with one neuron per class comes with it).",
    "svm": "A multiclass hinge loss: wants the right class's score to beat the others by a margin of 1.",
    "regression": "Predicts real values and trains with the squared error (L2 loss).",
}

DEFAULTS = {
    "input": {"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1},
    "conv": {"type": "conv", "sx": 5, "filters": 8, "stride": 1, "pad": 2, "activation": "relu"},
    "pool": {"type": "pool", "sx": 2, "stride": 2},
    "fc": {"type": "fc", "num_neurons": 64, "activation": "relu"},
    "relu": {"type": "relu"},
    "leaky_relu": {"type": "leaky_relu", "alpha": 0.01},
    "sigmoid": {"type": "sigmoid"},
    "tanh": {"type": "tanh"},
    "maxout": {"type": "maxout", "group_size": 2},
    "dropout": {"type": "dropout", "drop_prob": 0.5},
    "batchnorm": {"type": "batchnorm"},
    "lrn": {"type": "lrn", "k": 1.0, "n": 5, "alpha": 0.0001, "beta": 0.75},
    "softmax": {"type": "softmax", "num_classes": 10},
    "svm": {"type": "svm", "num_classes": 10},
    "regression": {"type": "regression", "num_neurons": 1},
}

ACTIVATION_CHOICES = ["", "relu", "leaky_relu", "sigmoid", "tanh", "maxout"]


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


def _size(key, label, tip, lo=1, hi=4096, default=None):
    return Field(key, label, "int", tip, lo, hi, default)


_DECAY = [Field("l1_decay_mul", "L1 decay ×", "float", "Multiplies the trainer's L1 decay for these weights.", 0, 100, 0.0, 3),
          Field("l2_decay_mul", "L2 decay ×", "float", "Multiplies the trainer's L2 decay for these weights.", 0, 100, 1.0, 3)]
_ACT = Field("activation", "Activation", "choice", "An activation layer added after this one (ConvNetJS's shorthand).",
             choices=ACTIVATION_CHOICES, default="")
_DROP = Field("drop_prob", "Dropout", "float", "A dropout layer added after this one, with this drop probability (0: none).",
              0, 0.95, 0.0, 2)

FIELDS = {
    "input": [_size("out_sx", "Width", "Input width in pixels."),
              _size("out_sy", "Height", "Input height in pixels."),
              _size("out_depth", "Channels", "1 for greyscale, 3 for colour.", 1, 64)],
    "conv": [_size("sx", "Filter width", "Width of each filter in pixels.", 1, 64),
             Field("sy", "Filter height", "optional_int", "Height of each filter (default: the same as the width).", 1, 64),
             _size("filters", "Filters", "Number of filters, i.e. the depth of the output volume.", 1, 1024),
             _size("stride", "Stride", "Step between filter positions.", 1, 16, 1),
             _size("pad", "Padding", "Zeros added around the input on every side.", 0, 32, 0),
             _ACT, _DROP] + _DECAY,
    "pool": [_size("sx", "Window width", "Width of the pooling window.", 1, 64),
             Field("sy", "Window height", "optional_int", "Height of the window (default: the same as the width).", 1, 64),
             _size("stride", "Stride", "Step between windows (ConvNetJS's default: 2).", 1, 16, 2),
             _size("pad", "Padding", "Padding around the input; padded cells never win.", 0, 16, 0)],
    "fc": [_size("num_neurons", "Neurons", "Number of neurons (outputs).", 1, 100000), _ACT, _DROP] + _DECAY,
    "leaky_relu": [Field("alpha", "Slope", "float", "Slope for negative inputs.", 0, 1, 0.01, 3)],
    "maxout": [_size("group_size", "Group size", "Channels per group; the depth must be divisible by it.", 1, 64, 2)],
    "dropout": [Field("drop_prob", "Drop probability", "float", "Probability of zeroing each value while training.", 0, 0.99, 0.5, 2)],
    "batchnorm": [Field("momentum", "Momentum", "float", "How fast the running statistics follow the batches.", 0, 1, 0.1, 3),
                  Field("eps", "Epsilon", "float", "Added to the variance to avoid division by zero.", 1e-8, 1, 1e-5, 6)],
    "lrn": [Field("k", "k", "float", "Constant added to the denominator.", 0, 100, 2.0, 3),
            _size("n", "Window (n)", "Number of neighbouring channels (odd).", 1, 63, 5),
            Field("alpha", "alpha", "float", "Scale of the sum of squares.", 0, 10, 1e-4, 6),
            Field("beta", "beta", "float", "Exponent of the denominator.", 0, 10, 0.75, 3)],
    "softmax": [_size("num_classes", "Classes", "Number of classes (10 for digits).", 2, 10000)],
    "svm": [_size("num_classes", "Classes", "Number of classes (10 for digits).", 2, 10000)],
    "regression": [_size("num_neurons", "Outputs", "Number of values to predict.", 1, 10000)],
}


def summary(d):
    """Key settings in a few words, e.g. ``conv 5x5, 8 filters, stride 1, pad 2, relu``."""
    t = d.get("type", "?")
    g = d.get

    if t == "input":
        text = f"input {g('out_sx', '?')}x{g('out_sy', '?')}x{g('out_depth', '?')}"
    elif t == "conv":
        sx = g("sx", "?")
        text = (f"conv {sx}x{g('sy') or sx}, {g('filters', '?')} filters, "
                f"stride {g('stride', 1)}, pad {g('pad', 0)}")
    elif t == "pool":
        sx = g("sx", "?")
        text = f"pool {sx}x{g('sy') or sx}, stride {g('stride', 2)}" + (f", pad {g('pad')}" if g("pad") else "")
    elif t == "fc":
        text = f"fc, {g('num_neurons', g('filters', '?'))} neurons"
    elif t in ("softmax", "svm"):
        text = f"{t}, {g('num_classes', '?')} classes"
    elif t == "regression":
        text = f"regression, {g('num_neurons', '?')} outputs"
    elif t == "dropout":
        text = f"dropout {g('drop_prob', 0.5)}"
    elif t == "maxout":
        text = f"maxout, groups of {g('group_size', 2)}"
    elif t == "leaky_relu":
        text = f"leaky relu, slope {g('alpha', 0.01)}"
    elif t == "lrn":
        text = f"lrn n {g('n', 5)}, k {g('k', 2)}, alpha {g('alpha', 1e-4)}, beta {g('beta', 0.75)}"
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
