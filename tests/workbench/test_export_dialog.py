"""File › Export…: ONNX and PyTorch exports of the current weights, in the background, with
the parity report; and the snapshot an exported train.py writes opens like any other."""
import importlib.util
import json
import pathlib
import sys

import numpy as np
import pytest
from PySide6.QtCore import Qt

from workbench.views import export_dialog


@pytest.fixture
def trained(tiny, qtbot):
    s = tiny.session
    assert s.training.step(3)
    qtbot.waitUntil(lambda: s.examples_seen == 60, timeout=10000)
    s.training.stop()
    return tiny


def open_dialog(window, fmt, out):
    dialog = window.files.export()
    dialog.format.setCurrentIndex(dialog.format.findData(fmt))
    dialog.path.setText(str(out))
    return dialog


def export(qtbot, dialog):
    qtbot.mouseClick(dialog.export_button, Qt.LeftButton)
    assert dialog.cancel_button.text() == "Cancel" and not dialog.export_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.report is not None or dialog.error is not None, timeout=120000)
    assert dialog.error is None, dialog.error


def test_export_onnx_shows_the_parity_report(trained, qtbot, tmp_path):
    pytest.importorskip("onnxruntime")
    dialog = open_dialog(trained, "onnx", tmp_path / "tiny.onnx")
    qtbot.addWidget(dialog)
    assert "pip install" not in dialog.note.text() and dialog.export_button.isEnabled()
    export(qtbot, dialog)
    r = dialog.report
    assert (tmp_path / "tiny.onnx").stat().st_size > 1000 and (tmp_path / "tiny.parity.json").exists()
    assert r["max_abs_difference"] <= 1e-5 and r["argmax_agreement"] == 1.0 and r["examples"] == 1000
    text = dialog.result.text()
    assert "largest difference" in text and "same class as the engine: 100.00% of 1,000 examples" in text
    assert dialog.status.text() == "Done." and dialog.cancel_button.text() == "Close"
    dialog.reject()


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_snapshot_written_by_the_exported_train_py_opens_with_the_same_weights(trained, qtbot, tmp_path,
                                                                                   monkeypatch):
    pytest.importorskip("torch")
    w = trained
    weights = w.session.weights.params()
    folder = tmp_path / "tiny-pytorch"
    dialog = open_dialog(w, "pytorch", folder)
    qtbot.addWidget(dialog)
    export(qtbot, dialog)
    assert dialog.report["argmax_agreement"] == 1.0 and "to_convnetjs" in dialog.result.text()
    dialog.reject()
    for f in ("model.py", "weights.pt", "train.py", "experiment.json", "README.md", "parity.json"):
        assert (folder / f).exists(), f
    # what train.py does at the end of a run: model.load(), then write_snapshot(to_convnetjs())
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "model", raising=False)
    train = _import(folder / "train.py", "exported_train")
    try:
        net = train.exported.load(folder / "weights.pt")
        experiment = json.loads((folder / "experiment.json").read_text())
        snapshot = tmp_path / "trained.json"
        train.write_snapshot(net, snapshot, {"experiment": experiment, "trainer": experiment["trainer"],
                                             "examples_seen": 60, "test_accuracy": 0.5})
    finally:
        sys.modules.pop("model", None)
    assert w.files.open_preset("mlp")
    assert w.files.open_snapshot(str(snapshot))
    s = w.session
    assert not s.weights.untrained and w.doc.layers == w.session.experiment().layer_defs
    for a, b in zip(s.weights.params(), weights):
        np.testing.assert_array_equal(a, b)  # float32 through float64 JSON: the same numbers


def test_cancel_stops_the_export_and_writes_nothing(trained, qtbot, tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "out" / "cancelled.onnx"  # a folder of its own (the window keeps files in tmp_path)
    out.parent.mkdir()
    dialog = open_dialog(trained, "onnx", out)
    qtbot.addWidget(dialog)
    qtbot.mouseClick(dialog.export_button, Qt.LeftButton)
    qtbot.mouseClick(dialog.cancel_button, Qt.LeftButton)  # Cancel while it runs
    qtbot.waitUntil(lambda: dialog.cancel_button.text() == "Close", timeout=60000)
    assert dialog.report is None and dialog.status.text() == "Cancelled: nothing was written."
    assert not out.exists() and not list(out.parent.iterdir())  # no temporary file either
    dialog.reject()


def test_missing_packages_say_what_to_install(trained, monkeypatch, qtbot, tmp_path):
    monkeypatch.setattr(export_dialog, "missing_packages",
                        lambda fmt: ["onnx", "onnxruntime"] if fmt == "onnx" else [])
    dialog = open_dialog(trained, "onnx", tmp_path / "m.onnx")
    qtbot.addWidget(dialog)
    assert "pip install -e '.[export]'" in dialog.note.text() and "onnx and onnxruntime" in dialog.note.text()
    assert not dialog.export_button.isEnabled() and not dialog.start()
    dialog.format.setCurrentIndex(dialog.format.findData("pytorch"))
    assert dialog.export_button.isEnabled() and "pip install" not in dialog.note.text()
    dialog.reject()


def test_a_destination_that_cannot_be_written_says_so(trained, qtbot, tmp_path):
    pytest.importorskip("onnxruntime")
    dialog = open_dialog(trained, "onnx", tmp_path / "missing" / "m.onnx")
    qtbot.addWidget(dialog)
    qtbot.mouseClick(dialog.export_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.error is not None, timeout=60000)
    assert "does not exist" in dialog.result.text() and dialog.result.text().startswith("Not exported:")
    assert not (tmp_path / "missing").exists()
    dialog.reject()


def test_a_colour_dataset_in_use_is_what_the_export_is_checked_on(tiny, qtbot, tmp_path):
    """16x16x3 PNGs per class, the network adapted to them: the parity check runs on their
    test images (not on random inputs), and the export goes where the user last saved, not
    into the data's folder (which opening the dataset made the last folder used)."""
    pytest.importorskip("onnxruntime")
    from workbench.views import dialogs

    from ..engine import dataset_files as df
    w, s = tiny, tiny.session
    data = df.write_folder(tmp_path / "trial" / "shapes", df.images(60, 16, 16, 3),
                           df.images(15, 16, 16, 3, seed=1))
    with qtbot.waitSignal(s.data.changed, timeout=20000):
        assert s.open_dataset(str(data))
    dialogs.remember(data)  # as File › Open dataset… does
    banner = w.build_tab.fit_banner
    qtbot.mouseClick(banner.button, Qt.LeftButton)  # adapt the network to the data
    assert w.doc.layers[0] == {"type": "input", "out_sx": 16, "out_sy": 16, "out_depth": 3}

    dialog = w.files.export()
    qtbot.addWidget(dialog)
    default = dialog.path.text()
    assert str(data) not in default and default == str(pathlib.Path.home() / "tiny.onnx")
    dialog.reject()
    saved = tmp_path / "saved"
    saved.mkdir()
    assert w.files.save_as(str(saved / "mine.json"))
    dialogs.remember(data / "train")  # opened from the data again: the default stays where it saved
    dialog = w.files.export()
    qtbot.addWidget(dialog)
    assert dialog.path.text() == str(saved / "mine.onnx")

    export(qtbot, dialog)
    r, text = dialog.report, dialog.result.text()
    assert r["inputs"] == "15 shapes test images, scaled p/255 - 0.5" and r["examples"] == 15
    assert "random" not in text and "Checked against the engine on 15 shapes test images" in text
    assert r["engine_accuracy"] is not None and (saved / "mine.onnx").exists()
    dialog.reject()
