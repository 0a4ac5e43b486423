"""The builder's layer knowledge is the engine's: new layers, form defaults and ranges."""
import pytest

import engine
from engine.core.errors import SpecError
from engine.core.layers import LAYER_TYPES
from engine.core.options import TABLE
from workbench.state.layer_info import DEFAULTS, DESCRIPTIONS, FIELDS, GROUPS, TITLES, summary

BIG = (64, 64, 64)


def stack_with(d):
    """A valid stack holding the definition ``d`` (input first, loss last)."""
    t = d["type"]
    if t == "input":
        return [d, {"type": "softmax", "num_classes": 10}]
    inp = {"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 4}
    return [inp, d] if t in ("softmax", "svm", "regression") else [inp, d, {"type": "softmax", "num_classes": 10}]


def test_every_engine_layer_is_in_the_palette_once():
    in_palette = [t for _, types in GROUPS for t in types]
    assert sorted(in_palette) == sorted(LAYER_TYPES) == sorted(DEFAULTS) == sorted(FIELDS)
    for t in in_palette:
        assert TITLES[t] and DESCRIPTIONS[t] == TABLE[t].description


@pytest.mark.parametrize("layer_type", sorted(LAYER_TYPES))
def test_a_new_layer_is_what_the_engine_builds_with_the_tables_values(layer_type):
    """Dropped into a stack, a new layer is valid; every setting it does not spell out has
    the engine's default, and every one it does has the table's starting value."""
    d = DEFAULTS[layer_type]
    net = engine.Net(stack_with(d), seed=0)
    i = 0 if layer_type == "input" else 1
    if layer_type in ("softmax", "svm", "regression"):
        i = 2  # the fc the loss brings comes first
        key = "num_classes" if layer_type != "regression" else "num_neurons"
        assert net.layers[1].num_neurons == d[key] == TABLE[layer_type].option(key).start
    layer = net.layers[i]
    assert layer.layer_type == layer_type
    for o in TABLE[layer_type].settings:
        if o.key == "bias_pref":
            continue
        value = getattr(layer, o.key)
        if o.key in d:
            assert value == d[o.key] == o.start_value
        elif o.same_as:
            assert value == getattr(layer, o.same_as)
        else:
            assert value == o.default, (layer_type, o.key)


def test_lrn_k_is_the_engines():
    """The builder used to start an lrn at k=1.0 while the engine's default is 2.0."""
    lrn = LAYER_TYPES["lrn"]({"type": "lrn"}, BIG)
    assert DEFAULTS["lrn"]["k"] == lrn.k == 2.0
    (k,) = [f for f in FIELDS["lrn"] if f.key == "k"]
    assert k.default == lrn.k


def _fields():
    for t, fields in sorted(FIELDS.items()):
        for f in fields:
            yield t, f


@pytest.mark.parametrize("layer_type,f", list(_fields()), ids=[f"{t}.{f.key}" for t, f in _fields()])
def test_form_fields_have_the_engines_defaults_and_ranges(layer_type, f):
    o = TABLE[layer_type].option(f.key)
    assert f.kind == o.kind and f.label == o.label and f.tooltip == o.help
    if f.kind == "choice":
        assert f.choices == [""] + list(engine.spec.ACTIVATIONS) and f.default == ""
        return
    # the form's default is what the engine does when the option is left out
    if o.required or o.same_as:
        assert f.default is None
    elif o.shorthand:
        assert f.default == 0.0  # no dropout layer
    else:
        layer = LAYER_TYPES[layer_type](_required(layer_type), BIG)
        assert f.default == getattr(layer, f.key)
    # an engine bound is the form's bound (one step inside when the engine's is strict);
    # where the engine sets no maximum the form stops at a practical top
    step = 1 if f.kind in ("int", "optional_int") else 10.0 ** -f.decimals
    assert f.minimum == pytest.approx(o.minimum + (step if o.exclusive_min else 0))
    if o.maximum is not None:
        assert f.maximum == pytest.approx(o.maximum - (step if o.exclusive_max else 0))
    else:
        assert f.maximum == o.editor_max
    # and the engine takes both ends of the form's range
    for value in (f.minimum, f.maximum):
        _engine_accepts(layer_type, f.key, value, o)


def _required(layer_type):
    return {o.key: o.start_value for o in TABLE[layer_type].settings if o.required}


def _engine_accepts(layer_type, key, value, o):
    if layer_type in ("softmax", "svm", "regression"):
        engine.infer_shapes(stack_with({"type": layer_type, key: value}))
        return
    if o.shorthand:  # drop_prob on a conv/fc: the dropout layer it makes takes it
        LAYER_TYPES["dropout"]({key: value}, BIG)
        return
    d = dict(_required(layer_type), **{key: value})
    if layer_type == "pool" and key == "pad":
        d["sx"] = value + 1
    try:
        LAYER_TYPES[layer_type](d, None if layer_type == "input" else BIG)
    except SpecError as e:  # pragma: no cover - the assertion message
        pytest.fail(f"the form offers {layer_type}.{key} = {value}, the engine refuses: {e}")


def test_cards_show_the_engines_defaults():
    assert summary({"type": "lrn"}) == "lrn n 5, k 2.0, alpha 0.0001, beta 0.75"
    assert summary({"type": "pool", "sx": 3}) == "pool 3x3, stride 2"
    assert summary({"type": "dropout"}) == "dropout 0.5"
    assert summary(DEFAULTS["conv"]) == "conv 5x5, 8 filters, stride 1, pad 2, relu"
