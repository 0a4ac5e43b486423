"""Bad specifications, bad snapshots and bad batches get clear errors naming the fault."""
import copy
import json

import numpy as np
import pytest

import engine
from engine import DataError, SnapshotError, SpecError

DEMO = [{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1},
        {"type": "conv", "sx": 5, "filters": 8, "stride": 1, "pad": 2, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "conv", "sx": 5, "filters": 16, "stride": 1, "pad": 2, "activation": "relu"},
        {"type": "pool", "sx": 3, "stride": 3},
        {"type": "softmax", "num_classes": 10}]


def with_layer(index, **changes):
    defs = copy.deepcopy(DEMO)
    defs[index].update(changes)
    return defs


def test_demo_shapes_and_parameter_counts():
    shapes = engine.infer_shapes(DEMO)
    assert [(s["type"], s["out_sx"], s["out_sy"], s["out_depth"]) for s in shapes] == [
        ("input", 24, 24, 1), ("conv", 24, 24, 8), ("relu", 24, 24, 8), ("pool", 12, 12, 8),
        ("conv", 12, 12, 16), ("relu", 12, 12, 16), ("pool", 4, 4, 16), ("fc", 1, 1, 10),
        ("softmax", 1, 1, 10)]
    assert [s["source_index"] for s in shapes] == [0, 1, 1, 2, 3, 3, 4, 5, 5]
    assert sum(s["params"] for s in shapes) == 208 + 3216 + 2570


@pytest.mark.parametrize("defs,index,words", [
    ([{"type": "input", "out_sx": 4, "out_sy": 4, "out_depth": 1}, {"type": "convv"},
      {"type": "softmax", "num_classes": 2}], 1, "unknown layer type 'convv'"),
    (with_layer(1, sx=None), 1, "missing 'sx'"),
    (with_layer(1, filters=-3), 1, "'filters' must be at least 1"),
    (with_layer(1, filters=2.5), 1, "'filters' must be a whole number"),
    (with_layer(1, filters="8"), 1, "'filters' must be a whole number"),
    (with_layer(4, sx=13, stride=5), 4, "layer 4, pool 13x13 stride 5: input is 12x12"),
    (with_layer(0, out_sx=4, out_sy=4), 4, "layer 4, pool 3x3 stride 3: input is 2x2, smaller than the window"),
    (with_layer(1, activation="gelu"), 1, "unknown activation 'gelu'"),
    (with_layer(5, num_classes=0), 5, "'num_classes' must be at least 2"),
    (DEMO[:3] + [DEMO[5], DEMO[3]], 3, "a loss layer must be the last layer"),
    (DEMO[:5], 4, "the last layer must be a loss layer"),
    (DEMO[1:], 0, "the first layer must be an input layer"),
    (DEMO[:2] + [DEMO[0]] + DEMO[2:], 2, "the input layer must be first"),
    (DEMO[:2] + [{"type": "maxout", "group_size": 3}] + DEMO[2:], 2, "not divisible by the group size"),
    (DEMO[:2] + [{"type": "lrn", "n": 4}] + DEMO[2:], 2, "'n' must be odd"),
    (DEMO[:2] + [{"type": "dropout", "drop_prob": 1.0}] + DEMO[2:], 2, "'drop_prob' must be below 1"),
])
def test_invalid_specs_name_the_layer(defs, index, words):
    with pytest.raises(SpecError) as e:
        engine.infer_shapes(defs)
    assert e.value.layer_index == index
    assert words in str(e.value)
    with pytest.raises(SpecError, match=words.replace("(", r"\(").replace(")", r"\)")):
        engine.Net(defs)


def test_not_a_list():
    for bad in ([], None, {"layers": []}):
        with pytest.raises(SpecError, match="list of layers"):
            engine.infer_shapes(bad)


def test_json_round_trip_keeps_weights_and_predictions():
    net = engine.Net(DEMO + [], seed=1)
    x = np.random.default_rng(0).standard_normal((3, 24, 24, 1)).astype(np.float32)
    text = json.dumps(net.to_json())
    other = engine.Net.from_json(json.loads(text))
    np.testing.assert_array_equal(net.forward(x), other.forward(x))
    assert json.loads(json.dumps(other.to_json())) == json.loads(text)
    # The layer_defs recovered from a snapshot rebuild the same structure.
    assert [l.layer_type for l in engine.Net(other.layer_defs).layers] == [l.layer_type for l in net.layers]


def test_batchnorm_and_leaky_relu_serialise():
    defs = [{"type": "input", "out_sx": 4, "out_sy": 4, "out_depth": 2},
            {"type": "conv", "sx": 3, "filters": 3, "pad": 1},
            {"type": "batchnorm", "momentum": 0.2},
            {"type": "leaky_relu", "alpha": 0.05},
            {"type": "softmax", "num_classes": 3}]
    net = engine.Net(defs, seed=0)
    x = np.random.default_rng(1).standard_normal((5, 4, 4, 2)).astype(np.float32)
    for _ in range(3):
        net.forward(x, training=True)
    snap = json.loads(json.dumps(net.to_json()))
    assert [l["layer_type"] for l in snap["layers"]][2:4] == ["batchnorm", "leaky_relu"]
    other = engine.Net.from_json(snap)
    np.testing.assert_allclose(net.forward(x), other.forward(x), rtol=1e-6)
    assert other.layers[2].momentum == 0.2 and other.layers[3].alpha == 0.05


def then(s, *effects):
    return s


def _snapshot():
    return engine.Net(DEMO, seed=0).to_json()


@pytest.mark.parametrize("mutate,words", [
    (lambda s: "not json {", "not valid JSON"),
    (lambda s: [], "non-empty 'layers' list"),
    (lambda s: {"layers": s["layers"][:4]}, "the last layer, and only it, must be a loss layer"),
    (lambda s: then(s, s["layers"][1].update(layer_type="warp")), "unknown layer_type 'warp'"),
    (lambda s: then(s, s["layers"][1]["filters"].pop()), "expected 8 filters"),
    (lambda s: then(s, s["layers"][1]["filters"][0]["w"].pop()), "filter 0: 'w' has 24 values, expected 25"),
    (lambda s: then(s, s["layers"][1]["filters"][0].update(w="abc")), "'w' must be a list"),
    (lambda s: then(s, s["layers"][1]["filters"][0]["w"].__setitem__(3, "x")), "not a number"),
    (lambda s: then(s, s["layers"][1].pop("biases")), "biases: expected an object"),
    (lambda s: then(s, s["layers"][1].update(out_depth=9)), "expected 9 filters"),
    (lambda s: then(s, s["layers"][3].update(out_sx=5)), "declares output 5x12x8"),
])
def test_bad_snapshots_are_clear_errors(mutate, words):
    snap = mutate(_snapshot())
    with pytest.raises(SnapshotError) as e:
        engine.Net.from_json(snap)
    assert words in str(e.value)


def test_convnetjs_keyed_weights_load():
    snap = _snapshot()
    for layer in snap["layers"]:
        for f in layer.get("filters", []):
            f["w"] = {str(i): v for i, v in enumerate(f["w"])}
        layer.pop("l1_decay_mul", None)
    net = engine.Net.from_json(snap)
    assert net.layers[1].l1_decay_mul == 1.0  # ConvNetJS's fromJSON default


def test_bad_batches_and_labels():
    net = engine.Net(DEMO, seed=0)
    with pytest.raises(DataError, match=r"expected a batch of shape \(N, 24, 24, 1\)"):
        net.forward(np.zeros((2, 28, 28, 1)))
    with pytest.raises(DataError, match="empty"):
        net.forward(np.zeros((0, 24, 24, 1)))
    net.forward(np.zeros((2, 24, 24, 1)))
    with pytest.raises(DataError, match="label 10 is out of range"):
        net.backward(np.array([1, 10]))
    with pytest.raises(DataError, match="expected 2 labels"):
        net.backward(np.array([1, 2, 3]))
    with pytest.raises(DataError, match="whole class indices"):
        net.backward(np.array([1.5, 2]))


def test_a_network_too_big_to_allocate_is_refused_with_its_numbers():
    defs = [{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1},
            {"type": "fc", "num_neurons": 10 ** 7}, {"type": "softmax", "num_classes": 10}]
    with pytest.raises(engine.SpecError, match=r"needs 5,870,000,010 parameters .* the limit is 50,000,000") as e:
        engine.Net(defs)
    assert e.value.layer_index == 1
    with pytest.raises(engine.SpecError, match="limit"):
        engine.infer_shapes(defs)  # the builder says so before anything is built
    wide = [{"type": "input", "out_sx": 4000, "out_sy": 4000, "out_depth": 3},
            {"type": "conv", "sx": 5, "filters": 64, "pad": 2},
            {"type": "pool", "sx": 4000, "stride": 4000}, {"type": "softmax", "num_classes": 2}]
    with pytest.raises(engine.SpecError, match=r"one example needs .* of activations .* the limit is 256 MB"):
        engine.infer_shapes(wide)


def test_a_tiny_snapshot_asking_for_a_huge_layer_is_refused_before_allocating():
    import resource
    snap = json.dumps({"layers": [
        {"layer_type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1},
        {"layer_type": "fc", "out_depth": 1000000, "filters": []},
        {"layer_type": "softmax", "out_depth": 1000000}]})
    assert len(snap) < 200
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(engine.SnapshotError, match="expected 1000000 filters|limit"):
        engine.Net.from_json(snap)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 50 * 1024  # KB


@pytest.mark.parametrize("key,words", [
    ("activaton", "conv: unknown option 'activaton': did you mean 'activation'?"),
    ("drop_prb", "conv: unknown option 'drop_prb': did you mean 'drop_prob'?"),
    ("filterz", "did you mean 'filters'?"),
    ("qqqq", "conv takes 'activation', "),
])
def test_a_misspelt_layer_option_is_an_error_naming_the_closest_one(key, words):
    """It was ignored: {'activaton': 'relu', 'drop_prb': 0.5} built a conv with no relu and no
    dropout (issue 20)."""
    defs = [{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 1},
            {"type": "conv", "sx": 3, "filters": 2, key: 0.5 if key == "drop_prb" else "relu"},
            {"type": "softmax", "num_classes": 2}]
    for call in (engine.Net, engine.infer_shapes):
        with pytest.raises(engine.SpecError) as info:
            call(defs)
        assert words in str(info.value) and info.value.layer_index == 1
    rows, error = engine.spec.check(defs)
    assert words in str(error) and rows[0] is not None and rows[1] is None


def test_what_convnetjs_writes_into_layer_defs_and_snapshots_stays_accepted():
    """ConvNetJS's makeLayers leaves in_sx/in_sy/in_depth in each definition; its snapshots
    carry keys of their own (in_*, out_*, layer_type, ...): both still load."""
    defs = [{"type": "input", "width": 8, "height": 8, "depth": 1},
            {"type": "conv", "sx": 3, "filters": 2, "in_sx": 8, "in_sy": 8, "in_depth": 1,
             "activation": "relu", "bias_pref": 0.1, "l1_decay_mul": 0, "l2_decay_mul": 1},
            {"type": "fc", "filters": 4, "in_sx": 6, "in_sy": 6, "in_depth": 2},
            {"type": "softmax", "num_classes": 2, "in_sx": 1, "in_sy": 1, "in_depth": 4}]
    net = engine.Net(defs)
    snap = net.to_json()
    for entry in snap["layers"]:
        entry["convnetjs_extra"] = 1
    engine.Net.from_json(snap)
    for name in engine.presets.list_presets():
        engine.Net(engine.presets.load_preset(name)["layer_defs"])


def test_a_spec_of_100000_layers_is_refused_at_once():
    """100,000 relu layers: _ArrayMemoryError after 7 s at 5.7 GB (issue 20)."""
    defs = ([{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1}] + [{"type": "relu"}] * 100_000
            + [{"type": "softmax", "num_classes": 10}])
    for call in (engine.Net, engine.infer_shapes):
        with pytest.raises(engine.LimitError, match="this network has 100,002 layers; the limit is 1,000"):
            call(defs)
    rows, error = engine.spec.check(defs)
    assert rows == [] and isinstance(error, engine.LimitError)
    snap = {"layers": [{"layer_type": "input", "out_sx": 1, "out_sy": 1, "out_depth": 1}]
            + [{"layer_type": "relu", "out_sx": 1, "out_sy": 1, "out_depth": 1}] * 2000}
    with pytest.raises(SnapshotError, match="the snapshot has 2,001 layers; the limit is 1,000"):
        engine.Net.from_json(snap)
