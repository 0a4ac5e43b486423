"""The table of layer options is what the engine does: defaults, ranges, messages, README."""
import copy
import pathlib

import numpy as np
import pytest

import engine
from engine import SpecError
from engine.cli import main
from engine.core import options
from engine.core.layers import LAYER_TYPES
from engine.core.options import TABLE

README = pathlib.Path(__file__).resolve().parents[2] / "docs" / "layers.md"
BIG = (64, 64, 64)  # an input volume every option value in range fits


def build(layer_type, opts, in_shape=BIG):
    """A layer of ``layer_type`` built by the engine from ``opts`` (input: no in_shape)."""
    return LAYER_TYPES[layer_type](opts, None if layer_type == "input" else in_shape)


def required_only(layer_type):
    """The layer's required settings at their builder starts, nothing else."""
    return {o.key: o.start_value for o in TABLE[layer_type].settings if o.required}


def test_the_table_has_every_engine_layer_and_every_setting_it_saves():
    assert set(TABLE) == set(LAYER_TYPES)
    for t, layer_type in TABLE.items():
        saved = set(LAYER_TYPES[t].spec_keys)  # what to_spec writes back
        assert saved == {o.key for o in layer_type.settings} - {"bias_pref"}, t
        for o in layer_type.options:
            assert o.kind in options.KINDS and o.label and o.help.endswith((".", ")")), (t, o.key)
            if o.required:
                assert o.start is not None, f"{t}.{o.key}: a new layer needs a value"


@pytest.mark.parametrize("layer_type", sorted(TABLE))
def test_engine_defaults_are_the_tables(layer_type):
    """A layer built from only its required options has the table's defaults."""
    layer = build(layer_type, required_only(layer_type))
    for o in TABLE[layer_type].settings:
        value = getattr(layer, o.key, None)
        if o.required:
            assert value == o.start_value
        elif o.same_as:
            assert value == getattr(layer, o.same_as)
        elif o.key != "bias_pref":  # used when weights are made: see the next test
            assert value == o.default and type(value) is type(o.default), (layer_type, o.key)


@pytest.mark.parametrize("layer_type", ["conv", "fc"])
def test_bias_start_default_and_relu_shorthand(layer_type):
    d = required_only(layer_type)
    for act, bias in ((None, TABLE[layer_type].option("bias_pref").default), ("relu", 0.1),
                      ("tanh", 0.0)):
        defs = [{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 2},
                dict(d, type=layer_type, **({"activation": act} if act else {})),
                {"type": "softmax", "num_classes": 3}]
        net = engine.Net(defs, dtype=np.float64, seed=0)
        assert np.all(net.layers[1].biases == bias), act


def test_loss_sizes_and_shorthands_follow_the_table():
    base = [{"type": "input", "out_sx": 4, "out_sy": 4, "out_depth": 1}]
    for t, key in (("softmax", "num_classes"), ("svm", "num_classes"), ("regression", "num_neurons")):
        o = TABLE[t].option(key)
        shapes = engine.infer_shapes(base + [{"type": t, key: o.minimum}])
        assert shapes[-2]["type"] == "fc" and shapes[-2]["out_depth"] == o.minimum
        with pytest.raises(SpecError, match=f"'{key}' must be at least {o.minimum}"):
            engine.infer_shapes(base + [{"type": t, key: o.minimum - 1}])
    # a maxout named by 'activation' takes the maxout layer's default group
    shapes = engine.infer_shapes(base + [{"type": "fc", "num_neurons": 8, "activation": "maxout"},
                                         {"type": "softmax", "num_classes": 2}])
    assert shapes[2]["type"] == "maxout" and shapes[2]["out_depth"] == 8 // TABLE["maxout"].option("group_size").default
    assert TABLE["conv"].option("activation").choices == engine.spec.ACTIVATIONS


def _numeric_settings():
    for t, layer_type in sorted(TABLE.items()):
        for o in layer_type.options:
            if o.kind in ("int", "float", "optional_int") and not (o.shorthand and t in ("softmax", "svm", "regression")):
                yield t, o


def _context(layer_type, o, value):
    """A definition setting ``o`` to ``value``, with whatever else makes it valid."""
    if o.shorthand:  # checked by the layer it makes
        made = {"drop_prob": "dropout", "group_size": "maxout"}[o.key]
        return made, {o.key: value}
    d = required_only(layer_type)
    d[o.key] = value
    if layer_type == "pool" and o.key == "pad":
        d["sx"] = max(value + 1, 2)  # padding must be smaller than the window
    return layer_type, d


@pytest.mark.parametrize("layer_type,o", list(_numeric_settings()),
                         ids=[f"{t}.{o.key}" for t, o in _numeric_settings()])
def test_ranges_are_the_engines(layer_type, o):
    """The engine takes every value at the ends of the table's range and refuses the next
    value out, with a message naming the layer, the option and the range."""
    lo, hi = o.form_range()
    step = 1 if o.kind != "float" else 10.0 ** -o.decimals
    for value in (lo, hi):
        if value is not None:
            build(*_context(layer_type, o, value))
    for bound, exclusive, sign in ((o.minimum, o.exclusive_min, -1), (o.maximum, o.exclusive_max, 1)):
        if bound is None:
            continue
        bad = bound if exclusive else bound + sign * step
        made, d = _context(layer_type, o, bad)
        with pytest.raises(SpecError) as e:
            build(made, d)
        words = ("above" if exclusive else "at least") if sign < 0 else ("below" if exclusive else "at most")
        assert f"{made}: '{o.key}' must be {words} {bound:g}" in str(e.value)
        if o.minimum is not None and o.maximum is not None:
            assert f"({o.range_text()})" in str(e.value)


@pytest.mark.parametrize("layer_type,key,value,words", [
    ("conv", "filters", "8", "conv: 'filters' must be a whole number (filters >= 1), got '8'"),
    ("dropout", "drop_prob", True, "dropout: 'drop_prob' must be a number (0 <= drop_prob < 1), got True"),
    ("batchnorm", "eps", float("nan"), "batchnorm: 'eps' must be a number (eps > 0), got nan"),
    ("conv", "sx", None, "conv: missing 'sx' (filter width, sx >= 1)"),
])
def test_messages_name_layer_option_and_range(layer_type, key, value, words):
    d = required_only(layer_type)
    d[key] = value
    with pytest.raises(SpecError) as e:
        build(layer_type, d)
    assert str(e.value) == words


def test_snapshot_entries_without_options_get_convnetjs_fromjson_defaults():
    defs = [{"type": "input", "out_sx": 6, "out_sy": 6, "out_depth": 1},
            {"type": "conv", "sx": 3, "filters": 2}, {"type": "lrn"}, {"type": "softmax", "num_classes": 2}]
    snap = engine.Net(defs, seed=0).to_json()
    for key in ("stride", "pad", "l1_decay_mul", "l2_decay_mul"):
        del snap["layers"][1][key]
    for key in ("k", "n", "alpha", "beta"):
        del snap["layers"][2][key]
    conv, lrn = engine.Net.from_json(snap).layers[1:3]
    # ConvNetJS's fromJSON reads a missing l1_decay_mul as 1.0 (a new conv has 0.0)
    assert (conv.stride, conv.pad, conv.l1_decay_mul, conv.l2_decay_mul) == (1, 0, 1.0, 1.0)
    assert (lrn.k, lrn.n, lrn.alpha, lrn.beta) == (2.0, 5, 1e-4, 0.75)


def test_readme_layer_table_is_up_to_date():
    text = README.read_text()
    assert options.README_BEGIN in text, "docs/layers.md lost its layer table markers"
    assert options.readme_with_table(text) == text, \
        "docs/layers.md's layer table is out of date: run python -m engine layers --readme"
    for t in TABLE:
        assert f"| `{t}` (" in text


def test_markdown_lists_every_option_with_default_and_range():
    md = options.markdown()
    assert "`k` (default 2; k >= 0)" in md
    assert "`drop_prob` (default 0.5; 0 <= drop_prob < 1)" in md
    assert "`sy` (default: sx; sy >= 1)" in md and "`sx` (required; sx >= 1)" in md
    assert len(md.strip().splitlines()) == 2 + len(TABLE)


def test_readme_writer(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{options.README_BEGIN}\nold\n{options.README_END}\n\nafter\n")
    assert main(["layers", "--readme", str(readme)]) == 0
    assert "wrote the layer table" in capsys.readouterr().err
    text = readme.read_text()
    assert "old" not in text and options.markdown() in text and text.endswith("after\n")
    assert main(["layers"]) == 0
    assert capsys.readouterr().out == options.markdown()
    assert main(["layers", "--readme", str(tmp_path / "missing.md")]) == 2
    assert capsys.readouterr().err.startswith("error:")
    no_markers = tmp_path / "plain.md"
    no_markers.write_text("# nothing\n")
    assert main(["layers", "--readme", str(no_markers)]) == 2
    assert "no layer table markers" in capsys.readouterr().err
    assert no_markers.read_text() == "# nothing\n"


def test_defaults_survive_a_snapshot_round_trip():
    """A net built from new layers' defaults, saved and loaded, has the same settings."""
    defs = [{"type": "input", "out_sx": 12, "out_sy": 12, "out_depth": 4}]
    defs += [copy.deepcopy(TABLE[t].new_layer()) for t in ("conv", "pool", "lrn", "batchnorm",
                                                            "leaky_relu", "maxout", "dropout")]
    defs.append({"type": "softmax", "num_classes": 10})
    net = engine.Net(defs, seed=0)
    again = engine.Net.from_json(net.to_json())
    assert [l.to_spec() for l in again.layers] == [l.to_spec() for l in net.layers]
    assert again.layers[4].to_spec() == {"type": "lrn", "k": 2.0, "n": 5, "alpha": 1e-4, "beta": 0.75}
