"""One setting of an experiment by name: what sweeps vary, coach fixes change and run diffs compare.

A setting's name is a short dotted path into the experiment:

- a trainer option by itself: ``learning_rate``, ``method``, ``batch_size``, ``momentum``,
  ``l1_decay``, ``l2_decay``, ``ro``, ``eps``, ``beta1``, ``beta2`` (``trainer.`` in front
  is allowed);
- ``layers.N.OPTION``: option OPTION of ``layer_defs[N]`` (the list as written, input
  first), e.g. ``layers.1.filters``; the value None removes the option;
- ``schedule.kind`` (``constant`` turns the schedule off) and ``schedule.factor``,
  ``schedule.every``, ``schedule.total``, ``schedule.minimum``, ``schedule.base``;
- ``augment.shift``, ``augment.flip``, ``augment.crop``;
- ``epochs``, ``validation``, ``seed``, ``data``, ``name``.

``with_settings(exp, {"learning_rate": 0.01, "layers.1.filters": 16})`` gives a checked
copy; ``flat_settings(exp)`` lists every setting with its value; ``parse_value`` reads a
value typed on a command line (JSON numbers, ``true``/``false``/``null``, else text).
"""
import copy
import json

from engine.core.errors import SpecError
from engine.runs.experiment import SCHEDULE_DEFAULTS, TRAINER_DEFAULTS, ExperimentError

TOP_LEVEL = ("epochs", "validation", "seed", "data", "name")
#: Settings a running trainer takes at its next batch (the rest need a new run).
LIVE = tuple(TRAINER_DEFAULTS) + ("augment.shift", "augment.flip")


def canonical(key):
    """The short name of a setting (``trainer.learning_rate`` -> ``learning_rate``);
    ExperimentError for a name that is not a setting."""
    if not isinstance(key, str) or not key:
        raise ExperimentError(f"a setting's name must be text, got {key!r}")
    if key.startswith("trainer."):
        key = key[len("trainer."):]
    if key in TRAINER_DEFAULTS or key in TOP_LEVEL:
        return key
    parts = key.split(".")
    if parts[0] == "schedule" and len(parts) == 2 and parts[1] in SCHEDULE_DEFAULTS:
        return key
    if parts[0] == "augment" and len(parts) == 2 and parts[1] in ("shift", "flip", "crop"):
        return key
    if parts[0] in ("layers", "layer_defs") and len(parts) == 3 and parts[1].isdigit() and parts[2]:
        return f"layers.{int(parts[1])}.{parts[2]}"
    raise ExperimentError(
        f"unknown setting {key!r} (known: {', '.join(TRAINER_DEFAULTS)}, layers.N.OPTION, "
        f"schedule.kind and its settings, augment.shift/flip/crop, {', '.join(TOP_LEVEL)})")


def parse_value(text):
    """A value typed on a command line: a JSON number, true, false or null, else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def get_setting(exp, key):
    """The value of one setting of ``exp`` (None where the experiment does not have it)."""
    key = canonical(key)
    if key in TRAINER_DEFAULTS:
        return exp.trainer[key]
    if key in TOP_LEVEL:
        return getattr(exp, key)
    part, rest = key.split(".", 1)
    if part == "schedule":
        if exp.schedule is None:
            return "constant" if rest == "kind" else None
        return exp.schedule[rest]
    if part == "augment":
        return exp.augment[rest]
    index, option = rest.split(".", 1)
    index = int(index)
    return exp.layer_defs[index].get(option) if index < len(exp.layer_defs) else None


def with_settings(exp, changes):
    """A copy of ``exp`` with ``changes`` ({setting: value}) applied and checked.

    Raises ExperimentError for an unknown setting or a bad value, SpecError (with the
    layer's index) for a layer option that makes the network invalid.
    """
    from engine.core.spec import infer_shapes
    j = exp.to_json()
    layers_changed = False
    for key, value in changes.items():
        key = canonical(key)
        if key in TRAINER_DEFAULTS:
            j["trainer"][key] = value
        elif key in TOP_LEVEL:
            j[key] = value
        else:
            part, rest = key.split(".", 1)
            if part == "schedule":
                if rest == "kind" and value == "constant":
                    j["schedule"] = None
                else:
                    sched = dict(j["schedule"] or {"kind": "step"})
                    sched[rest] = value
                    j["schedule"] = sched
            elif part == "augment":
                j["augment"][rest] = value
            else:
                index, option = rest.split(".", 1)
                index = int(index)
                if index >= len(j["layer_defs"]):
                    raise ExperimentError(f"{key}: the network has {len(j['layer_defs'])} layer "
                                          f"definitions (0 to {len(j['layer_defs']) - 1})")
                d = j["layer_defs"][index]
                if value is None:
                    d.pop(option, None)
                else:
                    d[option] = copy.deepcopy(value)
                layers_changed = True
    out = type(exp).from_json(j)
    if layers_changed:
        try:
            infer_shapes(out.layer_defs)
        except SpecError as e:
            raise SpecError(str(e), e.layer_index) from None
    return out


def flat_settings(exp):
    """Every setting of ``exp`` as ``{name: value}`` (trainer, schedule, augmentation,
    each layer's options, epochs, validation, seed, data), in a stable order."""
    out = {k: exp.trainer[k] for k in TRAINER_DEFAULTS}
    if exp.schedule is None:
        out["schedule.kind"] = "constant"
    else:
        out.update({f"schedule.{k}": v for k, v in exp.schedule.items()})
    out.update({f"augment.{k}": v for k, v in exp.augment.items()})
    for i, d in enumerate(exp.layer_defs):
        out.update({f"layers.{i}.{k}": v for k, v in d.items()})
    out.update({k: getattr(exp, k) for k in ("epochs", "validation", "seed", "data")})
    return out
