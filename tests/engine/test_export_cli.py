"""``python -m engine export``: the report on stdout, one line on stderr, exit 2 and nothing
written on bad input."""
import json
import subprocess
import sys

import pytest

from engine.cli import main

pytest.importorskip("onnx", reason="the export extra is not installed: pip install -e '.[export]'")
pytest.importorskip("onnxruntime", reason="the export extra is not installed")
pytest.importorskip("torch", reason="the export extra is not installed")

DEMO = "resources/snapshots/convnetjs-demo-trained.json"


def test_onnx(tmp_path, capsys):
    out = tmp_path / "model.onnx"
    assert main(["export", DEMO, "--to", "onnx", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["passed"] and report["argmax_agreement"] == 1.0 and report["examples"] == 1000
    assert json.loads((tmp_path / "model.parity.json").read_text()) == report
    line = captured.err.strip()
    assert "\n" not in line and line.startswith(f"wrote {out}") and "argmax agreement 100.00%" in line


def test_pytorch_with_a_preset(tmp_path, capsys):
    out = tmp_path / "torch"
    assert main(["export", DEMO, "--to", "pytorch", "--out", str(out), "--preset", "convnetjs-demo",
                 "--no-data", "--examples", "200"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] == 200 and report["data_copied"] is False
    assert json.loads((out / "experiment.json").read_text())["augment"]["crop"] == 24
    assert not (out / "data").exists()


def test_pytorch_with_a_spec_file(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"layer_defs": json.loads(open("resources/presets/convnetjs-demo.json").read())
                                ["layer_defs"], "trainer": {"method": "adam", "learning_rate": 0.003}}))
    assert main(["export", DEMO, "--to", "pytorch", "--out", str(tmp_path / "t"), "--spec", str(spec),
                 "--no-data"]) == 0
    trainer = json.loads((tmp_path / "t" / "experiment.json").read_text())["trainer"]
    assert trainer["method"] == "adam" and trainer["learning_rate"] == 0.003


@pytest.mark.parametrize("args, words", [
    (["missing.json", "--to", "onnx", "--out", "{tmp}/m.onnx"], "missing.json: cannot read"),
    (["{tmp}/garbage.json", "--to", "onnx", "--out", "{tmp}/m.onnx"], "garbage.json: not valid JSON"),
    ([DEMO, "--to", "onnx", "--out", "{tmp}/nowhere/m.onnx"], "does not exist"),
    ([DEMO, "--to", "pytorch", "--out", "{tmp}/garbage.json"], "is a file"),
    ([DEMO, "--to", "pytorch", "--out", "{tmp}/t", "--preset", "mlp"], "different network"),
    ([DEMO, "--to", "pytorch", "--out", "{tmp}/t", "--preset", "nope"], "unknown preset"),
    ([DEMO, "--to", "onnx", "--out", "{tmp}/m.onnx", "--examples", "0"], "--examples"),
])
def test_bad_input_is_one_line_and_writes_nothing(args, words, tmp_path, capsys):
    (tmp_path / "garbage.json").write_text("{not json")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["export"] + [a.format(tmp=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and words in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_missing_packages_one_line(tmp_path):
    code = ("import sys; sys.modules['onnxruntime'] = None\n"
            "from engine.cli import main\n"
            f"sys.exit(main(['export', {DEMO!r}, '--to', 'onnx', '--out', {str(tmp_path / 'm.onnx')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert err == ("error: Checking the ONNX model needs the Python package onnxruntime: "
                   "pip install 'convnet-workbench[export]' (or pip install onnxruntime)")
    assert list(tmp_path.iterdir()) == []


def test_help_names_the_formats(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = capsys.readouterr().out
    assert "--to {onnx,pytorch}" in text and "--preset" in text and "--spec" in text
