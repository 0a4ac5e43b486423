"""Sessions in the app: a run stopped and resumed in the window gives the weights of one run
without a stop, the same as the CLI's --resume; a session folder opens, saves as, and comes
back after the app was killed."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from engine.cli import main as cli
from engine.data.formats import load
from engine.runs import checkpoint
from engine.runs.experiment import preset
from engine.runs.records import list_runs, load_run
from engine.runs.session_folder import Session as Folder
from engine.runs.snapshots import load_snapshot
from tests.engine.dataset_files import write_small_mnist

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    """4,000 MNIST training and 1,000 test images as an .npz (an epoch takes a second)."""
    return write_small_mnist(tmp_path_factory.mktemp("data") / "mnist-small.npz")


@pytest.fixture
def small_window(qtbot, small_mnist, tmp_path):
    """A window on the small dataset, its settings (and so its session) in ``tmp_path``."""
    from PySide6.QtCore import QSettings

    from workbench.window.main_window import MainWindow
    w = MainWindow(load(str(small_mnist)), settings=QSettings(str(tmp_path / "app.ini"), QSettings.IniFormat))
    w.ask_to_save = False
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.session.shutdown()


def arrays(net):
    return [a.copy() for a in net.state_arrays()]


def snapshot_arrays(path):
    net, _ = load_snapshot(path)
    return net.state_arrays()


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-6)


def train_until_done(s, qtbot, epochs=None, timeout=120000):
    with qtbot.waitSignal(s.training.finished, timeout=timeout) as blocker:
        assert s.training.train(epochs=epochs)
    assert blocker.args == ["done"]


def test_the_app_resumes_a_cli_session_as_the_cli_does(small_window, small_mnist, tmp_path, qtbot,
                                                        capsys, monkeypatch):
    """Half an epoch in the CLI, a session opened in the app, Train: the weights of the CLI's
    own --resume, and of one uninterrupted epoch (to 1e-6)."""
    monkeypatch.setenv("ENGINE_PROCESSES", "0")
    common = ["--quiet", "--data", small_mnist, "--validation", 1000, "--seed", 7]
    assert cli(["train", *map(str, common), "--epochs", "1", "--out", str(tmp_path / "once.json")]) == 0
    assert cli(["train", *map(str, common), "--epochs", "0.5", "--session", str(tmp_path / "cli")]) == 0
    Folder.open(tmp_path / "cli").save_as(tmp_path / "app")  # the same half epoch, for the app
    assert cli(["train", "--quiet", "--resume", str(tmp_path / "cli"), "--epochs", "0.5",
                "--out", str(tmp_path / "twice.json")]) == 0
    capsys.readouterr()
    w = small_window
    s = w.session
    assert w.experiments.open_session(str(tmp_path / "app"))
    assert s.examples_seen == 1500 and s.trained and w.keeper.path == tmp_path / "app"
    assert [r["id"] for r in w.keeper.runs()] == ["run-0001"]
    train_until_done(s, qtbot)  # Train: the experiment's half epoch again, to one epoch
    assert s.examples_seen == 3000
    assert_same(arrays(s._net), snapshot_arrays(tmp_path / "twice.json"))
    assert_same(arrays(s._net), snapshot_arrays(tmp_path / "once.json"))
    # the same run, in two stretches, kept in the folder the app works in
    (record,) = list_runs(tmp_path / "app")
    assert record["id"] == "run-0001" and record["status"] == "done" and len(record["segments"]) == 2
    assert record["curves"]["progress"]["examples_seen"][-1] == 3000


def test_stop_and_train_again_in_the_app_equals_one_run(small_window, small_mnist, tmp_path, qtbot,
                                                        capsys, monkeypatch):
    """Stopped anywhere, Train goes on exactly: the weights of the CLI's uninterrupted epoch."""
    monkeypatch.setenv("ENGINE_PROCESSES", "0")
    assert cli(["train", "--quiet", "--data", str(small_mnist), "--validation", "1000", "--seed", "7",
                "--epochs", "1", "--out", str(tmp_path / "once.json")]) == 0
    capsys.readouterr()
    w = small_window
    s = w.session
    exp = preset("convnetjs-demo").replace(data=str(small_mnist), validation=1000, seed=7, epochs=0.5)
    s.load_experiment(exp)
    s.reset_weights()  # the seed's weights (the same layers as before kept the window's)
    s.training.train(paused=True)
    s.training.step(7)  # seven batches, then stopped: somewhere in the first half epoch
    qtbot.waitUntil(lambda: s.examples_seen == 140, timeout=30000)
    s.training.stop(wait=True)
    stopped = s.examples_seen
    train_until_done(s, qtbot)  # to the experiment's half epoch
    assert s.examples_seen == 1500
    train_until_done(s, qtbot)  # and half an epoch more
    assert s.examples_seen == 3000
    assert_same(arrays(s._net), snapshot_arrays(tmp_path / "once.json"))
    (record,) = w.keeper.runs()
    assert [(g["examples_from"], g["examples_to"]) for g in record["segments"]] == \
        [(0, stopped), (stopped, 1500), (1500, 3000)]
    on_disk = load_run(w.keeper.path, record["id"])
    assert on_disk["status"] == "done" and on_disk["metrics"]["examples_seen"] == 3000


def test_a_setting_changed_while_training_is_recorded_where_it_happened(small_window, small_mnist, qtbot):
    w = small_window
    s = w.session
    s.load_experiment(preset("convnetjs-demo").replace(data=str(small_mnist), validation=1000, epochs=5,
                                                       trainer=dict(preset("convnetjs-demo").trainer,
                                                                    method="sgd", learning_rate=0.01)))
    s.training.train()
    qtbot.waitUntil(lambda: s.examples_seen >= 200, timeout=30000)
    w.train_tab.controls.lr.setValue(0.005)  # typed while it trains
    qtbot.waitUntil(lambda: any(c["setting"] == "learning_rate" for c in s.training.current.record["changes"]),
                    timeout=10000)
    (change,) = [c for c in s.training.current.record["changes"] if c["setting"] == "learning_rate"]
    assert change["from"] == 0.01 and change["to"] == 0.005 and change["examples_seen"] >= 200
    assert s.trainer.learning_rate == 0.005
    # a marker line on the Train plots where it changed
    overlays = w.experiments.overlays
    qtbot.waitUntil(lambda: len(overlays.change_lines) == 1, timeout=5000)
    c, lines = overlays.change_lines[0]
    assert c["setting"] == "learning_rate" and lines[0][1].value() == change["examples_seen"]
    s.training.stop()


def test_save_session_as_copies_the_runs_and_works_there(small_window, small_mnist, tmp_path, qtbot):
    w = small_window
    s = w.session
    s.load_experiment(preset("convnetjs-demo").replace(data=str(small_mnist), validation=1000, epochs=5))
    s.training.train()
    qtbot.waitUntil(lambda: s.examples_seen >= 300, timeout=30000)
    old = w.keeper.path
    assert w.experiments.save_session_as(str(tmp_path / "copy"))  # while it trains
    assert w.keeper.path == tmp_path / "copy" and s.training.running
    qtbot.waitUntil(lambda: s.examples_seen >= 600, timeout=30000)
    s.training.stop()
    (record,) = list_runs(tmp_path / "copy")
    assert record["metrics"]["examples_seen"] == s.examples_seen  # the run went on saving there
    assert Folder.open(tmp_path / "copy").info["examples_seen"] == s.examples_seen
    assert Folder.open(old).info["examples_seen"] < s.examples_seen  # the old folder stayed behind
    assert not (old / ".app-open.json").exists() and (tmp_path / "copy" / ".app-open.json").exists()


def test_a_folder_that_is_not_a_session_is_refused_and_nothing_changes(small_window, tmp_path, qtbot,
                                                                       monkeypatch):
    from PySide6.QtWidgets import QMessageBox
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[1:3]))
    w = small_window
    before = w.keeper.path
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hello")
    assert not w.experiments.open_session(str(tmp_path / "junk"))
    assert w.keeper.path == before
    assert shown and shown[0][0] == "Cannot open the session" and "not a session" in shown[0][1]


def test_closing_saves_and_the_next_window_starts_in_the_same_session(small_window, small_mnist, tmp_path,
                                                                      qtbot):
    from PySide6.QtCore import QSettings

    from workbench.window.main_window import MainWindow
    w = small_window
    s = w.session
    s.load_experiment(preset("convnetjs-demo").replace(data=str(small_mnist), validation=1000, epochs=0.1))
    train_until_done(s, qtbot)
    folder = w.keeper.path
    w.close()
    assert not (folder / ".app-open.json").exists()  # closed properly: nothing to restore
    w2 = MainWindow(load(str(small_mnist)), settings=QSettings(str(tmp_path / "app.ini"), QSettings.IniFormat))
    qtbot.addWidget(w2)
    assert w2.keeper.path == folder and w2.keeper.crashed is None
    assert [r["status"] for r in w2.keeper.runs()] == ["done"]
    w2.ask_to_save = False
    w2.session.shutdown()


KILLED_APP = r"""
import json, pathlib, sys, time
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from engine.data import load_mnist
from workbench import theme
from workbench.main_window import MainWindow
theme.apply(app)
tmp, autosave = pathlib.Path(sys.argv[1]), float(sys.argv[2])
w = MainWindow(load_mnist(), settings=QSettings(str(tmp / "app.ini"), QSettings.IniFormat))
w.ask_to_save = False
w.keeper.set_autosave_seconds(autosave)
s = w.session
s.load_experiment(s.experiment().replace(epochs=100, seed=3))  # the demo network
s.training.report.connect(lambda r: r["tag"] == "progress" and print(
    json.dumps({"t": time.time(), "seen": r["examples_seen"]}), flush=True))
w.resize(1280, 800)
w.show()
QTimer.singleShot(0, s.training.train)
app.exec()
"""


def test_a_killed_app_restores_its_session_with_at_most_an_autosave_of_work_lost(qtbot, tmp_path, dataset):
    """The real app trains in a process of its own; SIGKILL; the next start offers the work
    as last saved, restores it, and Train goes on from there."""
    from PySide6.QtCore import QSettings

    from workbench.window.main_window import MainWindow
    autosave = 2.0
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", KILLED_APP, str(tmp_path), str(autosave)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = []
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(json.loads(line))
            if lines[-1]["t"] - lines[0]["t"] >= 3.5 * autosave:  # a few autosaves in
                break
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(lines) > 5, "the app did not train"
    folder = tmp_path / "convnet-workbench-session"
    assert (folder / ".app-open.json").exists()  # it did not close
    saved = Folder.open(folder)
    seen = saved.info["examples_seen"]
    assert seen > 0
    w = MainWindow(dataset, settings=QSettings(str(tmp_path / "app.ini"), QSettings.IniFormat))
    w.ask_to_save = False
    qtbot.addWidget(w)
    assert w.keeper.path == folder and w.keeper.crashed is not None
    asked = []
    assert w.keeper.offer_restore(w, ask=lambda title, text: asked.append(text) or True)
    assert "did not close properly" in asked[0] and f"{seen:,} examples" in asked[0]
    s = w.session
    assert s.examples_seen == seen
    ck = checkpoint.read(folder / saved.info["checkpoint"])
    assert_same(arrays(s._net), [ck["arrays"][f"net/{i}"] for i in range(len(s._net.state_arrays()))])
    # work lost: from when the app had trained what was saved to when it was killed
    reached = min(l["t"] for l in lines if l["seen"] >= seen)
    assert killed_at - reached <= autosave + 2.0, (killed_at - reached, seen, lines[-1])
    (record,) = w.keeper.runs()
    assert record["status"] == "interrupted"
    # Train goes on with that run, from there
    s.set_epochs(seen / s.n_train() + 0.01)
    with qtbot.waitSignal(s.training.finished, timeout=60000):
        s.training.train()
    assert s.examples_seen > seen
    (record,) = w.keeper.runs()
    assert record["status"] == "done" and len(record["segments"]) == 2
    assert record["segments"][1]["examples_from"] == seen
    s.shutdown()
