"""Saving and loading trained weights: ConvNetJS snapshot JSON, written atomically.

A snapshot is ConvNetJS's own ``net.toJSON()`` object; what the workbench adds goes under
its ``"workbench"`` key, which ConvNetJS ignores. That metadata may hold the experiment the
weights were trained with (``{"workbench": {"experiment": exp.to_json(), ...}}``), so that
opening a snapshot restores how it was trained. An experiment file with ``"weights"``
(``engine.experiment.save_experiment``) holds the same two things the other way round;
``load_trained`` opens either.
"""
import json
import pathlib

import numpy as np

from engine.core.errors import EngineError, SnapshotError, SpecError
from engine.core.io import atomic_write_text, read_json  # noqa: F401 (atomic_write_text: used by callers)
from engine.core.net import Net
from engine.runs.experiment import FORMAT, Experiment, data_from_file, experiment_from_file_object


def save_snapshot(net, path, meta=None, experiment=None):
    """Write ``net.to_json()`` to ``path``, with ``meta`` (a dict) and ``experiment`` (an
    ``Experiment``, stored as ``meta["experiment"]``) under its ``workbench`` key."""
    obj = net.to_json()
    meta = dict(meta or {})
    if experiment is not None:
        reason = experiment.misfit(net)
        if reason:
            raise SnapshotError(f"the experiment does not describe these weights: {reason}")
        meta["experiment"] = experiment.for_file(path).to_json()  # its data relative to the file's folder
    if meta:
        obj["workbench"] = meta
    atomic_write_text(path, json.dumps(obj))


def load_snapshot(path, dtype=np.float32):
    """``(net, meta)`` from a snapshot file; SnapshotError if it is not one.

    ``meta`` is the ``workbench`` entry (``{}`` if none), not checked. An experiment file
    with weights is read too (``meta``: ``{"experiment": ..., "preset": its name}``).
    """
    net, _, meta = _read(path, dtype)
    return net, meta


def load_trained(path, dtype=np.float32):
    """``(net, experiment or None, meta)`` from a snapshot or an experiment file with weights.

    The experiment is the one stored with the weights (None when a snapshot has none, as
    ConvNetJS's own do). Raises SnapshotError with a one-line message naming the file,
    also when the stored experiment is malformed or does not describe the weights.
    """
    path = pathlib.Path(path)
    return trained_from_object(read_json(path, SnapshotError), path, dtype)


def trained_from_object(obj, path, dtype=np.float32):
    """``load_trained`` for the parsed JSON ``obj`` of the file at ``path`` (for a caller
    that has read the file already, e.g. to tell a snapshot from an experiment)."""
    path = pathlib.Path(path)
    net, exp, meta = _from_object(obj, path, dtype)
    if exp is None:
        exp = experiment_of(meta, net, path.name)
        if exp is not None:  # a relative data path is relative to the snapshot's folder
            exp.data = data_from_file(exp.data, path.parent)
    return net, exp, meta


def _read(path, dtype):
    """``(net, experiment of an experiment file or None, meta)``."""
    path = pathlib.Path(path)
    return _from_object(read_json(path, SnapshotError), path, dtype)


def _from_object(obj, path, dtype):
    if isinstance(obj, dict) and "layer_defs" in obj and "layers" not in obj:
        if obj.get("weights") is None:
            raise SnapshotError(f"{path.name}: an experiment without trained weights "
                                f"(no 'weights'), not a snapshot")
        try:
            exp, net = experiment_from_file_object(obj, path, dtype)
        except SpecError as e:  # a bad experiment: for whoever wants weights, a bad snapshot
            raise SnapshotError(str(e)) from None
        return net, exp, {"experiment": exp.to_json(), "preset": exp.name}
    try:
        net = Net.from_json(obj, dtype=dtype)
    except SnapshotError as e:
        raise SnapshotError(f"{path.name}: {e}") from None
    meta = obj.get("workbench") if isinstance(obj.get("workbench"), dict) else {}
    return net, None, meta


def experiment_of(meta, net=None, what="snapshot"):
    """The Experiment stored in a snapshot's ``workbench`` metadata, or None if none is.

    With ``net``, the experiment must describe its layers. Raises SnapshotError naming
    ``what`` for an experiment that is malformed or does not fit.
    """
    obj = meta.get("experiment") if isinstance(meta, dict) else None
    if obj is None:
        return None
    try:
        if not isinstance(obj, dict) or obj.get("format", FORMAT) != FORMAT:
            raise EngineError("not an experiment object")
        exp = Experiment.from_json(obj)
    except EngineError as e:
        raise SnapshotError(f"{what}: its experiment: {e}") from None
    if net is not None:
        reason = exp.misfit(net)
        if reason:
            raise SnapshotError(f"{what}: its experiment does not describe its weights: {reason}")
    return exp
