"""Network presets: JSON files in resources/presets with layer_defs and trainer settings."""
import json
import pathlib

from .data import RESOURCES
from .errors import SpecError

PRESET_DIR = RESOURCES / "presets"


def list_presets():
    """``{name: path}`` of the bundled presets, by file stem (e.g. ``convnetjs-demo``)."""
    return {p.stem: p for p in sorted(PRESET_DIR.glob("*.json"))}


def load_spec_file(path):
    """A preset or spec file: a JSON list of layer_defs, or an object with ``layer_defs``.

    Returns a dict with at least ``layer_defs`` (and the preset's other keys).
    """
    path = pathlib.Path(path)
    try:
        obj = json.loads(path.read_text())
    except OSError as e:
        raise SpecError(f"{path}: cannot read ({e.strerror or e})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SpecError(f"{path.name}: not valid JSON ({e})") from None
    if isinstance(obj, list):
        obj = {"layer_defs": obj}
    if not isinstance(obj, dict) or not isinstance(obj.get("layer_defs"), list):
        raise SpecError(f"{path.name}: expected a list of layer definitions or an object "
                        f"with 'layer_defs'")
    obj.setdefault("name", path.stem)
    return obj


def load_preset(name):
    presets = list_presets()
    if name not in presets:
        path = pathlib.Path(name)
        if path.exists():
            return load_spec_file(path)
        raise SpecError(f"unknown preset '{name}' (bundled: {', '.join(presets)})")
    return load_spec_file(presets[name])
