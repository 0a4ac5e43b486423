"""Every open and save goes through one path: a failure of any kind is one dialog, and the
network, weights, settings and undo history stay exactly as they were (issue #11)."""
import hashlib
import json
import os
import pathlib
import time
import tracemalloc

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog, QPushButton

import engine
from engine.runs.experiment import Experiment
from engine.runs.snapshots import load_trained

from .conftest import TINY

INPUT = {"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1}
SOFTMAX = {"type": "softmax", "num_classes": 10}


def fingerprint(window):
    """Everything an open or a save must leave alone when it fails."""
    s = window.session
    stack = s.doc.undo_stack
    weights = s.weights
    digest = hashlib.sha1()
    for p in weights.params():
        digest.update(p.tobytes())
    return {
        "layers": json.dumps(s.doc.layers), "name": s.doc.name, "path": s.doc.path,
        "selected": s.doc.selected,
        "undo": (stack.count(), stack.index(), stack.cleanIndex(), [stack.text(i) for i in range(stack.count())]),
        "settings": json.dumps(s.settings.to_json()), "settings_modified": s.settings_modified,
        "weights": (weights.version, weights.examples_seen, digest.hexdigest()),
        "net": id(s._net), "run": (s.run_id, s.examples_seen, s.trained, s.weights_unsaved),
        "dataset": id(s.data.dataset), "title": window.windowTitle(), "status": window.status.network.text(),
        "header": window.build_tab.stack_panel.header.text(),
    }


@pytest.fixture
def trained(tiny, qtbot):
    """The tiny network after an edit (something to undo) and a few trained batches."""
    w, s = tiny, tiny.session
    w.doc.select(1)
    w.build_tab.properties.editors["filters"][1].setValue(5)
    assert s.training.step(3)
    qtbot.waitUntil(lambda: s.examples_seen == 60, timeout=10000)
    s.training.stop()
    assert s.trained and s.weights_unsaved and s.weights.examples_seen == 60
    return w


@pytest.fixture
def dialogs_shown(monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append((title, text)))
    return shown


def deep_field(depth):
    return json.dumps([dict(INPUT, note=0), SOFTMAX]).replace('"note": 0', '"note": ' + "[" * depth + "]" * depth)


def huge_snapshot():
    snap = engine.Net([INPUT, {"type": "fc", "num_neurons": 3}, SOFTMAX], seed=0).to_json()
    fc = snap["layers"][1]
    fc["out_depth"] = 10 ** 7
    fc["filters"], fc["biases"]["w"], fc["biases"]["depth"] = [], [], 10 ** 7
    return json.dumps(snap)


BAD_FILES = {
    "malformed.json": ("not json {", "not valid JSON"),
    "empty.json": ("", "empty.json: the file is empty"),
    "binary.json": (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not a text file"),
    "nan.json": ('[{"type":"input","out_sx":24,"out_sy":24,"out_depth":1},{"type":"conv","sx":5,"filters":NaN},'
                 '{"type":"softmax","num_classes":10}]', "NaN is not a number JSON allows"),
    "infinity.json": ('[{"type":"input","out_sx":24,"out_sy":24,"out_depth":1},{"type":"conv","sx":5,'
                      '"filters":Infinity},{"type":"softmax","num_classes":10}]', "Infinity"),
    "layer-type-list.json": ('{"layers":[{"layer_type":["input"]}]}', "layer_type"),
    "brackets.json": ("[" * 100000, "nested too deeply"),
    "deep-field.json": (deep_field(600), "nested too deeply"),
    "fc-450000.json": (json.dumps([INPUT, {"type": "fc", "num_neurons": 450000}, SOFTMAX]), "the limit is"),
    "fc-10e7.json": (json.dumps([INPUT, {"type": "fc", "num_neurons": 10 ** 7}, SOFTMAX]), "the limit is"),
    "snapshot-fc-10e7.json": (huge_snapshot(), "10000000"),
}


def write_case(tmp_path, name):
    path = tmp_path / name
    content, _ = BAD_FILES[name]
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def special_paths(tmp_path):
    (tmp_path / "folder").mkdir()
    return {"/dev/zero": "not a regular file", str(tmp_path / "folder"): "is a folder",
            str(tmp_path / "vanished.json"): "No such file"}


def assert_refused(window, before, shown, words, name):
    assert len(shown) == 1, shown
    title, text = shown[0]
    assert words in text and "\n" not in text.strip(), text
    assert pathlib.Path(name).name in text, text
    assert fingerprint(window) == before


@pytest.mark.parametrize("how", ["open_path", "open_experiment", "open_snapshot"])
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_one_dialog_and_changes_nothing(trained, tmp_path, dialogs_shown, case, how):
    w = trained
    path = write_case(tmp_path, case)
    before = fingerprint(w)
    tracemalloc.start()
    try:
        assert getattr(w.files, how)(path) is False
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the huge networks are refused before anything is allocated
    assert peak < 100e6, f"{peak / 1e6:.0f} MB allocated for a {os.path.getsize(path)}-byte file"
    # File > Open experiment / Open snapshot say what the other kind of file is not
    words = BAD_FILES[case][1] if how == "open_path" else ""
    assert_refused(w, before, dialogs_shown, words, path)


def test_a_misspelt_layer_option_opens_with_its_error_on_the_card(window, tmp_path, dialogs_shown):
    """It was silently ignored (a conv trained without its relu, issue 20); like any fault of
    the stack but size, it opens and the card and the status say what is wrong."""
    path = tmp_path / "typo.json"
    path.write_text(json.dumps({"layer_defs": [INPUT, {"type": "conv", "sx": 5, "filters": 8,
                                                       "activaton": "relu"}, SOFTMAX]}))
    assert window.files.open_path(str(path)) and not dialogs_shown
    assert window.doc.error.layer_index == 1
    assert "unknown option 'activaton': did you mean 'activation'?" in str(window.doc.error)
    assert not window.train_action.isEnabled()


@pytest.mark.parametrize("how", ["open_path", "open_experiment", "open_snapshot"])
def test_devices_folders_and_vanished_files_are_one_dialog(trained, tmp_path, dialogs_shown, how):
    w = trained
    for path, words in special_paths(tmp_path).items():
        before = fingerprint(w)
        dialogs_shown.clear()
        assert getattr(w.files, how)(path) is False
        assert_refused(w, before, dialogs_shown, words, path)


def test_recent_files_and_a_dropped_file_take_the_same_path(trained, tmp_path, dialogs_shown):
    w = trained
    path = write_case(tmp_path, "fc-10e7.json")
    w.files.add_recent(path)
    before = fingerprint(w)
    w.files.recent_menu.actions()[0].trigger()
    assert_refused(w, before, dialogs_shown, "the limit is", path)
    # dropped on the window
    dialogs_shown.clear()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(path)])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(w, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(w, QDropEvent(QPointF(50, 50), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    assert_refused(w, before, dialogs_shown, "the limit is", path)
    # and a good file dropped opens
    good = tmp_path / "dropped.json"
    good.write_text(json.dumps(TINY))
    mime.setUrls([QUrl.fromLocalFile(str(good))])
    QApplication.sendEvent(w, QDragEnterEvent(QPoint(50, 50), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    QApplication.sendEvent(w, QDropEvent(QPointF(50, 50), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    assert w.doc.layers == TINY and w.doc.name == "dropped"


def test_the_command_line_file_takes_the_same_path(qtbot, tmp_path, monkeypatch, dialogs_shown):
    from PySide6.QtCore import QSettings

    from workbench import app
    from workbench.window.main_window import MainWindow
    QSettings.setPath(QSettings.NativeFormat, QSettings.UserScope, str(tmp_path))
    path = write_case(tmp_path, "brackets.json")
    seen = []

    def close_when_told():
        wins = [x for x in QApplication.topLevelWidgets() if isinstance(x, MainWindow) and x.isVisible()]
        if wins and dialogs_shown:
            seen.append(wins[0].doc.name)
            timer.stop()
            wins[0].close()

    timer = QTimer(interval=100)
    timer.timeout.connect(close_when_told)
    timer.start()
    assert app.main([path]) == 0
    assert seen == ["ConvNetJS MNIST demo"]  # the demo network it started with, untouched
    assert len(dialogs_shown) == 1 and "nested too deeply" in dialogs_shown[0][1]


def save_targets(tmp_path):
    """Where a save cannot go: a device, a folder, a missing folder, a folder that cannot be written."""
    (tmp_path / "a-folder").mkdir()
    if os.geteuid() == 0:  # root writes in a read-only folder anyway; sysfs refuses even root
        read_only = "/sys/convnet-workbench-test.json"
    else:
        ro = tmp_path / "read-only"
        ro.mkdir()
        ro.chmod(0o555)
        read_only = str(ro / "x.json")
    return {"/dev/full": "not a regular file", str(tmp_path / "a-folder"): "not a regular file",
            str(tmp_path / "missing" / "x.json"): "does not exist", read_only: ""}


@pytest.mark.parametrize("how", ["save_as", "save_weights"])
def test_a_save_that_cannot_be_made_is_one_dialog_and_changes_nothing(trained, tmp_path, dialogs_shown, how):
    w = trained
    for target, words in save_targets(tmp_path).items():
        before = fingerprint(w)
        dialogs_shown.clear()
        assert getattr(w.files, how)(target) is False
        assert len(dialogs_shown) == 1 and words in dialogs_shown[0][1], (target, dialogs_shown)
        text = dialogs_shown[0][1]
        assert text.count(target) <= 1 and "\n" not in text, text  # the path said once, one line
        assert fingerprint(w) == before
        assert w.session.weights_unsaved  # still: nothing was saved
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")
    assert not (tmp_path / "missing").exists() and not list(tmp_path.glob("**/*.tmp"))


def test_a_name_from_a_file_is_plain_text_everywhere(window, tmp_path, monkeypatch):
    name = "<b>bold</b> <img src=x> &amp; <i>"
    path = tmp_path / "named.json"
    Experiment(TINY, name=name).save(path)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a: asked.append(text) or QMessageBox.Cancel)
    # a snapshot keeps the name saved in it
    snap = tmp_path / "snap.json"
    net = engine.Net(TINY, seed=0)
    from engine.runs.snapshots import save_snapshot
    save_snapshot(net, snap, {"preset": name})
    assert window.files.open_snapshot(str(snap))
    assert window.doc.name == name
    status = window.status.network
    assert status.textFormat() == Qt.PlainText and status.text().startswith(name)
    assert window.windowTitle().startswith(name)
    header = window.build_tab.stack_panel.header
    doc = QApplication.instance() and __import__("PySide6.QtGui", fromlist=["QTextDocument"]).QTextDocument()
    doc.setHtml(header.text())
    assert doc.toPlainText().startswith(name)  # the header shows the characters, not bold or a picture
    # a question that names it: escaped so that a message box shows it as written
    window.ask_to_save = True
    window.doc.select(1)
    window.build_tab.properties.editors["filters"][1].setValue(5)
    assert not window.close()
    doc.setHtml(asked[0])
    assert name in doc.toPlainText()
    window.ask_to_save = False


def test_saved_or_opened_under_another_name_the_network_takes_that_name(window, tmp_path):
    w = window
    assert w.doc.name == "ConvNetJS MNIST demo"
    assert w.files.save_as(str(tmp_path / "mine.json"))
    assert w.doc.name == "mine" and json.loads((tmp_path / "mine.json").read_text())["name"] == "mine"
    assert "mine" in w.build_tab.stack_panel.header.text() and w.windowTitle().startswith("mine")
    assert w.status.network.text().startswith("mine")
    (tmp_path / "copy.json").write_bytes((tmp_path / "mine.json").read_bytes())
    assert w.files.open_experiment(str(tmp_path / "copy.json"))
    assert w.doc.name == "copy" and "ConvNetJS" not in w.build_tab.stack_panel.header.text()
    assert w.files.open_preset("mlp") and w.doc.name == "Small MLP"  # presets keep their titles


def test_file_dialogs_start_in_the_last_folder_used(window, tmp_path, monkeypatch, dialogs_shown):
    from PySide6.QtWidgets import QFileDialog
    starts = []
    folder = tmp_path / "work"
    folder.mkdir()

    def fake_open(parent, title, start, filter_=""):
        starts.append(start)
        return str(folder / "nothing-here.json"), ""

    def fake_save(parent, title, start, filter_=""):
        starts.append(start)
        return str(folder / "saved.json"), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake_open))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake_save))
    window.files.open_experiment()  # fails (no such file), but the folder was chosen
    assert starts[0] == str(pathlib.Path.home()) and pathlib.Path(starts[0]) != pathlib.Path.cwd()
    window.files.open_snapshot()
    assert starts[1] == str(folder)
    window.files.save_as()
    assert pathlib.Path(starts[2]).parent == folder
    # the plots' exports and Draw's "Open image…" start there too
    other = tmp_path / "other"
    other.mkdir()
    from workbench.views import dialogs
    dialogs.remember(other / "x.png")
    window.train_tab.loss_plot._export_csv()
    assert pathlib.Path(starts[3]).parent == other
    assert (folder / "saved.json").read_text().startswith("series,examples_seen,value")
    window.draw_panel.open_image()
    assert starts[4] == str(folder)  # where the CSV just went


def test_a_slow_read_keeps_the_window_live_and_can_be_cancelled(trained, tmp_path, qtbot, monkeypatch, dialogs_shown):
    """A big file is read on a worker thread: timers fire meanwhile, a dialog offers Cancel,
    and cancelling changes nothing."""
    import threading

    from workbench.tasks import opening
    w = trained
    release = threading.Event()
    real = opening.read_experiment

    def slow(state, *args, **kwargs):
        release.wait(20)
        return real(state, *args, **kwargs)

    monkeypatch.setattr(opening, "read_experiment", slow)
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(TINY))
    before = fingerprint(w)
    ticks = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()

    def cancel():
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QProgressDialog) and len(ticks) > 20:
            dialog.findChild(QPushButton).click()  # the user presses Cancel
            release.set()
        else:
            QTimer.singleShot(50, cancel)

    QTimer.singleShot(50, cancel)
    assert w.files.open_experiment(str(path)) is False
    timer.stop()
    assert not dialogs_shown and fingerprint(w) == before
    assert len(ticks) > 20  # the event loop kept turning while the read waited (how late: tools/)
    # a slow read that is not cancelled opens (past the moment the dialog shows)
    release.clear()
    QTimer.singleShot(800, release.set)
    assert w.files.open_experiment(str(path)) and w.doc.layers == TINY
    assert release.is_set() and not dialogs_shown  # it waited for the read


def test_the_builder_refuses_a_huge_layer_on_its_card_without_allocating(window):
    w, s = window, window.session
    version = s.weights.version
    tracemalloc.start()
    try:
        w.doc.insert_layer(len(w.doc.layers) - 1, {"type": "fc", "num_neurons": 450000})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6
    i = len(w.doc.layers) - 2
    assert not w.doc.valid and w.doc.error.layer_index == i
    m = w.build_tab.stack.model()
    assert "the limit is 50,000,000" in m.data(m.index(i, 0), Qt.ToolTipRole)
    assert "the limit is" in w.build_tab.stack_panel.header.text()
    assert s.weights.version == version  # no network was built
    assert not w.train_tab.controls.train_button.isEnabled()
    assert "the limit is" in w.train_tab.controls.message.text()
    w.undo_action.trigger()
    assert w.doc.valid


def test_a_big_file_is_read_in_another_process_and_the_window_stays_live(trained, tmp_path, qtbot, dialogs_shown,
                                                                        monkeypatch):
    """Parsing JSON holds the GIL: a 50 MB snapshot parsed on a thread stopped the event loop
    for 0.5 s (p99 of a 10 ms timer's lateness 323-582 ms); read in another process, 1-10 ms."""
    from PySide6.QtCore import QElapsedTimer

    from engine.runs.snapshots import save_snapshot
    from workbench.tasks import child, opening
    w = trained
    in_child, real_run = [], child.run
    monkeypatch.setattr(child, "run", lambda f, *a, **k: in_child.append(f.__name__) or real_run(f, *a, **k))
    net = engine.Net([INPUT, {"type": "fc", "num_neurons": 2400, "activation": "relu"}, SOFTMAX], seed=1)
    path = tmp_path / "big.json"
    save_snapshot(net, path, {"preset": "big"})
    assert path.stat().st_size > opening.SUBPROCESS_BYTES  # about 28 MB
    late = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def tick():
        now = clock.elapsed()
        late.append(now - last[0] - 10)
        last[0] = now

    timer = QTimer(interval=10)
    timer.timeout.connect(tick)
    timer.start()
    assert w.files.open_snapshot(str(path))
    timer.stop()
    assert not dialogs_shown and w.doc.name == "big"
    for a, pg in zip(w.session.weights.params(), net.params_and_grads()):
        np.testing.assert_array_equal(a, pg["params"])
    print(f"10 ms timer while opening {path.stat().st_size / 1e6:.0f} MB: {len(late)} ticks, "
          f"lateness p99 {np.percentile(late[1:], 99):.0f} ms, max {max(late[1:]):.0f} ms")
    # read in another process while the event loop turned (how late it ran is a figure, printed)
    assert in_child == ["_read_for_parent"] and len(late) > 2
    # saved the same way (making the JSON holds the GIL too): 0.66-0.80 s late on a thread
    saved = tmp_path / "saved.json"
    late.clear()
    last[0] = clock.elapsed()
    timer.start()
    assert w.files.save_weights(str(saved))
    timer.stop()
    print(f"10 ms timer while saving it: lateness p99 {np.percentile(late[1:], 99):.0f} ms")
    assert in_child[-1] == "_save_layers" and len(late) > 2
    again, _, meta = load_trained(saved)
    assert meta["preset"] == "big" and all(np.array_equal(a, b) for a, b in zip(again.state_arrays(),
                                                                                 net.state_arrays()))
    # Cancel while the other process reads: it is ended, and nothing changes
    assert w.files.open_preset("mlp")
    before = fingerprint(w)

    def cancel():
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QProgressDialog):
            dialog.findChild(QPushButton).click()
        else:
            QTimer.singleShot(20, cancel)

    QTimer.singleShot(20, cancel)
    assert w.files.open_snapshot(str(path)) is False
    assert fingerprint(w) == before and not dialogs_shown

    def readers():  # the reading process, ended by the worker thread within 50 ms ('[.]': not pgrep itself)
        return os.popen(f"pgrep -P {os.getpid()} -f 'workbench[.]child'").read().split()

    qtbot.waitUntil(lambda: not readers(), timeout=5000)


def test_a_bad_file_read_in_another_process_is_the_same_one_dialog(trained, tmp_path, monkeypatch, dialogs_shown):
    from workbench.state import weights
    from workbench.tasks import opening
    monkeypatch.setattr(opening, "SUBPROCESS_BYTES", 100)  # every file here goes to the other process
    monkeypatch.setattr(weights, "CHILD_PARAMS", 100)  # and every save
    for target, words in save_targets(tmp_path).items():
        before = fingerprint(trained)
        dialogs_shown.clear()
        assert trained.files.save_weights(target) is False
        assert len(dialogs_shown) == 1 and words in dialogs_shown[0][1] and fingerprint(trained) == before
    w = trained
    for case in ("fc-10e7.json", "nan.json", "snapshot-fc-10e7.json", "deep-field.json"):
        path = write_case(tmp_path, case)
        before = fingerprint(w)
        dialogs_shown.clear()
        assert w.files.open_path(path) is False
        assert_refused(w, before, dialogs_shown, BAD_FILES[case][1], path)
    good = tmp_path / "good.json"
    net = engine.Net(TINY, seed=4)
    from engine.runs.snapshots import save_snapshot
    save_snapshot(net, good, {"preset": "good"})
    assert w.files.open_path(str(good)) and w.doc.name == "good"
    for a, pg in zip(w.session.weights.params(), net.params_and_grads()):
        np.testing.assert_array_equal(a, pg["params"])


def png_header(width, height):
    """A PNG that says it is width x height, with the start of its pixels: a few dozen bytes."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    pixels = zlib.compressobj().compress(b"\x00" * 4096)  # a stream that goes on (cut short)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def test_draw_open_image_refuses_huge_pictures_and_scales_long_ones(window, tmp_path, dialogs_shown):
    """A 138-byte PNG asked for a 60000x60000 array (MemoryError); 20000x20000 pictures were
    'not an image that can be read'."""
    from PySide6.QtGui import QImage
    draw = window.draw_panel
    before = draw.canvas.image().copy()
    for w, h in ((60000, 60000), (20000, 20000)):
        path = tmp_path / f"{w}x{h}.png"
        path.write_bytes(png_header(w, h))
        dialogs_shown.clear()
        tracemalloc.start()
        try:
            assert not draw.open_image(str(path))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert len(dialogs_shown) == 1 and f"{w:,}x{h:,} pixels" in dialogs_shown[0][1]
        assert "megapixel" in dialogs_shown[0][1] and peak < 50e6
        np.testing.assert_array_equal(draw.canvas.image(), before)  # the drawing stays
    # a long thin picture: read scaled down, then placed in the square canvas
    line = QImage(1, 60000, QImage.Format_Grayscale8)
    line.fill(255)
    path = tmp_path / "line.png"
    assert line.save(str(path))
    dialogs_shown.clear()
    assert draw.open_image(str(path)) and not dialogs_shown
