"""Restoring after a crash: the saved work is never saved over before the user chose, its data
loads first (nothing else can change the session meanwhile), a malformed session file is one
dialog, and runs that would train on data being replaced are refused while it loads."""
import json
import os
import socket

import pytest

from engine.cli import main as cli
from engine.runs.session_folder import Session as Folder
from tests.engine.dataset_files import write_small_mnist


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return write_small_mnist(tmp_path_factory.mktemp("data") / "small.npz", 2000, 500)


@pytest.fixture
def crashed(small, tmp_path, monkeypatch, capsys):
    """A session folder the CLI trained in, on the small data, left by a window that did not
    close: where the ``window`` fixture's window works (beside its settings in ``tmp_path``)."""
    monkeypatch.setenv("ENGINE_PROCESSES", "0")
    folder = tmp_path / "convnet-workbench-session"
    assert cli(["train", "--quiet", "--data", str(small), "--validation", "200", "--epochs", "0.2",
                "--seed", "3", "--eval-every", "120", "--session", str(folder)]) == 0
    capsys.readouterr()
    (folder / ".app-open.json").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                                        "started": "2026-11-30T12:00:00"}))
    return folder


def seen_in(folder):
    return Folder.open(folder).info["examples_seen"]


def test_the_saved_work_is_not_saved_over_before_the_user_chose(crashed, window):
    before = seen_in(crashed)
    assert before > 0
    w = window
    assert w.keeper.path == crashed and w.keeper.crashed is not None
    assert not w.keeper.save_now()  # the new window's untrained network would replace it
    w.keeper.autosave()
    assert seen_in(crashed) == before
    asked = []
    assert w.keeper.offer_restore(w, ask=lambda title, text: asked.append(text) or False) is False
    assert f"{before:,} examples" in asked[0]
    assert w.keeper.save_now()  # declined: the window's work is what is kept from now on


def test_a_restore_loads_its_data_first_then_the_work_is_back(crashed, small, window):
    before = seen_in(crashed)
    w = window
    s = w.session
    assert s.data.dataset.name == "MNIST"
    assert w.keeper.offer_restore(w, ask=lambda title, text: True)
    # done when it returns: the data loaded (behind a modal progress dialog), then the work
    assert s.data.path == str(small) and len(s.data.dataset.train) == 2000 and not s.data.busy
    assert s.examples_seen == before and s.training.last is not None
    (record,) = w.keeper.runs()
    assert record["status"] == "done"
    # and shown as if it had just trained here: its curves, its numbers, the status bar
    progress = record["curves"]["progress"]
    x, _ = w.train_tab.loss_plot.cost_s.data()
    assert len(x) == len(progress["examples_seen"]) >= 1 and x[-1] == progress["examples_seen"][-1]
    vx, vy = w.train_tab.accuracy_plot.val_s.data()
    assert len(vx) == len(record["curves"]["eval"]["examples_seen"]) >= 3 and vy[-1] == pytest.approx(record["curves"]["eval"]["validation_accuracy"][-1])
    c = w.train_tab.controls
    assert c.stat_labels["examples"].text() == f"{before:,}" and c.stat_labels["loss"].text() != "–"
    assert f"{before:,} examples" in w.status.examples.text()


@pytest.mark.parametrize("app", ["garbage", {"layers": 5, "name": ["x"], "path": 3}, {"layers": [1, 2]}])
def test_a_malformed_session_file_is_one_dialog(crashed, app, request):
    info = json.loads((crashed / "session.json").read_text())
    info["app"] = app
    (crashed / "session.json").write_text(json.dumps(info))
    w = request.getfixturevalue("window")  # the window starts in the folder as it now is
    shown = []
    w.session.problem.disconnect()
    w.session.problem.connect(lambda title, text: shown.append((title, text)))
    layers = w.doc.layers
    done = w.keeper.offer_restore(w, ask=lambda title, text: True)
    # either restored from the checkpoint's own experiment, or one dialog and nothing changed
    if done:
        assert w.doc.layers and all(isinstance(d, dict) for d in w.doc.layers) and w.session.examples_seen > 0
        w.build_tab.grab()
    else:
        assert shown and shown[0][0] == "Cannot restore the session" and w.doc.layers == layers


def test_runs_that_would_train_on_replaced_data_wait_for_it(small, qtbot, window):
    w = window
    s, st = w.session, w.experiments.studies
    failed = []
    st.raceFailed.connect(failed.append)
    st.rateFailed.connect(failed.append)
    place = w.experiments.runs_place
    with qtbot.waitSignal(s.data.changed, timeout=30000):
        assert s.open_dataset(str(small))
        assert s.data.busy and not place.race_button.isEnabled() and not place.sweep_button.isEnabled()
        assert not st.race(["sgd"], seeds=1, epochs=0.01) and not st.find_rate()
        assert len(failed) == 2 and all("still loading" in m for m in failed)
        with pytest.raises(Exception, match="still loading"):
            st.sweep([{"learning_rate": 0.01}], 0.01)
    assert place.race_button.isEnabled() and place.sweep_button.isEnabled()


def test_work_put_away_while_its_data_loads_loads_it_again_when_it_comes_back(small, qtbot, window):
    """The tour puts the work away (keepsake) and back (restore): data that was loading then
    is loaded again, so that the settings never name data other than the data in use."""
    w = window
    s = w.session
    exp = s.experiment().replace(data=str(small))
    assert s.load_experiment(exp) and s.data.busy
    k = s.keepsake()
    with qtbot.waitSignal(s.data.changed, timeout=30000):
        s.restore(k)
        assert s.data.busy  # dropped by restore, and started again
    assert s.data.path == str(small) == s.settings.data and len(s.data.dataset.train) == 2000
