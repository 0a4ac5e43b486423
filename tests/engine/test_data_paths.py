"""An experiment's data path in files: relative to the file's folder when the data lies inside it."""
import json
import os

import numpy as np

from engine.runs.experiment import Experiment, data_for_file, data_from_file, load_experiment, save_experiment
from engine.runs.snapshots import load_trained, save_snapshot

from .dataset_files import images, write_npz

SMALL = [{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 1}, {"type": "softmax", "num_classes": 3}]


def test_data_inside_the_folder_is_written_relative_and_read_back_absolute(tmp_path):
    data = tmp_path / "data" / "shapes.npz"
    assert data_for_file(str(data), tmp_path) == "data/shapes.npz"
    assert data_from_file("data/shapes.npz", tmp_path) == str(data)
    # outside the folder: absolute both ways
    other = tmp_path.parent / "elsewhere" / "x.npz"
    assert data_for_file(str(other), tmp_path / "sub") == str(other)
    assert data_from_file(str(other), tmp_path) == str(other)
    assert data_for_file(None, tmp_path) is None and data_from_file(None, tmp_path) is None
    # an IDX pair, each part on its own
    pair = f"{tmp_path}/a-images,{tmp_path}/a-labels"
    assert data_for_file(pair, tmp_path) == "a-images,a-labels"
    assert data_from_file("a-images,a-labels", tmp_path) == pair
    # a relative path in memory is relative to the working directory
    here = os.getcwd()
    try:
        os.chdir(tmp_path)
        assert data_for_file("data/shapes.npz", tmp_path) == "data/shapes.npz"
        assert data_for_file("data/shapes.npz", tmp_path / "data") == "shapes.npz"
    finally:
        os.chdir(here)


def test_an_experiment_folder_moved_as_a_whole_still_finds_its_data(tmp_path):
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    write_npz(folder / "data" / "shapes.npz", images(30))
    exp = Experiment(SMALL, data=str(folder / "data" / "shapes.npz"))
    exp.save(folder / "exp.json")
    assert json.loads((folder / "exp.json").read_text())["data"] == "data/shapes.npz"
    moved = tmp_path / "moved"
    folder.rename(moved)
    again = Experiment.load(moved / "exp.json")
    assert again.data == str(moved / "data" / "shapes.npz")
    assert len(again.load_data().train) > 0


def test_experiments_with_weights_and_snapshots_resolve_against_their_own_folder(tmp_path):
    exp = Experiment(SMALL, data=str(tmp_path / "d.npz"))
    net = exp.build_net(seed=0)
    save_experiment(exp, tmp_path / "with-weights.json", net)
    assert json.loads((tmp_path / "with-weights.json").read_text())["data"] == "d.npz"
    e2, _ = load_experiment(tmp_path / "with-weights.json")
    assert e2.data == str(tmp_path / "d.npz")
    save_snapshot(net, tmp_path / "snap.json", experiment=exp)
    stored = json.loads((tmp_path / "snap.json").read_text())["workbench"]["experiment"]
    assert stored["data"] == "d.npz"
    net3, e3, _ = load_trained(tmp_path / "snap.json")
    assert e3.data == str(tmp_path / "d.npz")
    np.testing.assert_array_equal(net3.params_and_grads()[0]["params"], net.params_and_grads()[0]["params"])
    # an absolute path outside stays absolute
    outside = str(tmp_path.parent / "shared" / "d.npz")
    Experiment(SMALL, data=outside).save(tmp_path / "abs.json")
    assert json.loads((tmp_path / "abs.json").read_text())["data"] == outside
    assert Experiment.load(tmp_path / "abs.json").data == outside


def test_the_cli_reads_a_spec_files_data_relative_to_the_spec(tmp_path, monkeypatch):
    from engine.cli import experiment_from_args, parser
    (tmp_path / "project").mkdir()
    write_npz(tmp_path / "project" / "d.npz", images(30))
    (tmp_path / "project" / "exp.json").write_text(json.dumps({"layer_defs": SMALL, "data": "d.npz"}))
    monkeypatch.chdir(tmp_path)  # elsewhere than the spec
    a = parser().parse_args(["train", "--spec", "project/exp.json"])
    assert experiment_from_args(a).data == str(tmp_path / "project" / "d.npz")
    a = parser().parse_args(["train", "--spec", "project/exp.json", "--data", "other.npz"])
    # a flag is relative to the working directory, and kept absolute (a session made here is
    # opened from elsewhere: the app, another shell)
    assert experiment_from_args(a).data == str(tmp_path / "other.npz")
