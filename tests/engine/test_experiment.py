"""Experiments round-trip, bundled presets are experiment files, weights travel with them."""
import json

import numpy as np
import pytest

import engine
from engine import SnapshotError
from engine.runs.experiment import Experiment, ExperimentError, load_experiment, preset, save_experiment
from engine.runs.presets import list_presets, load_preset, load_spec_file
from engine.runs.snapshots import experiment_of, load_snapshot, load_trained, save_snapshot

SMALL = [{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 1},
         {"type": "conv", "sx": 3, "filters": 2, "activation": "relu"},
         {"type": "pool", "sx": 2},
         {"type": "softmax", "num_classes": 3}]


@pytest.mark.parametrize("name", sorted(list_presets()))
def test_every_bundled_preset_round_trips(name, tmp_path):
    e = preset(name)
    assert Experiment.from_json(e.to_json()) == e
    assert Experiment.from_json(json.loads(e.to_text())) == e
    e.save(tmp_path / "again.json")
    again = Experiment.load(tmp_path / "again.json")
    assert again == e
    again.save(tmp_path / "third.json")
    assert (tmp_path / "third.json").read_text() == (tmp_path / "again.json").read_text()
    # the bundled file is the experiment's own text: every setting spelled out
    assert list_presets()[name].read_text() == e.to_text()
    engine.infer_shapes(e.layer_defs)  # and a valid network


def test_presets_keep_their_settings():
    strong = preset("strong-convnet")
    assert strong.schedule["kind"] == "cosine" and strong.schedule["minimum"] == 2e-5
    assert strong.trainer["method"] == "adam" and strong.augment["crop"] == 24 and strong.epochs == 12
    demo = preset("convnetjs-demo")
    assert demo.trainer["eps"] == 1e-6 and demo.trainer["method"] == "adadelta"
    assert demo.trainer["batch_size"] == 20 and demo.trainer["l2_decay"] == 0.001


def test_the_apps_preset_readers_still_give_dicts():
    """Kept for the app until it reads Experiments: same keys as before, now all filled in."""
    p = load_preset("strong-convnet")
    assert p["name"] == "Strong convnet" and p["schedule"]["kind"] == "cosine"
    assert p["layer_defs"] == preset("strong-convnet").layer_defs
    assert load_spec_file(list_presets()["mlp"])["trainer"]["batch_size"] == 32


def test_unknown_settings_and_snapshots_are_refused():
    with pytest.raises(ExperimentError, match="unknown setting 'epoch'"):
        Experiment.from_json({"layer_defs": SMALL, "epoch": 3})
    with pytest.raises(ExperimentError, match="'format' is 'other'"):
        Experiment.from_json({"layer_defs": SMALL, "format": "other"})
    with pytest.raises(ExperimentError, match="this is a snapshot"):
        Experiment.from_json(engine.Net(SMALL, seed=0).to_json())


def test_an_experiment_file_carries_its_weights(tmp_path):
    exp = Experiment(SMALL, name="small", epochs=2, seed=4)
    net = exp.build_net()
    path = tmp_path / "small.json"
    save_experiment(exp, path, net)
    again, loaded = load_experiment(path)
    assert again == exp
    x = np.random.default_rng(0).random((5, 8, 8, 1), dtype=np.float32) - 0.5
    np.testing.assert_array_equal(loaded.forward(x), net.forward(x))  # float32 -> JSON -> float32
    # the same file opened as trained weights
    n2, e2, meta = load_trained(path)
    assert e2 == exp and meta["preset"] == "small"
    np.testing.assert_array_equal(load_snapshot(path)[0].forward(x), net.forward(x))
    # without weights it is an experiment, not weights
    save_experiment(exp, path)
    assert load_experiment(path) == (exp, None)
    with pytest.raises(SnapshotError, match="without trained weights"):
        load_trained(path)


def test_weights_that_do_not_fit_the_experiment_are_refused(tmp_path):
    exp = Experiment(SMALL)
    other = Experiment(SMALL[:1] + [dict(SMALL[1], filters=4)] + SMALL[2:])
    with pytest.raises(ExperimentError, match="layer 1: the experiment has conv 3x3, 2 filters"):
        save_experiment(exp, tmp_path / "x.json", other.build_net())
    path = tmp_path / "bad.json"
    path.write_text(exp.to_text(weights=other.build_net().to_json()))
    with pytest.raises(SnapshotError, match="bad.json: the weights do not fit the experiment"):
        load_experiment(path)
    path.write_text(exp.to_text(weights={"layers": "nope"}))
    with pytest.raises(SnapshotError, match="bad.json: weights: snapshot"):
        load_experiment(path)


def test_a_snapshot_restores_how_it_was_trained(tmp_path):
    exp = preset("mlp").replace(epochs=0.5, seed=9)
    net = exp.build_net()
    path = tmp_path / "net.json"
    save_snapshot(net, path, meta={"examples_seen": 10}, experiment=exp)
    loaded, again, meta = load_trained(path)
    assert again == exp and meta["examples_seen"] == 10
    assert load_snapshot(path)[1]["experiment"] == exp.to_json()  # the old reader still works
    # a ConvNetJS snapshot has no experiment
    path.write_text(json.dumps(net.to_json()))
    assert load_trained(path)[1] is None
    with pytest.raises(SnapshotError, match="the experiment does not describe these weights"):
        save_snapshot(engine.Net(SMALL, seed=0), path, experiment=exp)


def test_a_broken_stored_experiment_is_an_error_only_where_it_is_read(tmp_path):
    net = engine.Net(SMALL, seed=0)
    path = tmp_path / "net.json"
    obj = net.to_json()
    obj["workbench"] = {"experiment": {"layer_defs": SMALL, "trainer": {"method": "nope"}}}
    path.write_text(json.dumps(obj))
    load_snapshot(path)  # weights and metadata, as always
    with pytest.raises(SnapshotError, match="net.json: its experiment: unknown trainer method 'nope'"):
        load_trained(path)
    obj["workbench"] = {"experiment": Experiment(SMALL[:2] + [{"type": "softmax", "num_classes": 3}]).to_json()}
    path.write_text(json.dumps(obj))
    with pytest.raises(SnapshotError, match="does not describe its weights"):
        load_trained(path)
    assert experiment_of({}) is None


def test_data_name():
    assert Experiment(SMALL).data_name == "MNIST"
    assert Experiment(SMALL, data="/data/fashion/").data_name == "fashion"
