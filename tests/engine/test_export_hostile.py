"""A name from a file never becomes code in an export: the experiment's name, a snapshot's
``workbench.preset`` and a snapshot's file name reach the PyTorch folder (model.py's NAME,
the README's title) only as data. Each export runs in a subprocess in a folder of its own,
then the exported ``train.py --help`` and ``import model`` run there too; a marker file
the hostile name would create must never appear."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("torch", reason="the export extra is not installed")

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "snapshots" / "convnetjs-demo-trained.json"
PRESET = ROOT / "resources" / "presets" / "convnetjs-demo.json"

RUN = '__import__("os").system("touch PWNED")'
#: Ways out of a string literal or a docstring, each running RUN if pasted into source as it is.
HOSTILE = {
    "docstring": f'x"""; {RUN}; """',
    "single_quote": f"x'; {RUN}; '",
    "newline": f'x"""\n{RUN}\n"""',
    "indented": f'x"""\n    {RUN}\n"""',
    "backslash": f'x\\""" ; {RUN}; """\\',
    "nul": f'x\x00"""; {RUN}; """',
    "surrogate": f'x\ud800"""; {RUN}; """',
}


def _cli(cwd, *args, timeout=180):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _dump(obj):
    # ensure_ascii: a lone surrogate goes into the file as \ud800, as JSON allows
    return json.dumps(obj)


def assert_nothing_ran(folder, out):
    """The export is there, its model imports and its train.py answers --help, and the marker
    never appeared (in the export's working folder or in the exported folder)."""
    assert not (folder / "PWNED").exists()
    env = dict(os.environ, PYTHONPATH="")
    # one process (torch imports once): import model, then run train.py --help as a script
    r = subprocess.run([sys.executable, "-c", "import json, runpy, sys, model\n"
                        "print(json.dumps(model.NAME))\n"
                        "sys.argv = ['train.py', '--help']\n"
                        "runpy.run_path('train.py', run_name='__main__')"],
                       cwd=out, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "usage: train.py" in r.stdout, r.stderr
    assert not (folder / "PWNED").exists() and not (out / "PWNED").exists()
    return json.loads(r.stdout.splitlines()[0])


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_the_experiments_name(kind, tmp_path):
    name = HOSTILE[kind]
    exp = json.loads(PRESET.read_text())
    exp["name"] = name
    exp["weights"] = json.loads(DEMO.read_text())
    (tmp_path / "exp.json").write_text(_dump(exp))
    r = _cli(tmp_path, "export", "exp.json", "--to", "pytorch", "--out", "out", "--no-data",
             "--examples", "50")
    assert r.returncode == 0, r.stderr
    assert assert_nothing_ran(tmp_path, tmp_path / "out") == name
    readme = (tmp_path / "out" / "README.md").read_text()
    assert readme.splitlines()[0].startswith("# x") and RUN not in readme.splitlines()[1]


def test_the_snapshots_preset(tmp_path):
    snap = json.loads(DEMO.read_text())
    snap["workbench"]["preset"] = HOSTILE["docstring"]
    (tmp_path / "snap.json").write_text(_dump(snap))
    r = _cli(tmp_path, "export", "snap.json", "--to", "pytorch", "--out", "out", "--no-data",
             "--examples", "50")
    assert r.returncode == 0, r.stderr
    assert assert_nothing_ran(tmp_path, tmp_path / "out") == HOSTILE["docstring"]


def test_the_snapshots_file_name(tmp_path):
    snap = json.loads(DEMO.read_text())
    del snap["workbench"]
    stem = f'g"""; {RUN}; """'
    (tmp_path / f"{stem}.json").write_text(_dump(snap))
    r = _cli(tmp_path, "export", f"{stem}.json", "--to", "pytorch", "--out", "out", "--no-data",
             "--examples", "50")
    assert r.returncode == 0, r.stderr
    assert assert_nothing_ran(tmp_path, tmp_path / "out") == stem


def test_the_onnx_export_keeps_the_name_as_data(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    exp = json.loads(PRESET.read_text())
    exp["name"] = HOSTILE["surrogate"]
    exp["weights"] = json.loads(DEMO.read_text())
    (tmp_path / "exp.json").write_text(_dump(exp))
    r = _cli(tmp_path, "export", "exp.json", "--to", "onnx", "--out", "m.onnx", "--examples", "50")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m.onnx").stat().st_size > 1000 and not (tmp_path / "PWNED").exists()


def test_model_source_checks_what_it_generates():
    """A layer setting that is not a number is refused, not pasted into model.py."""
    from engine import Net
    from engine.export.errors import ExportError
    from engine.export.pytorch_export import model_source
    net = Net.from_json(json.loads(DEMO.read_text()))
    conv = next(l for l in net.layers if l.layer_type == "conv")
    conv.stride = f"1); {RUN}; ("
    with pytest.raises(ExportError, match="not a whole number"):
        model_source(net, "demo")
