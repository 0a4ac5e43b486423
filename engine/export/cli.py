"""``python -m engine export SNAPSHOT --to onnx|pytorch --out PATH``."""
import json
import sys

from .parity import DEFAULT_EXAMPLES, DEFAULT_TOLERANCE, describe


def add_parser(subparsers):
    """Add the ``export`` command to the CLI's subparsers."""
    e = subparsers.add_parser(
        "export", help="an ONNX model or a standalone PyTorch folder, checked against the engine",
        description="Export a network with its weights as an ONNX model (opset 17) or as a PyTorch "
                    "folder (model.py, weights.pt, train.py, README.md). The export runs the exported "
                    "model on dataset images and writes nothing unless its outputs equal the engine's; "
                    "a parity report goes beside it. Needs: pip install 'convnet-workbench[export]'.")
    e.add_argument("snapshot", help="a ConvNetJS snapshot, or an experiment file with its weights")
    e.add_argument("--to", required=True, choices=("onnx", "pytorch"), help="what to write")
    e.add_argument("--out", required=True, help="the model file (onnx) or the folder (pytorch)")
    src = e.add_mutually_exclusive_group()
    src.add_argument("--preset", help="train.py's settings from this bundled preset (default: the "
                                      "snapshot's own experiment, if it carries one)")
    src.add_argument("--spec", help="train.py's settings from this experiment or preset file")
    e.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES,
                   help=f"dataset inputs to check on (default {DEFAULT_EXAMPLES})")
    e.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                   help=f"largest difference allowed from the engine's outputs (default {DEFAULT_TOLERANCE:g})")
    e.add_argument("--no-data", action="store_true",
                   help="pytorch: do not copy the dataset beside train.py")
    e.set_defaults(func=cmd_export)
    return e


def cmd_export(a):
    from engine.runs.experiment import Experiment, preset

    from . import export_file
    from .errors import ExportError
    if a.examples < 1:
        raise ExportError(f"--examples must be at least 1, got {a.examples}")
    if not a.tolerance > 0:
        raise ExportError(f"--tolerance must be above 0, got {a.tolerance}")
    experiment = None
    if a.preset:
        experiment = preset(a.preset)
    elif a.spec:
        experiment = Experiment.load(a.spec)
    kwargs = {"examples": a.examples, "tolerance": a.tolerance}
    if a.to == "pytorch":
        kwargs["copy_data"] = not a.no_data
    report = export_file(a.snapshot, a.to, a.out, experiment=experiment, **kwargs)
    written = a.out if a.to == "pytorch" else f"{a.out} and its parity report"
    print(f"wrote {written}: {describe(report)} on {report['inputs']} ({report['seconds']:.1f} s)",
          file=sys.stderr)
    print(json.dumps(report))
    return 0
