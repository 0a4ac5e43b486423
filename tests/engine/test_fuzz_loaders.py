"""Fuzzed network specs, snapshots and experiment files give the engine's own errors, never a
raw Python exception (TypeError, OverflowError, MemoryError, RecursionError ...)."""
import copy
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine.core.errors import EngineError
from engine.core.io import parse_json
from engine.core.options import TABLE
from engine.data import RESOURCES
from engine.runs.experiment import Experiment

FUZZ = settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", 150)), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

TYPES = sorted(TABLE) + ["warp", "", "INPUT"]
KEYS = sorted({o.key for t in TABLE.values() for o in t.options} |
              {"type", "activation", "drop_prob", "num_classes", "num_neurons", "bias_pref",
               "group_size", "layer_type", "filters", "w", "sx", "sy", "out_sx", "out_sy", "out_depth"})

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 40), st.integers(-10 ** 30, 10 ** 30),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(TYPES),
    st.sampled_from(["relu", "maxout", "sigmoid", "tanh", "leaky_relu", "3", "", "x" * 50]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.sampled_from(KEYS), inner,
                                                                     max_size=3)), max_leaves=6)
layer = st.dictionaries(st.sampled_from(KEYS), values, max_size=6).map(
    lambda d: d)
plausible_layer = st.builds(lambda t, d: dict(d, type=t), st.sampled_from(TYPES),
                            st.dictionaries(st.sampled_from(KEYS), scalars, max_size=5))
specs = st.one_of(st.lists(st.one_of(layer, plausible_layer, values), max_size=6),
                  st.lists(plausible_layer, min_size=2, max_size=6).map(
                      lambda ls: [{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 1}]
                      + ls + [{"type": "softmax", "num_classes": 3}]),
                  values)


def only_engine_errors(fn, *args):
    try:
        return fn(*args)
    except EngineError:
        return None


@FUZZ
@given(specs)
def test_fuzzed_specs_give_spec_errors(defs):
    shapes = only_engine_errors(engine.infer_shapes, defs)
    only_engine_errors(engine.spec.check, defs)
    if shapes is not None and sum(s["params"] for s in shapes) < 200_000:
        only_engine_errors(engine.Net, defs)


DEMO = json.loads((RESOURCES / "snapshots" / "convnetjs-demo-trained.json").read_text())


def _mutate(obj, path, value, delete):
    target = obj
    for key in path[:-1]:
        target = target[key]
    if delete and isinstance(target, dict):
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value


def _paths(obj, prefix=()):
    """Every place in a JSON object (short lists only: the weight lists are sampled)."""
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in list(enumerate(obj))[:3]:
            out += _paths(v, prefix + (i,))
    return out


PATHS = _paths(DEMO)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), values, st.booleans()), min_size=1, max_size=4))
def test_fuzzed_snapshots_give_snapshot_errors(changes):
    snap = copy.deepcopy(DEMO)
    for path, value, delete in changes:
        try:
            _mutate(snap, path, value, delete)
        except (KeyError, IndexError, TypeError):  # an earlier change removed the place
            pass
    only_engine_errors(engine.Net.from_json, snap)


EXPERIMENT_KEYS = ["name", "description", "layer_defs", "trainer", "schedule", "augment", "data",
                   "validation", "epochs", "seed", "format", "weights"]


@FUZZ
@given(st.dictionaries(st.sampled_from(EXPERIMENT_KEYS + ["method", "learning_rate"]), values,
                       max_size=6),
       st.dictionaries(st.sampled_from(["method", "learning_rate", "momentum", "batch_size",
                                        "l2_decay", "eps", "kind", "crop", "shift", "flip"]),
                       scalars, max_size=4))
def test_fuzzed_experiment_files_give_experiment_errors(obj, trainer):
    obj.setdefault("layer_defs", copy.deepcopy(engine.experiment.preset("convnetjs-demo").layer_defs))
    obj.setdefault("trainer", trainer)
    exp = only_engine_errors(Experiment.from_json, obj)
    if exp is not None:
        assert Experiment.from_json(exp.to_json()) == exp
        only_engine_errors(exp.build_trainer, engine.Net([
            {"type": "input", "out_sx": 2, "out_sy": 2, "out_depth": 1},
            {"type": "softmax", "num_classes": 2}]))


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200),
                 st.integers(1, 5000).map(lambda n: "[" * n), st.integers(1, 5000).map(lambda n: "9" * n),
                 st.sampled_from(['{"a": NaN}', "[Infinity]", "-Infinity", '{"layers": [', "\ufeff{}"])))
def test_fuzzed_json_text_gives_engine_errors(raw):
    only_engine_errors(parse_json, raw)
    only_engine_errors(engine.Net.from_json, raw if isinstance(raw, str) else raw.decode("latin-1"))


@pytest.mark.parametrize("defs,words", [
    ([{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1},
      {"type": "conv", "sx": 5, "filters": math.inf}, {"type": "softmax", "num_classes": 10}],
     "must be a whole number"),
    ([{"layer_type": ["input"]}], "missing 'type'"),
    ([{"type": ["input"]}], "missing 'type'"),
    ([{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1},
      {"type": "fc", "num_neurons": 10 ** 40}, {"type": "softmax", "num_classes": 10}], "limit"),
    ([{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1},
      {"type": "conv", "sx": 5, "filters": 4, "extra": [[[[[[]]]]]] * 3},
      {"type": "softmax", "num_classes": 10}], "unknown option 'extra'"),  # not choked on either
])
def test_the_issues_examples(defs, words):
    with pytest.raises(EngineError, match=words):
        engine.Net(defs)


def test_a_weight_beyond_float32_is_a_snapshot_error():
    """Found by the fuzz test: 3.4e38 is a finite float64 that overflows in float32."""
    snap = copy.deepcopy(DEMO)
    snap["layers"][1]["filters"][2]["w"][0] = 3.4028235677973366e+38
    with pytest.raises(engine.SnapshotError, match="too large for float32"):
        engine.Net.from_json(snap)
    engine.Net.from_json(snap, dtype=np.float64)  # fits a float64 net
