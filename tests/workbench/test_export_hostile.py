"""In the app, a file whose names are code: opening it and exporting it runs nothing, and the
default export path keeps the experiment's name to a file name inside the default folder."""
import json
import os
import pathlib
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "snapshots" / "convnetjs-demo-trained.json"
PRESET = ROOT / "resources" / "presets" / "convnetjs-demo.json"


def _export(qtbot, window, fmt, out):
    dialog = window.files.export()
    qtbot.addWidget(dialog)
    dialog.format.setCurrentIndex(dialog.format.findData(fmt))
    dialog.path.setText(str(out))
    qtbot.mouseClick(dialog.export_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.report is not None or dialog.error is not None, timeout=120000)
    assert dialog.error is None, dialog.error
    dialog.reject()


@pytest.mark.parametrize("how", ["experiment", "snapshot"])
def test_opening_and_exporting_a_hostile_name_runs_nothing(how, window, qtbot, tmp_path, monkeypatch):
    """The app calls an experiment by its file's name, a snapshot by its ``workbench.preset``."""
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)  # where the name's relative "touch PWNED" would land
    marker = tmp_path / "PWNED"
    name = 'x"""; __import__("os").system("touch PWNED"); """'
    if how == "experiment":
        obj = json.loads(PRESET.read_text())
        obj["weights"] = json.loads(DEMO.read_text())
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(obj))
        assert window.files.open_experiment(str(path))
    else:
        obj = json.loads(DEMO.read_text())
        obj["workbench"]["preset"] = name
        path = tmp_path / "snap.json"
        path.write_text(json.dumps(obj))
        assert window.files.open_snapshot(str(path))
    out = tmp_path / "out"
    _export(qtbot, window, "pytorch", out)
    assert (out / "model.py").exists() and not marker.exists()
    r = subprocess.run([sys.executable, "-c", "import runpy, sys, model\n"
                        "sys.argv = ['train.py', '--help']\n"
                        "runpy.run_path('train.py', run_name='__main__')"],
                       cwd=out, env=dict(os.environ, PYTHONPATH=""), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "usage: train.py" in r.stdout, r.stderr
    assert not marker.exists()


def test_the_default_export_path_is_a_file_name_in_the_default_folder(window, qtbot, tmp_path):
    from workbench.views import dialogs
    saved = tmp_path / "saved"
    saved.mkdir()
    dialogs.remember(str(saved / "a.json"), saved=True)
    s = window.session
    s.load_experiment(s.experiment().replace(name="../../../../tmp/x"))
    dialog = window.files.export()  # the demo's weights, there from the start
    qtbot.addWidget(dialog)
    for fmt, want in (("onnx", "tmp-x.onnx"), ("pytorch", "tmp-x-pytorch")):
        dialog.format.setCurrentIndex(dialog.format.findData(fmt))
        assert pathlib.Path(dialog.path.text()) == saved / want
    dialog.reject()
