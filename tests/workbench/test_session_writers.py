"""Session folders in the app that a user (or a fault) may have broken, and that several
writers may want at once (issue #20): the window starts on a damaged folder and leaves it
as it was; two windows never share a folder; two windows and two ``train --resume`` on one
folder lose nothing; a save that fails asks where else to keep the work."""
import errno
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

from engine.cli import main as cli
from engine.data.formats import load
from engine.runs.experiment import preset
from engine.runs.records import list_runs
from engine.runs.session_folder import Session as Folder
from tests.engine.dataset_files import write_small_mnist
from tests.engine.test_session_trust import failing_in  # one way to make saves in a folder fail
from tests.workbench.conftest import TINY

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """2,000 MNIST training and 500 test images, and a session the CLI trained a little on it:
    ``(data path, dataset, experiment, session folder)``."""
    root = tmp_path_factory.mktemp("writers")
    data = write_small_mnist(root / "small.npz", 2000, 500)
    exp = preset("convnetjs-demo").replace(layer_defs=TINY, name="tiny", data=str(data), validation=500,
                                           seed=3, epochs=0.1)
    exp.save(root / "tiny.json")
    session = root / "session"
    assert cli(["train", "--quiet", "--spec", str(root / "tiny.json"), "--session", str(session)]) == 0
    return data, load(str(data)), exp, session


def make_window(qtbot, dataset, settings_path, folder=None):
    from PySide6.QtCore import QSettings

    from workbench.state.keeping import FOLDER_KEY
    from workbench.window.main_window import MainWindow
    settings = QSettings(str(settings_path), QSettings.IniFormat)
    if folder is not None:
        settings.setValue(FOLDER_KEY, str(folder))
        settings.sync()
    w = MainWindow(dataset, settings=settings)
    w.ask_to_save = False
    qtbot.addWidget(w)
    return w


def files_of(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(pathlib.Path(path).rglob("*"))
            if p.is_file() and p.name != ".session.lock"}


def saved_weights(folder):
    ck = Folder.open(folder).checkpoint()
    return [ck["arrays"][k] for k in sorted((k for k in ck["arrays"] if k.startswith("net/")),
                                            key=lambda k: int(k.split("/")[1]))]


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-6)


def train_until_done(s, qtbot, epochs):
    with qtbot.waitSignal(s.training.finished, timeout=120000):
        assert s.training.train(epochs=epochs)


@pytest.mark.parametrize("changes", [{"version": "1"}, {"checkpoint": [1, 2]}, {"checkpoint": 5},
                                     {"checkpoint": "../base/checkpoint-000001.npz"},
                                     {"generation": -5}, {"best": "x"}])
def test_the_app_starts_on_a_damaged_session_folder_and_leaves_it_as_it_was(small, tmp_path, qtbot,
                                                                            changes):
    """Before: ``TypeError: '>' not supported between instances of 'str' and 'int'`` (or
    ``unsupported operand type(s) for /``) and no window."""
    import shutil
    folder = tmp_path / "convnet-workbench-session"  # where a window with these settings works
    shutil.copytree(small[3], folder)
    info = json.loads((folder / "session.json").read_text())
    info.update(changes)
    (folder / "session.json").write_text(json.dumps(info))
    before = files_of(folder)
    w = make_window(qtbot, small[1], tmp_path / "app.ini")
    try:
        k = w.keeper
        assert k.path is not None and k.path != folder and k.path.parent == folder.parent
        assert k.path.name.startswith("session-")
        assert k.notice and str(folder) in k.notice and "left as it" in k.notice and str(k.path) in k.notice
        assert k.save_now()
        w.close()
        assert files_of(folder) == before
    finally:
        w.session.shutdown()


def test_windows_started_in_the_same_second_get_folders_of_their_own(small, tmp_path, qtbot):
    """Before: the fallback folder was ``session-YYYYmmdd-HHMMSS``, to the second, so a third
    window shared the second's (and in one process a second window shared the first's)."""
    windows = [make_window(qtbot, small[1], tmp_path / "app.ini") for _ in range(3)]
    try:
        paths = [w.keeper.path for w in windows]
        assert len(set(paths)) == 3 and paths[0] == tmp_path / "convnet-workbench-session"
        for w in windows:
            assert w.keeper.save_now()
        for _w, p in zip(windows, paths):
            assert Folder.open(p).info["app"]["examples_seen"] == 0
        # the first folder is in use: another window cannot open it, and says by whom
        shown = []
        windows[1].session.problem.disconnect()
        windows[1].session.problem.connect(lambda t, x: shown.append((t, x)))
        assert not windows[1].keeper.open_folder(paths[0])
        assert shown and shown[0][0] == "Cannot open the session" and f"process {os.getpid()}" in shown[0][1]
        windows[0].close()  # released: now it can
        assert windows[1].keeper.open_folder(paths[0])
    finally:
        for w in windows:
            w.session.shutdown()


RESUME = ["-m", "engine", "train", "--quiet", "--resume"]


def one_round(small, tmp_path, qtbot, windows_first):
    """Two ``train --resume`` and two windows on one session folder, at once."""
    _, dataset, exp, base = small
    import shutil
    folder = tmp_path / "shared"
    shutil.copytree(base, folder)
    env = dict(os.environ, PYTHONPATH=str(ROOT), ENGINE_PROCESSES="0")
    procs = [subprocess.Popen([sys.executable, *RESUME, str(folder), "--epochs", "0.05",
                               "--out", str(tmp_path / f"cli{i}.json")], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    try:
        if not windows_first:  # a CLI has the folder before the windows start
            deadline = time.monotonic() + 120
            pids = {f'"pid": {p.pid},'.encode() for p in procs}
            while time.monotonic() < deadline and not any(
                    pid in (folder / ".session.lock").read_bytes() for pid in pids):
                time.sleep(0.02)
        windows = [make_window(qtbot, dataset, tmp_path / f"app{i}.ini", folder) for i in range(2)]
        paths = [w.keeper.path for w in windows]
        assert None not in paths and paths[0] != paths[1]
        live = []
        for w in windows:
            s = w.session
            s.load_experiment(exp.replace(epochs=0.05))
            train_until_done(s, qtbot, 0.05)
            live.append([a.copy() for a in s._net.state_arrays()])
            w.close()
            s.shutdown()
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    # every window's weights are in the folder it worked in
    for path, weights in zip(paths, live):
        assert_same(saved_weights(path), weights)
    # every CLI either trained and kept its run, or was told at once that the folder is in use
    trained = 0
    for i, (p, (out, err)) in enumerate(zip(procs, outs)):
        assert "Traceback" not in err and "No such file" not in err, err
        if p.returncode == 0:
            trained += 1
            result = json.loads(out.strip().splitlines()[-1])
            assert (tmp_path / f"cli{i}.json").exists()
            runs = {r["id"]: r for r in list_runs(folder)}
            assert runs[result["run"]]["metrics"]["examples_seen"] >= result["examples_seen"] or \
                runs[result["run"]]["metrics"]["examples_seen"] == result["examples_seen"]
        else:
            assert p.returncode == 2, err
            lines = err.strip().splitlines()
            assert len(lines) == 1 and "is in use by process" in lines[0], err
    assert not list(folder.glob(".*.tmp")) and not list(folder.glob("checkpoint-*.npz"))[1:]
    return trained, paths


@pytest.mark.parametrize("rnd", range(2))
def test_two_windows_and_two_resumes_on_one_folder_lose_nothing(small, tmp_path, qtbot, rnd):
    trained, _ = one_round(small, tmp_path, qtbot, windows_first=rnd % 2 == 0)
    if rnd % 2 == 1:  # a CLI had the folder first: it trained (a window may have come after it)
        assert trained >= 1


@pytest.mark.slow
@pytest.mark.parametrize("rnd", range(20))
def test_two_windows_and_two_resumes_on_one_folder_lose_nothing_20_times(small, tmp_path, qtbot, rnd):
    one_round(small, tmp_path, qtbot, windows_first=rnd % 2 == 0)


# -- a save that fails: tests.engine.test_session_trust.failing_in ---------------------------------


def test_a_run_whose_save_fails_asks_and_saves_elsewhere(small, tmp_path, qtbot, monkeypatch):
    """Before: a line in the status bar, the weights in memory only, lost on close."""
    from PySide6.QtWidgets import QFileDialog, QMessageBox
    w = make_window(qtbot, small[1], tmp_path / "app.ini")
    s, k = w.session, w.keeper
    old = k.path
    s.load_experiment(small[2].replace(epochs=0.05))
    assert k.save_now()
    before = files_of(old)
    monkeypatch.setattr("tempfile.mkstemp",
                        failing_in(old, OSError(errno.ENOSPC, "No space left on device")))
    asked = []

    def answer(box):  # the dialog, answered: its "Save elsewhere…" button
        asked.append((box.windowTitle(), box.text(), [b.text() for b in box.buttons()]))
        (button,) = [b for b in box.buttons() if b.text() == "Save elsewhere\u2026"]
        button.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", answer)
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **kw: (str(elsewhere), ""))
    try:
        train_until_done(s, qtbot, 0.05)
        qtbot.waitUntil(lambda: bool(asked), timeout=10000)
        assert len(asked) == 1
        title, text, buttons = asked[0]
        assert title == "Could not save the session" and "No space left on device" in text and str(old) in text
        assert "Keep in memory" in buttons
        assert k.path == elsewhere
        assert_same(saved_weights(elsewhere), s._net.state_arrays())
        (record,) = list_runs(elsewhere)
        assert record["status"] == "done" and record["metrics"]["examples_seen"] == s.examples_seen
        monkeypatch.undo()
        before.pop(pathlib.Path(".app-open.json"))  # (the window works elsewhere now)
        assert files_of(old) == before  # nothing half written left there
        # and the work goes on saving in the new folder
        train_until_done(s, qtbot, 0.1)
        assert Folder.open(elsewhere).info["examples_seen"] == s.examples_seen
        assert len(asked) == 1
    finally:
        s.shutdown()


def test_a_save_that_fails_as_the_window_closes_asks_before_the_work_is_lost(small, tmp_path, qtbot,
                                                                             monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QMessageBox
    w = make_window(qtbot, small[1], tmp_path / "app.ini")
    s, k = w.session, w.keeper
    s.load_experiment(small[2].replace(epochs=0.05))
    train_until_done(s, qtbot, 0.05)
    monkeypatch.setattr("tempfile.mkstemp",
                        failing_in(k.path, PermissionError(errno.EACCES, "Permission denied", "session.json")))
    k._dirty = True
    asked = []

    def answer(box):
        asked.append(box.text())
        [b for b in box.buttons() if b.text() == "Save elsewhere\u2026"][0].click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", answer)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **kw: (str(tmp_path / "kept"), ""))
    weights = [a.copy() for a in s._net.state_arrays()]
    w.close()
    s.shutdown()
    assert asked and "Permission denied" in asked[0]
    assert_same(saved_weights(tmp_path / "kept"), weights)
