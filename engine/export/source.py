"""What an export starts from: a network with its weights, and the experiment that trains it.

A source file is either a ConvNetJS snapshot (``{"layers": [...]}``, its
``"workbench"`` metadata possibly carrying the experiment under ``"experiment"``)
or an experiment file (``layer_defs``, trainer settings, ...) whose ``"weights"``
entry holds a ConvNetJS snapshot.
"""
import pathlib
from dataclasses import dataclass

import numpy as np

from engine.core.errors import EngineError, SnapshotError
from engine.core.io import read_json
from engine.core.net import Net, spec_from_layers
from engine.runs.experiment import Experiment, ExperimentError

from .errors import ExportError


@dataclass
class Source:
    """A network to export and the experiment that goes with it.

    Attributes
    ----------
    net : engine.Net
    experiment : engine.experiment.Experiment
        The file's own, one given, or one made from the network with default
        trainer settings (``experiment_note`` says which).
    weights_note : str
        Where the weights come from ("trained weights from net.json", ...).
    experiment_note : str
    """
    net: Net
    experiment: Experiment
    weights_note: str = ""
    experiment_note: str = ""


def network_layer_defs(net):
    """``layer_defs`` describing ``net`` (its own, or each expanded layer's spec)."""
    defs = net.layer_defs if isinstance(net.layer_defs, list) else spec_from_layers(net.layers)
    if defs is None:  # a loss layer after something other than an fc: list every layer as it is
        defs = [layer.to_spec() for layer in net.layers]
    return defs


def experiment_for(net, meta=None, name="network"):
    """An Experiment for ``net``: from snapshot metadata (``experiment``, else its
    ``trainer`` settings), else the defaults. Returns ``(experiment, note)``."""
    meta = meta if isinstance(meta, dict) else {}
    if isinstance(meta.get("experiment"), dict):
        try:
            exp = Experiment.from_json(meta["experiment"], name=name)
        except ExperimentError:
            exp = None  # fall through to what else the metadata says
        if exp is not None:
            try:
                check_same_network(net, exp, "the snapshot's experiment")
            except ExportError:  # settings kept, the network is the weights'
                exp = exp.replace(layer_defs=network_layer_defs(net))
            return exp, "the snapshot's experiment"
    defs = network_layer_defs(net)
    trainer = meta.get("trainer")
    if isinstance(trainer, dict):
        try:
            return (Experiment(defs, name=str(meta.get("preset") or name), trainer=trainer),
                    "the snapshot's trainer settings, other settings at their defaults")
        except ExperimentError:
            pass
    return Experiment(defs, name=name), "default settings (the snapshot carries no experiment)"


def check_same_network(net, experiment, what):
    """ExportError unless ``experiment``'s layer_defs build the network ``net`` holds."""
    from engine.core.spec import infer_shapes
    try:
        shapes = infer_shapes(experiment.layer_defs)
    except EngineError as e:
        raise ExportError(f"{what}: {e}") from None
    mine = [(l.layer_type, l.out_sx, l.out_sy, l.out_depth) for l in net.layers]
    theirs = [(s["type"], s["out_sx"], s["out_sy"], s["out_depth"]) for s in shapes]
    if mine == theirs:
        return
    for i, (a, b) in enumerate(zip(mine, theirs)):  # noqa: B007 (i is the answer, read after the loop)
        if a != b:
            break
    else:
        i = min(len(mine), len(theirs))
    def say(t):
        return "nothing" if t is None else f"{t[0]} {t[1]}x{t[2]}x{t[3]}"
    raise ExportError(f"{what} describes a different network than the weights: layer {i} is "
                      f"{say(theirs[i] if i < len(theirs) else None)} there, "
                      f"{say(mine[i] if i < len(mine) else None)} in the snapshot")


def load_source(path, experiment=None, need_weights=True):
    """Read a snapshot or an experiment file into a ``Source``.

    Parameters
    ----------
    path : str or path
    experiment : Experiment, optional
        Training settings to use instead of the file's (its network must be the file's).
    need_weights : bool
        An experiment file without ``weights`` is an error when True; otherwise its
        network is built with initial weights (seeded by the experiment).

    Raises
    ------
    ExportError
        One line naming the file and what is wrong.
    """
    path = pathlib.Path(path)
    obj = read_json(path, SnapshotError)
    name = path.stem
    if isinstance(obj, dict) and isinstance(obj.get("layers"), list):
        net = _net_from_snapshot(obj, path.name)
        exp, note = experiment_for(net, obj.get("workbench"), name)
        weights_note = f"weights from {path.name}"
    elif isinstance(obj, (dict, list)) and (isinstance(obj, list) or "layer_defs" in obj):
        try:
            exp = Experiment.from_json(obj, name=name)
        except ExperimentError as e:
            raise ExportError(f"{path.name}: {e}") from None
        weights = obj.get("weights") if isinstance(obj, dict) else None
        if weights is None:
            if need_weights:
                raise ExportError(f"{path.name}: an experiment without weights: train it first "
                                  f"(or export it --to pytorch to train it there)")
            try:
                net = exp.build_net()
            except EngineError as e:
                raise ExportError(f"{path.name}: {e}") from None
            weights_note = f"initial weights (seed {exp.seed}), {path.name} has no trained weights"
        else:
            net = _net_from_snapshot(weights, path.name + ", weights")
            check_same_network(net, exp, path.name)
            weights_note = f"weights from {path.name}"
        note = f"the experiment in {path.name}"
    else:
        raise ExportError(f"{path.name}: neither a ConvNetJS snapshot (an object with 'layers') "
                          f"nor an experiment (an object with 'layer_defs')")
    if experiment is not None:
        check_same_network(net, experiment, f"the experiment {experiment.name!r}")
        exp, note = experiment, f"the experiment {experiment.name!r}"
    return Source(net, exp, weights_note, note)


def _net_from_snapshot(obj, what):
    try:
        return Net.from_json(obj, dtype=np.float32)
    except SnapshotError as e:
        raise ExportError(f"{what}: {e}") from None
