"""The network as a standalone PyTorch folder, checked against the engine before it is written.

``DIR/model.py``  the network as a ``torch.nn.Module`` (generated, one attribute per engine
                  layer) and ``load()`` with the exported weights; ``to_convnetjs()`` the way back
``DIR/weights.pt`` the weights, a state_dict
``DIR/train.py``  trains it with the experiment (``experiment.json``), in one process or
                  under ``torchrun`` with DistributedDataParallel, and writes a ConvNetJS snapshot
``DIR/experiment.json``, ``DIR/README.md``, ``DIR/data/`` (the dataset's IDX files),
``DIR/parity.json`` (the report)

Layouts: PyTorch's images are ``[N, C, H, W]``; conv filters ``(F, sy, sx, C)`` become
``(F, C, sy, sx)``; an fc layer (``Dense``) keeps the engine's weights and flattens its
input in the engine's ``(y, x, channel)`` order; every volume stays 4-D (an fc gives
``[N, K, 1, 1]``) as in the engine.
"""
import ast
import importlib.util
import json
import pathlib
import re
import shutil
import string
import sys
import time
import uuid

import numpy as np

from engine.core.io import atomic_write, atomic_write_text
from engine.core.net import Net
from engine.data.containers import MNIST_DIR, MNIST_FILES

from . import parity
from .errors import ExportError, ParityError, require
from .files import check_writable_folder, copy_file, move_folder_into_place, printable, staging_folder

TEMPLATES = pathlib.Path(__file__).resolve().parent / "templates"
FILES = ("model.py", "weights.pt", "train.py", "experiment.json", "README.md", "parity.json")

_HELPERS = {
    "Dense": '''
class Dense(nn.Linear):
    """ConvNetJS's fc layer: a Linear over the input volume flattened in (y, x, channel)
    order, giving an [N, K, 1, 1] volume."""

    def forward(self, x):
        n = x.shape[0]
        return super().forward(x.permute(0, 2, 3, 1).reshape(n, -1)).view(n, -1, 1, 1)
''',
    "MaxPool": '''
class MaxPool(nn.Module):
    """Max pooling over a window padded with -inf, so that padded cells never win
    (nn.MaxPool2d allows padding of at most half the window; the engine up to the window)."""

    def __init__(self, kernel_size, stride, padding):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        p = self.padding
        x = nn.functional.pad(x, (p, p, p, p), value=float("-inf"))
        return nn.functional.max_pool2d(x, self.kernel_size, self.stride)
''',
    "Maxout": '''
class Maxout(nn.Module):
    """The max over consecutive groups of ``group_size`` channels."""

    def __init__(self, group_size):
        super().__init__()
        self.group_size = group_size

    def forward(self, x):
        n, c, h, w = x.shape
        return x.reshape(n, c // self.group_size, self.group_size, h, w).max(dim=2).values
''',
}


def _int(value):
    """An int literal for generated source (a layer's sizes come from a file)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ExportError(f"a layer setting is {value!r}, not a whole number")
    return repr(int(value))


def _float(value):
    """A float literal for generated source."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value):
        raise ExportError(f"a layer setting is {value!r}, not a finite number")
    return repr(float(value))


def _module(layer):
    """``(constructor source, helper class needed or None)`` of an engine layer, or None
    for the input and loss layers. Every value in the source is a number literal made here."""
    t = layer.layer_type
    i, f = _int, _float
    if t == "conv":
        return (f"nn.Conv2d({i(layer.in_depth)}, {i(layer.filters)}, kernel_size=({i(layer.sy)}, "
                f"{i(layer.sx)}), stride={i(layer.stride)}, padding={i(layer.pad)})"), None
    if t == "fc":
        return f"Dense({i(layer.num_inputs)}, {i(layer.num_neurons)})", "Dense"
    if t == "pool":
        if layer.pad == 0:
            return (f"nn.MaxPool2d(kernel_size=({i(layer.sy)}, {i(layer.sx)}), "
                    f"stride={i(layer.stride)})"), None
        return (f"MaxPool(({i(layer.sy)}, {i(layer.sx)}), stride={i(layer.stride)}, "
                f"padding={i(layer.pad)})"), "MaxPool"
    if t == "relu":
        return "nn.ReLU()", None
    if t == "leaky_relu":
        return f"nn.LeakyReLU({f(layer.alpha)})", None
    if t == "sigmoid":
        return "nn.Sigmoid()", None
    if t == "tanh":
        return "nn.Tanh()", None
    if t == "maxout":
        return f"Maxout({i(layer.group_size)})", "Maxout"
    if t == "dropout":
        return f"nn.Dropout({f(layer.drop_prob)})  # inverted, as the engine's: identity in eval mode", None
    if t == "lrn":
        return (f"nn.LocalResponseNorm({i(layer.n)}, alpha={f(layer.alpha)}, beta={f(layer.beta)}, "
                f"k={f(layer.k)})"), None
    if t == "batchnorm":
        return (f"nn.BatchNorm2d({i(layer.in_depth)}, eps={f(layer.eps)}, "
                f"momentum={f(layer.momentum)})"), None
    return None


#: What a name in generated source may be: a module attribute (``conv1``) or a file name.
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,63}\Z")


def module_names(net):
    """The attribute name of each layer's module (None for the input and loss layers)."""
    last = len(net.layers) - 1
    names = [None if i == 0 or i == last else f"{layer.layer_type}{i}"
             for i, layer in enumerate(net.layers)]
    for i, name in enumerate(names):
        if name is not None and not IDENTIFIER.match(name):
            raise ExportError(f"layer {i}: its type {net.layers[i].layer_type!r} cannot name a "
                              f"PyTorch module attribute")
    return names


def _bias_pref(net, i):
    layer = net.layers[i]
    pref = layer.opts.get("bias_pref")
    if pref is None:  # a snapshot does not say: ConvNetJS's rule
        nxt = net.layers[i + 1].layer_type if i + 1 < len(net.layers) else None
        pref = 0.1 if nxt == "relu" else 0.0
    return float(pref)


# The snapshot keys that hold weights, by layer type (lrn's "beta" is a setting).
_WEIGHT_KEYS = {"conv": ("filters", "biases"), "fc": ("filters", "biases"),
                "batchnorm": ("gamma", "beta", "running_mean", "running_var")}


def model_source(net, title="network"):
    """The text of ``model.py`` for ``net``."""
    names = module_names(net)
    init, fwd, helpers, layers = [], [], [], []
    bias_pref = {}
    for i, (layer, name) in enumerate(zip(net.layers, names)):
        weights = _WEIGHT_KEYS.get(layer.layer_type, ())
        header = {k: v for k, v in layer.to_json().items() if k not in weights}
        header = json.loads(json.dumps(header))  # plain Python numbers
        layers.append(f"    ({name!r}, {header!r}),")
        if name is None:
            continue
        made = _module(layer)
        if made is None:
            raise ExportError(f"layer {i}, {layer.describe()}: the PyTorch exporter cannot "
                              f"express this layer type")
        source, helper = made
        if helper and helper not in helpers:
            helpers.append(helper)
        init.append(f"        self.{name} = {source}")
        fwd.append(f"        x = self.{name}(x)  # "
                   f"{_int(layer.out_depth)}x{_int(layer.out_sy)}x{_int(layer.out_sx)}")
        if layer.layer_type in ("conv", "fc"):
            bias_pref[name] = _bias_pref(net, i)
    loss = net.layers[-1]
    if loss.layer_type not in parity.OUTPUT_KINDS:
        raise ExportError(f"layer {len(net.layers) - 1}, {loss.describe()}: the PyTorch exporter "
                          f"cannot express this loss layer")
    prev = net.layers[-2]
    if (prev.out_sy, prev.out_sx) == (1, 1):
        flatten = "x.flatten(1)"
    else:
        flatten = "x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # the engine's (y, x, channel) order"
    sy, sx, depth = net.input_shape
    kind = parity.OUTPUT_KINDS[loss.layer_type]
    fields = {
        "name": repr(str(title)), "channels": _int(depth), "height": _int(sy), "width": _int(sx),
        "outputs": _int(loss.out_depth),
        "output_doc": {"probabilities": "class probabilities", "scores": "the svm's raw class scores",
                       "values": "the regression's values"}[kind],
        "loss": repr(loss.layer_type), "helpers": "".join("\n" + _HELPERS[h] for h in helpers),
        "init_lines": "\n".join(init) or "        pass",
        "scores_doc": " (the softmax's logits)" if kind == "probabilities" else "",
        "forward_lines": "\n".join(fwd),
        "flatten": flatten,
        "forward_return": "torch.softmax(self.scores(x), dim=1)" if kind == "probabilities"
                          else "self.scores(x)",
        "layers": "\n".join(layers), "bias_pref": repr(bias_pref),
    }
    source = string.Template((TEMPLATES / "model.py.tmpl").read_text()).substitute(fields)
    check_generated_source(source, {"NAME": str(title)})
    return source


def check_generated_source(source, constants):
    """ExportError unless ``source`` parses and its module-level ``constants`` hold exactly
    the values given: a value that escaped its literal would change them or the parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as e:
        raise ExportError(f"the generated model.py does not parse ({type(e).__name__}: {e}); "
                          f"nothing written") from None
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id in constants:
            found[node.targets[0].id] = ast.literal_eval(node.value)
    if found != constants:
        raise ExportError("the generated model.py does not hold the names it was given; nothing written")


def state_dict_arrays(net):
    """``{name: float32 array}``: the weights as ``model.Network``'s state_dict holds them."""
    out = {}
    for layer, name in zip(net.layers, module_names(net)):
        t = layer.layer_type
        if t == "conv":
            out[f"{name}.weight"] = layer.weights.transpose(0, 3, 1, 2)
            out[f"{name}.bias"] = layer.biases
        elif t == "fc":
            out[f"{name}.weight"] = layer.weights
            out[f"{name}.bias"] = layer.biases
        elif t == "batchnorm":
            out[f"{name}.weight"] = layer.gamma
            out[f"{name}.bias"] = layer.beta
            out[f"{name}.running_mean"] = layer.running_mean
            out[f"{name}.running_var"] = layer.running_var
            out[f"{name}.num_batches_tracked"] = np.zeros((), dtype=np.int64)
    return {k: np.ascontiguousarray(v, dtype=v.dtype if v.dtype == np.int64 else np.float32)
            for k, v in out.items()}


def _dataset_files(experiment):
    """The four IDX files of the experiment's dataset, to copy beside train.py (or None)."""
    folder = pathlib.Path(experiment.data) if experiment.data else MNIST_DIR
    files = [folder / f for pair in MNIST_FILES.values() for f in pair]
    if all(f.is_file() for f in files):
        return files
    raw = [f.with_suffix("") for f in files]  # the same files without gzip
    if all(f.is_file() for f in raw):
        return raw
    return None


def _readme(net, experiment, copied_data, weights_note):
    sy, sx, depth = net.input_shape
    t = experiment.trainer
    schedule = experiment.schedule["kind"] if experiment.schedule else "constant"
    fields = {
        "title": printable(experiment.name),
        "layers": "\n".join(f"    {i:2d}  {l.describe()}  ->  {l.out_sx}x{l.out_sy}x{l.out_depth}"
                            for i, l in enumerate(net.layers)),
        "channels": depth, "height": sy, "width": sx, "outputs": net.layers[-1].out_depth,
        "output": parity.OUTPUT_KINDS[net.layers[-1].layer_type],
        "method": printable(t["method"]), "learning_rate": t["learning_rate"], "batch_size": t["batch_size"],
        "schedule": printable(schedule), "weights_note": printable(weights_note, 400),
        "epochs": f"{experiment.epochs:g} epoch{'' if experiment.epochs == 1 else 's'}",
        "data_note": ("`data/` holds the dataset's IDX files (copied by the exporter), the default "
                      "for `--data`." if copied_data else
                      "No dataset was copied here: pass `--data FOLDER` (a folder with the four "
                      "MNIST IDX files: train-images-idx3-ubyte[.gz], ...)."),
    }
    return string.Template((TEMPLATES / "README.md.tmpl").read_text()).substitute(fields)


def _same_weights(a, b):
    """Every parameter and running statistic of nets ``a`` and ``b`` equal, bit for bit
    (a float32 weight survives float64 JSON exactly)."""
    arrays = [(getattr(la, n), getattr(lb, n)) for la, lb in zip(a.layers, b.layers)
              for n in la.param_attrs + (("running_mean", "running_var") if la.layer_type == "batchnorm" else ())]
    return len(a.layers) == len(b.layers) and all(np.array_equal(u, v) for u, v in arrays)


def _import_model(folder):
    """Import ``folder/model.py`` under a fresh name (not cached in sys.modules after)."""
    name = f"_exported_model_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def to_pytorch(net, experiment, out_dir, examples=parity.DEFAULT_EXAMPLES,
               tolerance=parity.DEFAULT_TOLERANCE, copy_data=True, progress=None, weights_note=None,
               dataset=None):
    """Export ``net`` and its ``experiment`` as a standalone PyTorch folder ``out_dir``.

    Parameters
    ----------
    net : engine.Net
        Copied at the start: training may go on while the export runs.
    experiment : engine.experiment.Experiment
        How ``train.py`` trains the network (its ``layer_defs`` are not used: the
        network is ``net``'s).
    out_dir : str or path
        Created if missing (its parent must exist); an existing folder keeps its
        other files.
    examples, tolerance, dataset : see ``to_onnx``
    copy_data : bool
        Copy the dataset's IDX files to ``out_dir/data`` so that train.py runs standalone.
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    dict
        The parity report (also ``out_dir/parity.json``): ``model.load()`` against the
        engine, and the snapshot ``to_convnetjs`` gives back against the engine.

    Raises
    ------
    ExportError
        Missing torch, a folder that cannot be written; ``ParityError`` when the module's
        outputs differ from the engine's. Nothing is written then.
    """
    progress = progress or (lambda fraction, message: None)
    t0 = time.perf_counter()
    out_dir = pathlib.Path(out_dir)
    # a device or a FIFO where a file of the export would go: refused now, before any work
    check_writable_folder(out_dir, FILES + ("data",))
    if (out_dir / "data").is_dir():
        check_writable_folder(out_dir / "data", [f for pair in MNIST_FILES.values() for f in pair]
                              + [f + ".gz" for pair in MNIST_FILES.values() for f in pair])
    torch = require("PyTorch export", "torch")
    net = net.copy()
    weights_note = weights_note or "weights of the network exported"
    staged = staging_folder(out_dir)
    try:
        progress(0.0, "writing model.py and weights.pt")
        atomic_write_text(staged / "model.py", model_source(net, experiment.name))
        state = {k: torch.from_numpy(v.copy()) for k, v in state_dict_arrays(net).items()}
        atomic_write(staged / "weights.pt", lambda f: torch.save(state, f))
        copy_file(TEMPLATES / "train.py", staged / "train.py")
        atomic_write_text(staged / "experiment.json", experiment.to_text())
        copied = None
        if copy_data:
            progress(0.2, "copying the dataset")
            copied = _dataset_files(experiment)
            if copied:
                (staged / "data").mkdir()
                for f in copied:
                    copy_file(f, staged / "data" / f.name)
        atomic_write_text(staged / "README.md", _readme(net, experiment, bool(copied), weights_note))

        progress(0.4, "computing the engine's outputs")
        x, labels, inputs = parity.parity_inputs(net, experiment, examples, dataset=dataset)
        reference = parity.engine_outputs(net, x)
        progress(0.6, "running the module in PyTorch")
        model = _import_model(staged)
        module = model.load(staged / "weights.pt")
        with torch.no_grad():
            xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
            outputs = np.concatenate([module(xt[i:i + 500]).numpy() for i in range(0, len(xt), 500)])
        loss_type = net.layers[-1].layer_type
        report = {"format": "pytorch", "folder": str(out_dir), "inputs": inputs}
        report.update(parity.compare(reference, outputs, loss_type, tolerance))
        if labels is not None and report["argmax_agreement"] is not None:
            report["engine_accuracy"] = float(np.mean(reference.argmax(1) == labels))
            report["export_accuracy"] = float(np.mean(outputs.argmax(1) == labels))
        if not report["passed"]:
            raise ParityError(f"the PyTorch module's outputs differ from the engine's on {inputs}: "
                              f"{parity.describe(report)}; nothing written", report)

        progress(0.8, "checking the way back (to_convnetjs)")
        back = Net.from_json(model.to_convnetjs(module), dtype=np.float32)
        roundtrip = parity.compare(reference, parity.engine_outputs(back, x), loss_type, tolerance)
        report["roundtrip_max_abs_difference"] = roundtrip["max_abs_difference"]
        if not (roundtrip["passed"] and _same_weights(net, back)):
            raise ParityError("the snapshot model.to_convnetjs() writes does not give the engine's "
                              f"network back: {parity.describe(roundtrip)}; nothing written", report)
        report.update({"torch_version": torch.__version__, "weights": weights_note,
                       "data_copied": bool(copied), "seconds": round(time.perf_counter() - t0, 3)})
        atomic_write_text(staged / "parity.json", json.dumps(report, indent=1) + "\n")
        progress(0.95, "moving the folder into place")
        move_folder_into_place(staged, out_dir)
    except OSError as e:
        raise ExportError(f"cannot write {out_dir}: {e.strerror or e}") from None
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    progress(1.0, f"wrote {out_dir}: {parity.describe(report)}")
    return report
