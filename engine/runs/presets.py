"""The bundled presets: experiment files in resources/presets (see engine.experiment).

``engine.experiment.preset(name)`` gives a preset as an ``Experiment``. ``load_preset``
and ``load_spec_file`` give the file's JSON object as a dict: they are kept for the app
(workbench/window/main_window.py and the panels' demos) until it reads Experiments, and will
go then.
"""
import pathlib

from engine.core.errors import SpecError
from engine.core.io import read_json
from engine.data.containers import RESOURCES

PRESET_DIR = RESOURCES / "presets"


def list_presets():
    """``{name: path}`` of the bundled presets, by file stem (e.g. ``convnetjs-demo``)."""
    return {p.stem: p for p in sorted(PRESET_DIR.glob("*.json"))}


def load_spec_file(path):
    """A preset or spec file: a JSON list of layer_defs, or an object with ``layer_defs``.

    Returns a dict with at least ``layer_defs`` (and the file's other keys). Kept for the
    app; new code reads ``engine.experiment.Experiment.load(path)``.
    """
    path = pathlib.Path(path)
    obj = read_json(path, SpecError)
    if isinstance(obj, list):
        obj = {"layer_defs": obj}
    if not isinstance(obj, dict) or not isinstance(obj.get("layer_defs"), list):
        raise SpecError(f"{path.name}: expected a list of layer definitions or an object "
                        f"with 'layer_defs'")
    obj.setdefault("name", path.stem)
    return obj


def load_preset(name):
    """A bundled preset (or a file, by path) as a dict. Kept for the app; new code uses
    ``engine.experiment.preset(name)``."""
    presets = list_presets()
    if name not in presets:
        path = pathlib.Path(name)
        if path.exists():
            return load_spec_file(path)
        raise SpecError(f"unknown preset '{name}' (bundled: {', '.join(presets)})")
    return load_spec_file(presets[name])
