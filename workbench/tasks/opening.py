"""Reading what the app opens, completely, before anything in the session changes.

Every way in (File › Open…, recent files, presets, the trained demo network, a file
given on the command line or dropped on the window) reads its file with one of these
functions on a worker thread (``background.wait_for``): the JSON (size-capped,
strict), the experiment, the weights and the
network's size against the engine's limits. What comes back (an ``Opened``) is plain
data that the session takes in one go on the GUI thread, so a failure of any kind
leaves the current network, weights, settings and undo history as they were.

Parsing JSON holds the GIL: a 50 MB snapshot parsed on a thread stopped the window's
event loop for half a second. So a file larger than ``SUBPROCESS_BYTES`` is read in a
separate process (``read_in_subprocess``), which sends back the checked layers and
their weights; only rebuilding the network from them (tens of milliseconds) happens
in this process. The dataset an experiment names is loaded afterwards by the session,
in the background (``Session.load_experiment``).

No Qt here: the readers are tested and fuzzed on their own.
"""
import os
import pathlib

import engine
from engine.core.errors import LimitError
from engine.core.io import read_json
from engine.core.net import spec_from_layers
from engine.data import RESOURCES
from engine.runs.experiment import Experiment, ExperimentError, data_from_file, experiment_from_file_object, preset
from engine.runs.snapshots import trained_from_object

#: Files larger than this are read in another process (see the module's docstring).
SUBPROCESS_BYTES = 4 * 2 ** 20
from engine.core.spec import build_layers, check
from workbench.tasks.opened import Opened

TRAINED_DEMO = RESOURCES / "snapshots" / "convnetjs-demo-trained.json"




def bundled(path):
    """True for the app's own files (presets, the demo snapshot), which keep their names."""
    try:
        return pathlib.Path(path).resolve().is_relative_to(RESOURCES.resolve())
    except OSError:
        return False


def display_name(path, inner_name):
    """An experiment opened from ``path`` is called by the file's name (the name saved
    inside may be another file's, or a preset's); the app's own files keep their titles."""
    return str(inner_name) if bundled(path) else pathlib.Path(path).stem


def same_network(layer_defs, net):
    """True when ``layer_defs`` describe exactly the layers of ``net`` (every option, shorthands expanded)."""
    try:
        return spec_from_layers(build_layers(layer_defs)) == net.layer_defs
    except engine.EngineError:
        return False


def layers_for(exp, net):
    """The experiment's layer definitions when they describe exactly ``net`` (as they were
    written, shorthands and all), else the ones read from the weights."""
    return exp.layer_defs if exp is not None and same_network(exp.layer_defs, net) else net.layer_defs


def _check_size(layer_defs, what):
    """Refuse a network over the engine's limits (an fc of a million neurons is a few bytes
    of JSON); any other fault of the stack is shown on its card once opened."""
    _, error = check(layer_defs)
    if isinstance(error, LimitError):
        raise LimitError(f"{what}: {error}", error.layer_index)


def _check(state):
    if state is not None:
        state.check()


def read_experiment(state, path, obj=None):
    """An experiment file (or a preset file, or a bare list of layer definitions), with its
    weights when it holds them. ``obj``: the file's JSON, when it was read already."""
    path = pathlib.Path(path)
    if obj is None:
        obj = read_json(path, ExperimentError)
    _check(state)
    if isinstance(obj, dict) and obj.get("weights") is not None:
        exp, net = experiment_from_file_object(obj, path)
    else:
        try:
            exp, net = Experiment.from_json(obj, name=path.stem), None
        except ExperimentError as e:
            raise ExperimentError(f"{path.name}: {e}", e.layer_index) from None
        exp.data = data_from_file(exp.data, path.parent)  # relative to the file's folder
    name = display_name(path, exp.name)
    exp = exp.replace(name=name)
    _check_size(exp.layer_defs, path.name)
    _check(state)
    if net is None:
        return Opened(name, exp, path=str(path), source=str(path))
    # no path: Save must not write the experiment alone over the file that holds weights
    return Opened(name, exp, net, layers_for(exp, net), None, str(path))


def read_snapshot(state, path, settings=None, obj=None):
    """Trained weights, with the experiment (or the trainer settings) saved with them.

    ``settings``: the session's experiment, which a snapshot that carries only its
    trainer settings (as ConvNetJS's demo does) is applied to. ``obj``: the file's
    JSON, when it was read already.
    """
    path = pathlib.Path(path)
    if obj is None:
        obj = read_json(path, engine.SnapshotError)
    _check(state)
    net, exp, meta = trained_from_object(obj, path)
    _check(state)
    if net.layer_defs is None:
        raise engine.SnapshotError(f"{path.name}: its loss layer does not follow an fc layer, "
                                   f"which the builder cannot show")
    # the name saved with the weights (their file is usually "<name>-weights.json")
    name = str(exp.name if exp is not None else meta.get("preset") or path.stem)
    if exp is None and isinstance(meta.get("trainer"), dict) and settings is not None:
        try:
            exp = settings.replace(trainer=meta["trainer"])
        except engine.EngineError as e:
            raise engine.SnapshotError(f"{path.name}: its trainer settings: {e}") from None
        layers = net.layer_defs
    else:
        layers = layers_for(exp, net)
    if exp is not None:
        exp = exp.replace(name=name)
    return Opened(name, exp, net, layers, None, str(path))


def read_any(state, path, settings=None):
    """A file of either kind: a snapshot (an object with ``layers``) or an experiment."""
    obj = read_json(path, engine.SpecError)
    if isinstance(obj, dict) and "layers" in obj and "layer_defs" not in obj:
        return read_snapshot(state, path, settings, obj=obj)
    return read_experiment(state, path, obj=obj)


def read_preset(state, name):
    """A bundled preset, by name."""
    exp = preset(name)
    _check(state)
    return Opened(exp.name, exp)


# -- big files: read in another process --------------------------------------------------------
def read_big(state, reader, path, *inputs):
    """``reader(state, path, *inputs)``, in a separate process when the file is large."""
    try:
        size = os.stat(path).st_size if pathlib.Path(path).is_file() else 0
    except OSError:
        size = 0
    if size <= SUBPROCESS_BYTES:
        return reader(state, path, *inputs)
    return read_in_subprocess(reader, state, path, *inputs)


def read_in_subprocess(reader, state, path, *inputs):
    """Run an opening reader in a child process (``child.run``) and rebuild its result
    here."""
    import numpy as np

    from engine.core.net import Net
    from workbench.tasks import child
    opened, layers, dtype = child.run(_read_for_parent, reader.__name__, str(path), tuple(inputs),
                                      state=state, what=pathlib.Path(path).name)
    if layers is not None:
        opened.net = Net.from_layers(layers, np.dtype(dtype))
    _check(state)
    return opened


_READERS = {"read_experiment": read_experiment, "read_snapshot": read_snapshot, "read_any": read_any}


def _read_for_parent(reader_name, path, inputs):
    """In the child: the reader's Opened, its network sent as its layers (options and raw weights, see child)."""
    opened = _READERS[reader_name](None, path, *inputs)
    net, opened.net = opened.net, None
    return opened, None if net is None else net.layers, None if net is None else net.dtype.name

