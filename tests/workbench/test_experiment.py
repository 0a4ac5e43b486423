"""The experiment in the app: opening applies all of it, the Train tab shows and edits it,
saving writes all of it, and snapshots bring theirs along."""
import json

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from engine.runs.experiment import Experiment, preset
from engine.runs.presets import list_presets

from .conftest import TINY


@pytest.mark.parametrize("name", sorted(list_presets()))
def test_every_preset_opened_and_saved_gives_back_the_same_experiment(window, tmp_path, name):
    assert window.files.open_preset(name)
    path = tmp_path / f"{preset(name).name}.json"  # saved, a network takes its file's name
    assert window.files.save_as(str(path))
    assert Experiment.load(path) == preset(name)
    # and once more through the file itself
    assert window.files.open_experiment(str(path))
    again = tmp_path / "again.json"
    assert window.files.save_as(str(again))
    assert Experiment.load(again) == preset(name).replace(name="again")


def test_opening_a_preset_applies_all_of_it(window, qtbot):
    c = window.train_tab.controls
    assert window.files.open_preset("strong-convnet")
    s = window.session
    assert s.settings.schedule["kind"] == "cosine" and s.settings.epochs == 12
    # the Train tab shows it
    assert c.method.currentText() == "adam" and c.lr.value() == pytest.approx(0.002)
    assert c.batch.value() == 64 and c.l2.value() == pytest.approx(0.0005)
    assert c.schedule.currentText() == "cosine"
    assert c.minimum.value() == pytest.approx(2e-5) and c.total.text() == "the whole run"
    assert c.epochs.value() == 12 and c.validation.value() == 5000 and c.shift.value() == 0
    assert c.total.isVisibleTo(c) and c.minimum.isVisibleTo(c)
    assert not c.factor.isVisibleTo(c) and not c.every.isVisibleTo(c)
    # and a run uses it: adam, batches of 64, the cosine over twelve epochs of 55,000
    assert s.training.step()
    qtbot.waitUntil(lambda: s.examples_seen == 64, timeout=10000)
    run = s.training.run
    assert run.schedule.kind == "cosine" and run.schedule.total == 12 * 55000
    assert run.schedule.minimum == pytest.approx(2e-5) and run.schedule.base == pytest.approx(0.002)
    assert s.trainer.method == "adam" and run.augment.crop == 24 and run.epochs == 12
    s.training.stop()


def test_train_tab_edits_the_schedule_and_the_run_follows(tiny, qtbot):
    w, s = tiny, tiny.session
    c = w.train_tab.controls
    c.schedule.setCurrentText("step")
    assert s.settings.schedule["kind"] == "step"
    assert c.factor.isVisibleTo(c) and not c.minimum.isVisibleTo(c)
    c.method.setCurrentIndex(c.method.findData("sgd"))
    c.lr.setValue(0.02)
    c.factor.setValue(0.5)
    c.every.setValue(2000)
    assert s.settings.schedule == {"kind": "step", "base": None, "factor": 0.5, "every": 2000, "total": None,
                                   "minimum": 0.0}
    reports = []
    s.training.report.connect(reports.append)
    w.tabs.setCurrentWidget(w.train_tab)
    qtbot.mouseClick(c.train_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: any(r["examples_seen"] > 4000 for r in reports), timeout=10000)
    r = [r for r in reports if r["examples_seen"] > 4000][-1]
    # a report carries the rate of the last batch it trained, which started a batch earlier
    last_batch = r["examples_seen"] - s.trainer.batch_size
    assert r["learning_rate"] == pytest.approx(0.02 * 0.5 ** (last_batch // 2000), rel=0.5)
    assert r["learning_rate"] < 0.02 / 2
    # back to a constant rate while training: from the next batch
    c.schedule.setCurrentText("constant")
    assert s.settings.schedule is None and s.training.run.schedule is None and s.trainer.learning_rate == 0.02
    n = len(reports)
    qtbot.waitUntil(lambda: len(reports) > n + 1, timeout=5000)
    assert reports[-1]["learning_rate"] == pytest.approx(0.02)
    s.training.stop()


def test_augmentation_validation_and_epochs_from_the_train_tab(tiny, qtbot):
    w, s = tiny, tiny.session
    c = w.train_tab.controls
    c.shift.setValue(2)
    c.flip.setChecked(True)
    c.validation.setValue(20000)
    c.batch.setValue(200)
    c.epochs.setValue(0.1)
    exp = s.experiment()
    assert exp.augment == {"crop": 24, "shift": 2, "flip": True}
    assert exp.validation == 20000 and exp.epochs == pytest.approx(0.1)
    assert "random 24x24 crop" in c.crop.text()
    qtbot.mouseClick(c.train_button, Qt.LeftButton)
    assert s.training.run.augment.shift == 2 and s.training.run.augment.flip and len(s.training.run.train_set) == 40000
    qtbot.waitUntil(lambda: not s.training.running, timeout=20000)
    assert s.examples_seen == 4000 and c.message.text() == "Finished."
    # Train again: as many epochs more
    qtbot.mouseClick(c.train_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not s.training.running, timeout=20000)
    assert s.examples_seen == 8000


def test_saved_weights_open_with_their_experiment(window, qtbot, tmp_path):
    s = window.session
    assert window.files.open_preset("strong-convnet")
    window.train_tab.controls.shift.setValue(1)
    assert s.training.step()
    qtbot.waitUntil(lambda: s.examples_seen == 64, timeout=10000)
    s.training.stop()
    path = tmp_path / "strong-weights.json"
    assert window.files.save_weights(str(path))
    saved = s.weights.params()
    meta = json.loads(path.read_text())["workbench"]
    assert meta["examples_seen"] == 64 and Experiment.from_json(meta["experiment"]) == s.experiment()
    assert window.files.open_preset("mlp")
    assert window.files.open_snapshot(str(path))
    exp = s.experiment()
    assert exp == preset("strong-convnet").replace(augment={"crop": 24, "shift": 1, "flip": False})
    assert window.doc.layers == preset("strong-convnet").layer_defs  # as written, not expanded
    for a, b in zip(s.weights.params(), saved):
        np.testing.assert_array_equal(a, b)
    assert not s.weights.untrained and window.train_tab.controls.shift.value() == 1
    # an experiment whose layers are not exactly the snapshot's: the snapshot's own layers win
    obj = json.loads(path.read_text())
    obj["workbench"]["experiment"]["layer_defs"][5]["drop_prob"] = 0.5
    path.write_text(json.dumps(obj))
    assert window.files.open_snapshot(str(path))
    assert [d.get("drop_prob") for d in window.doc.layers if d["type"] == "dropout"] == [0.3]
    assert s.settings.trainer == preset("strong-convnet").trainer


def test_a_snapshot_without_an_experiment_brings_its_trainer(window):
    assert window.files.open_preset("mlp")
    assert window.files.open_trained_demo()
    s = window.session
    assert s.settings.trainer["method"] == "adadelta" and s.settings.trainer["eps"] == 1e-6
    assert window.doc.name == "ConvNetJS MNIST demo" and not s.weights.untrained


def test_a_bad_experiment_file_changes_nothing(window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    before = window.session.experiment()
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"layer_defs": TINY, "schedule": {"kind": "weekly"}}))
    assert not window.files.open_experiment(str(path))
    assert "bad.json" in shown[0] and "unknown kind 'weekly'" in shown[0]
    assert window.session.experiment() == before


def test_changed_settings_are_unsaved_changes(window, tmp_path):
    s = window.session
    assert not s.modified and "*" not in window.status.network.text()
    window.train_tab.controls.l2.setValue(0.002)
    assert s.modified and "*" in window.status.network.text()
    assert window.files.save_as(str(tmp_path / "x.json"))
    assert not s.modified and "*" not in window.status.network.text()
    assert Experiment.load(tmp_path / "x.json").trainer["l2_decay"] == 0.002


def test_a_schedule_with_its_own_base_rate_is_edited_in_the_learning_rate_field(window):
    s, c = window.session, window.train_tab.controls
    exp = preset("mlp").replace(schedule={"kind": "step", "base": 0.04, "factor": 0.5, "every": 1000})
    assert s.load_experiment(exp)
    assert c.lr.value() == pytest.approx(0.04) and s.learning_rate == 0.04
    c.lr.setValue(0.08)
    assert s.settings.schedule["base"] == 0.08 and s.settings.trainer["learning_rate"] == 0.05
    c.schedule.setCurrentText("constant")
    assert c.lr.value() == pytest.approx(0.05)


def test_an_experiment_whose_data_has_moved_opens_its_network_and_says_so(window, tmp_path, qtbot,
                                                                            data_dialogs):
    s = window.session
    mnist = s.data.dataset
    path = tmp_path / "elsewhere.json"
    path.write_text(json.dumps({"layer_defs": TINY, "name": "elsewhere", "data": "no-such-folder"}))
    assert window.files.open_experiment(str(path))
    assert window.doc.layers == TINY  # the network is open
    qtbot.waitUntil(lambda: len(data_dialogs) > 0, timeout=5000)
    kind, _, text = data_dialogs[0]
    assert kind == "locate"  # offered to locate it, with the path it was looked for at
    assert str(tmp_path / "no-such-folder") in text and "not there" in text and "Keep" not in text
    assert s.data.dataset is mnist and s.data.path is None and s.settings.data is None
    assert not s.data.busy


def test_a_snapshot_with_a_broken_experiment_is_refused(window, tmp_path, monkeypatch):
    import engine
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    before = window.session.experiment()
    obj = engine.Net(TINY, seed=0).to_json()
    obj["workbench"] = {"experiment": {"layer_defs": TINY, "epochs": -1}}
    (tmp_path / "w.json").write_text(json.dumps(obj))
    assert not window.files.open_snapshot(str(tmp_path / "w.json"))
    assert shown[0].startswith("w.json: its experiment:") and "'epochs'" in shown[0]
    assert window.session.experiment() == before


def test_an_experiment_file_with_weights_opens_with_them(window, tmp_path):
    from engine.runs.experiment import save_experiment
    exp = preset("mlp").replace(epochs=2)
    net = exp.build_net(seed=5)
    path = tmp_path / "mlp-trained.json"
    save_experiment(exp, path, net)
    assert window.files.open_path(str(path))
    s = window.session
    # an experiment file's network is called by the file's name
    assert s.experiment() == exp.replace(name="mlp-trained") and window.doc.layers == exp.layer_defs
    assert window.doc.path is None  # Save asks where: the experiment alone must not replace the weights
    assert not s.weights.untrained
    for a, b in zip(s.weights.params(), [pg["params"] for pg in net.params_and_grads()]):
        np.testing.assert_array_equal(a, b)


def test_weights_saved_while_the_layers_are_invalid_carry_their_own_layers(window, tmp_path):
    from engine.runs.snapshots import load_trained
    window.doc.select(2)
    window.build_tab.properties.editors["sx"][1].setValue(40)  # a pool window larger than its input
    assert not window.doc.valid
    path = tmp_path / "w.json"
    assert window.files.save_weights(str(path))
    net, exp, _ = load_trained(path)
    assert exp.layer_defs == preset("convnetjs-demo").layer_defs and exp.misfit(net) is None
