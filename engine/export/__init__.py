"""Take a network out of the engine: an ONNX model or a standalone PyTorch folder.

Each export proves itself before anything is written: the exported model runs on
1,000 dataset inputs (the test images of the experiment's data, in any format the
engine reads, else MNIST's, through ``engine.data.network_input``) and its outputs
must equal the engine's; a parity report is written beside it.

    from engine.export import load_source, to_onnx, to_pytorch
    source = load_source("net.json")              # a snapshot or an experiment file
    report = to_onnx(source.net, "model.onnx")    # dict: max_abs_difference, argmax_agreement, ...
    report = to_pytorch(source.net, source.experiment, "torch-model/")

Both take ``progress(fraction, message)`` for a dialog. onnx, onnxruntime and torch
are optional (``pip install 'convnet-workbench[export]'``); they are imported only
when an export runs, and a clear ``ExportError`` says what to install when missing.
"""
from .errors import ExportError, ParityError
from .onnx_export import OPSET, to_onnx
from .parity import DEFAULT_EXAMPLES, DEFAULT_TOLERANCE
from .pytorch_export import to_pytorch
from .source import Source, load_source

FORMATS = ("onnx", "pytorch")


def export_file(snapshot, to, out, experiment=None, progress=None, **kwargs):
    """Export the network saved in ``snapshot`` (a path) as ``to`` ("onnx" or "pytorch").

    ``experiment`` (an ``engine.experiment.Experiment``) overrides the one the file
    carries. Returns the parity report (a dict).
    """
    if to not in FORMATS:
        raise ExportError(f"unknown export format {to!r} (known: {', '.join(FORMATS)})")
    source = load_source(snapshot, experiment=experiment, need_weights=(to == "onnx"))
    if to == "onnx":
        return to_onnx(source.net, out, experiment=source.experiment, progress=progress, **kwargs)
    return to_pytorch(source.net, source.experiment, out, progress=progress,
                      weights_note=source.weights_note, **kwargs)


__all__ = ["ExportError", "ParityError", "Source", "load_source", "to_onnx", "to_pytorch",
           "export_file", "FORMATS", "OPSET", "DEFAULT_EXAMPLES", "DEFAULT_TOLERANCE"]
