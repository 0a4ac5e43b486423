"""The engine against ConvNetJS itself (npm convnetjs 0.3.0, see tools/convnetjs_reference).

The fixtures hold ConvNetJS's snapshots (its own ``toJSON``, weights as objects keyed
"0", "1", ...), its outputs and losses, and its weights after trainer updates.
"""
import json
import pathlib

import numpy as np
import pytest

import engine

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
CASES = json.loads((FIXTURES / "convnetjs_reference.json").read_text())
BY_NAME = {c["name"]: c for c in CASES}


def batch(case, net):
    return np.array(case["inputs"], dtype=np.float64).reshape((-1,) + net.input_shape)


def labels(case):
    return np.array(case["labels"])


def flat_weights(snapshot):
    out = []
    for layer in snapshot["layers"]:
        for f in layer.get("filters", []):
            w = f["w"]
            out.extend(w[str(i)] for i in range(len(w))) if isinstance(w, dict) else out.extend(w)
        if "biases" in layer:
            w = layer["biases"]["w"]
            out.extend(w[str(i)] for i in range(len(w))) if isinstance(w, dict) else out.extend(w)
    return np.array(out)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_convnetjs_snapshot_predicts_the_same(name):
    case = BY_NAME[name]
    net = engine.Net.from_json(case["snapshot"], dtype=np.float64)
    out = net.forward(batch(case, net)).reshape(len(case["inputs"]), -1)
    np.testing.assert_allclose(out, np.array(case["outputs"]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_losses_match_convnetjs(name):
    case = BY_NAME[name]
    net = engine.Net.from_json(case["snapshot"], dtype=np.float64)
    x, y = batch(case, net), labels(case)
    ours = []
    for i in range(len(x)):
        net.forward(x[i:i + 1])
        ours.append(net.backward(y[i:i + 1]))
    theirs = np.array(case["losses"])
    kind = net.layers[-1].layer_type
    if kind == "svm":          # the npm build also counts the true class's margin (+1)
        theirs = theirs - 1
    elif kind == "regression":  # the npm build reports 2*dy^2 for the same gradient dy
        theirs = theirs / 4
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_spec_expands_like_convnetjs():
    """Net(layer_defs) builds the same layers ConvNetJS's makeLayers did, biases included."""
    for case in CASES:
        net = engine.Net(case["layer_defs"], dtype=np.float64, seed=0)
        types = [l["layer_type"] for l in case["snapshot"]["layers"]]
        assert [l.layer_type for l in net.layers] == types
        for ours, theirs in zip(net.layers, case["snapshot"]["layers"]):
            assert ours.out_shape == (theirs["out_sy"], theirs["out_sx"], theirs["out_depth"])
            if "biases" in theirs:  # bias_pref: 0.1 before a relu, else 0
                b = theirs["biases"]["w"]
                np.testing.assert_allclose(ours.biases, [b[str(i)] for i in range(len(b))])


TRAINING = [(c["name"], i) for c in CASES for i in range(len(c.get("training") or []))]


@pytest.mark.parametrize("name,index", TRAINING)
def test_trainer_updates_match_convnetjs(name, index):
    case = BY_NAME[name]
    run = case["training"][index]
    net = engine.Net.from_json(case["snapshot"], dtype=np.float64)
    opts = dict(run["options"])
    bs = opts.pop("batch_size")
    trainer = engine.Trainer(net, batch_size=bs, **opts)
    x, y = batch(case, net), labels(case)
    for _rep in range(2):
        for start in range(0, len(x), bs):
            trainer.train(x[start:start + bs], y[start:start + bs])
    assert trainer.updates == run["updates"]
    np.testing.assert_allclose(flat_weights(net.to_json()), flat_weights(run["snapshot_after"]),
                               rtol=1e-9, atol=1e-12)


def test_engine_snapshot_loads_in_convnetjs():
    """ConvNetJS's fromJSON loaded a snapshot the engine wrote and predicted the same."""
    written = json.loads((FIXTURES / "engine_written.json").read_text())
    seen = json.loads((FIXTURES / "engine_written_convnetjs_outputs.json").read_text())
    net = engine.Net.from_json(written["snapshot"], dtype=np.float64)
    x = np.array(written["inputs"]).reshape((-1,) + net.input_shape)
    out = net.forward(x).reshape(len(x), -1)
    np.testing.assert_allclose(out, np.array(seen["outputs"]), rtol=1e-10, atol=1e-12)
    # ConvNetJS wrote it back with every weight it had read.
    np.testing.assert_allclose(flat_weights(seen["reserialised"]), flat_weights(written["snapshot"]))
