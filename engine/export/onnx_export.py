"""The network as an ONNX model (opset 17), checked against the engine before it is written.

The model takes ``input``, float32 ``[N, C, H, W]`` in the engine's input scaling
(``p/255 - 0.5``), and gives ``probabilities`` ``[N, classes]`` (for svm and
regression nets: the raw scores or values, as the engine's forward pass gives them).

Layer by layer (the engine's volumes are ``(N, H, W, C)``, ONNX's ``[N, C, H, W]``):
conv -> Conv (filters ``(F, sy, sx, C)`` transposed to ``(F, C, sy, sx)``); fc ->
Gemm on the flattened input, its weight columns permuted from the engine's
``(y, x, channel)`` order to ONNX's ``(channel, y, x)``; pool -> MaxPool (ONNX pads
max pooling with -inf, so padded cells never win, as in the engine); relu, leaky_relu,
sigmoid, tanh -> their ops; maxout -> Reshape + ReduceMax over consecutive channel
groups; dropout -> nothing (identity at inference); lrn -> LRN (ONNX's window over
channels ``c - (n-1)/2 .. c + (n-1)/2`` clipped, and ``alpha / n``, are ConvNetJS's for
odd ``n``); batchnorm -> BatchNormalization with the running statistics; softmax ->
Softmax; svm, regression -> their input, flattened in the engine's order.
"""
import time

import numpy as np

from . import parity
from .errors import ExportError, ParityError, require
from .files import check_writable_file, printable, write_files

OPSET = 17
IR_VERSION = 8  # the IR version of opset 17 (onnx 1.12): readable by every runtime that runs opset 17


class _Builder:
    """Nodes and initializers of a graph; tensors are ``[N, C, H, W]`` or ``[N, K]``."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.h = onnx.helper
        self.nodes = []
        self.initializers = []
        self.count = 0

    def const(self, name, array):
        from onnx import numpy_helper
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op, inputs, name, output=None, doc="", **attrs):
        output = output or f"{name}_out"
        n = self.h.make_node(op, inputs, [output], name=name, **attrs)
        if doc:
            n.doc_string = doc
        self.nodes.append(n)
        return output


class _Tensor:
    """The running value: its name, rank (4: ``[N, C, H, W]``, 2: ``[N, K]``) and engine shape."""

    def __init__(self, name, rank, shape):
        self.name, self.rank, self.shape = name, rank, shape  # shape: (sy, sx, depth)


def _as4d(b, t, prefix):
    if t.rank == 4:
        return t
    axes = b.const(f"{prefix}_axes", np.array([2, 3], dtype=np.int64))
    return _Tensor(b.node("Unsqueeze", [t.name, axes], f"{prefix}_unsqueeze"), 4, t.shape)


def _flatten_engine_order(b, t, prefix):
    """``[N, K]`` in the engine's ``(y, x, channel)`` order."""
    if t.rank == 2:
        return t
    name = t.name
    if t.shape[:2] != (1, 1):
        name = b.node("Transpose", [name], f"{prefix}_to_nhwc", perm=[0, 2, 3, 1])
    return _Tensor(b.node("Flatten", [name], f"{prefix}_flatten", axis=1), 2, (1, 1, int(np.prod(t.shape))))


def _conv(b, i, layer, t, p):
    t = _as4d(b, t, p)
    w = b.const(f"{p}_filters", layer.weights.transpose(0, 3, 1, 2).astype(np.float32))
    bias = b.const(f"{p}_biases", layer.biases.astype(np.float32))
    pad = layer.pad
    return b.node("Conv", [t.name, w, bias], p, kernel_shape=[layer.sy, layer.sx],
                  strides=[layer.stride, layer.stride], pads=[pad, pad, pad, pad],
                  doc=layer.describe()), 4


def _fc(b, i, layer, t, p):
    w = layer.weights.astype(np.float32)
    if t.rank == 4 and t.shape[:2] != (1, 1):
        # the engine flattens (y, x, channel); Flatten of [N, C, H, W] gives (channel, y, x)
        sy, sx, d = t.shape
        w = w.reshape(-1, sy, sx, d).transpose(0, 3, 1, 2).reshape(w.shape[0], -1)
    x = t.name
    if t.rank == 4:
        x = b.node("Flatten", [x], f"{p}_flatten", axis=1)
    wn = b.const(f"{p}_weights", np.ascontiguousarray(w))
    bn = b.const(f"{p}_biases", layer.biases.astype(np.float32))
    return b.node("Gemm", [x, wn, bn], p, transB=1, doc=layer.describe()), 2


def _pool(b, i, layer, t, p):
    t = _as4d(b, t, p)
    pad = layer.pad
    return b.node("MaxPool", [t.name], p, kernel_shape=[layer.sy, layer.sx],
                  strides=[layer.stride, layer.stride], pads=[pad, pad, pad, pad],
                  doc=layer.describe()), 4


def _elementwise(op, **attrs):
    def convert(b, i, layer, t, p):
        extra = {k: float(getattr(layer, v)) for k, v in attrs.items()}
        return b.node(op, [t.name], p, doc=layer.describe(), **extra), t.rank
    return convert


def _maxout(b, i, layer, t, p):
    g, out_depth = layer.group_size, layer.out_depth
    if t.rank == 4:
        sy, sx, _ = t.shape
        shape = [0, out_depth, g, sy, sx]
    else:
        shape = [0, out_depth, g]
    s = b.const(f"{p}_groups", np.array(shape, dtype=np.int64))
    grouped = b.node("Reshape", [t.name, s], f"{p}_reshape")
    return b.node("ReduceMax", [grouped], p, axes=[2], keepdims=0, doc=layer.describe()), t.rank


def _lrn(b, i, layer, t, p):
    t = _as4d(b, t, p)
    return b.node("LRN", [t.name], p, size=int(layer.n), alpha=float(layer.alpha),
                  beta=float(layer.beta), bias=float(layer.k), doc=layer.describe()), 4


def _batchnorm(b, i, layer, t, p):
    t = _as4d(b, t, p)
    f32 = np.float32
    ins = [t.name] + [b.const(f"{p}_{n}", getattr(layer, n).astype(f32))
                      for n in ("gamma", "beta", "running_mean", "running_var")]
    return b.node("BatchNormalization", ins, p, epsilon=float(layer.eps),
                  doc="batchnorm (inference: running statistics)"), 4


def _dropout(b, i, layer, t, p):
    return t.name, t.rank  # inverted dropout: the identity at inference


CONVERTERS = {
    "conv": _conv, "fc": _fc, "pool": _pool, "relu": _elementwise("Relu"),
    "leaky_relu": _elementwise("LeakyRelu", alpha="alpha"), "sigmoid": _elementwise("Sigmoid"),
    "tanh": _elementwise("Tanh"), "maxout": _maxout, "dropout": _dropout, "lrn": _lrn,
    "batchnorm": _batchnorm,
}


def build_model(net, name="network"):
    """The ``onnx.ModelProto`` of ``net`` (float32 weights, opset 17)."""
    onnx = require("ONNX export", "onnx")
    h = onnx.helper
    b = _Builder(onnx)
    first = net.layers[0]
    sy, sx, depth = first.out_shape
    t = _Tensor("input", 4, (sy, sx, depth))
    for i, layer in enumerate(net.layers[1:-1], start=1):
        convert = CONVERTERS.get(layer.layer_type)
        if convert is None:
            raise ExportError(f"layer {i}, {layer.describe()}: the ONNX exporter cannot express "
                              f"this layer type")
        out, rank = convert(b, i, layer, t, f"layer{i}_{layer.layer_type}")
        t = _Tensor(out, rank, layer.out_shape)
    loss = net.layers[-1]
    t = _flatten_engine_order(b, t, f"layer{len(net.layers) - 1}")
    last = f"layer{len(net.layers) - 1}_{loss.layer_type}"
    if loss.layer_type == "softmax":
        b.node("Softmax", [t.name], last, output="probabilities", axis=1, doc=loss.describe())
    elif loss.layer_type in ("svm", "regression"):
        b.node("Identity", [t.name], last, output="probabilities",
               doc=f"{loss.describe()}: the raw {parity.OUTPUT_KINDS[loss.layer_type]}")
    else:
        raise ExportError(f"layer {len(net.layers) - 1}, {loss.describe()}: the ONNX exporter "
                          f"cannot express this loss layer")
    kind = parity.OUTPUT_KINDS[loss.layer_type]
    inp = h.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["N", depth, sy, sx])
    inp.doc_string = "images [N, C, H, W], float32, scaled as the engine does: 8-bit pixels p become p/255 - 0.5"
    out = h.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT, ["N", loss.out_depth])
    out.doc_string = {"probabilities": "class probabilities (softmax)",
                      "scores": "the svm's raw class scores", "values": "the regression's values"}[kind]
    graph = h.make_graph(b.nodes, name, [inp], [out], b.initializers)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)],
                         producer_name="convnet-workbench", doc_string=f"{name}, exported from convnet-workbench")
    model.ir_version = IR_VERSION
    h.set_model_props(model, {"input_scaling": "p/255 - 0.5 for 8-bit pixels p",
                              "input_layout": "NCHW", "output": kind, "loss": loss.layer_type})
    return model


def run_onnxruntime(model_bytes, x_nhwc, batch=500):
    """The model's outputs for engine-layout inputs ``(N, H, W, C)``, ``(N, K)``."""
    ort = require("Checking the ONNX model", "onnxruntime")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    session = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
    x = np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2), dtype=np.float32)
    return np.concatenate([session.run(["probabilities"], {"input": x[i:i + batch]})[0]
                           for i in range(0, len(x), batch)])


def to_onnx(net, path, experiment=None, examples=parity.DEFAULT_EXAMPLES,
            tolerance=parity.DEFAULT_TOLERANCE, progress=None, name=None, dataset=None):
    """Export ``net`` to ``path`` as ONNX, proven against the engine first.

    Parameters
    ----------
    net : engine.Net
        Copied at the start: training may go on while the export runs.
    path : str or path
        The model file; the parity report goes beside it (``model.parity.json``).
    experiment : Experiment, optional
        Says which dataset's test images to check on (default: bundled MNIST).
    dataset : engine.data.Dataset, optional
        The experiment's dataset, already loaded (the app's): its test images are
        checked on without reading the data again.
    examples : int
        Inputs to compare on (the first ``examples`` test images).
    tolerance : float
        Largest absolute difference allowed (scaled by the largest magnitude for
        raw scores and values).
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    dict
        The parity report (also written as JSON beside the model).

    Raises
    ------
    ExportError
        A missing package, a path that cannot be written, a layer ONNX cannot express;
        ``ParityError`` when the model's outputs differ from the engine's. Nothing is written then.
    """
    import json
    import pathlib
    progress = progress or (lambda fraction, message: None)
    t0 = time.perf_counter()
    path = pathlib.Path(path)
    check_writable_file(path)  # a device, a FIFO, a folder: refused now, before any work
    check_writable_file(report_path(path))
    onnx = require("ONNX export", "onnx")
    ort = require("Checking the ONNX model", "onnxruntime")
    net = net.copy()
    progress(0.0, "building the ONNX graph")
    # the model's name and doc string are protobuf strings: printable UTF-8 only
    model = build_model(net, printable(name or (experiment.name if experiment is not None else path.stem)))
    data = model.SerializeToString()
    progress(0.2, "checking the model (onnx.checker, full check)")
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"the ONNX model fails onnx.checker: {first}") from None
    progress(0.4, "computing the engine's outputs")
    x, labels, inputs = parity.parity_inputs(net, experiment, examples, dataset=dataset)
    reference = parity.engine_outputs(net, x)
    progress(0.6, "running the model in onnxruntime")
    outputs = run_onnxruntime(data, x)
    report = {"format": "onnx", "model": str(path), "inputs": inputs}
    report.update(parity.compare(reference, outputs, net.layers[-1].layer_type, tolerance))
    if labels is not None and report["argmax_agreement"] is not None:
        report["engine_accuracy"] = float(np.mean(reference.argmax(1) == labels))
        report["export_accuracy"] = float(np.mean(outputs.argmax(1) == labels))
    report.update({"opset": OPSET, "checker": "onnx.checker.check_model(full_check=True) passed",
                   "onnx_version": onnx.__version__, "onnxruntime_version": ort.__version__,
                   "model_bytes": len(data)})
    report["seconds"] = round(time.perf_counter() - t0, 3)
    if not report["passed"]:
        raise ParityError(f"the ONNX model's outputs differ from the engine's on {inputs}: "
                          f"{parity.describe(report)}; nothing written", report)
    progress(0.9, f"writing {path.name}")
    write_files({path: data, report_path(path): json.dumps(report, indent=1) + "\n"})
    progress(1.0, f"wrote {path.name}: {parity.describe(report)}")
    return report


def report_path(path):
    """Where the parity report of the model at ``path`` goes: ``model.onnx`` -> ``model.parity.json``."""
    import pathlib
    path = pathlib.Path(path)
    return path.with_name(path.stem + ".parity.json")
