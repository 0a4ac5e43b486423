"""The command line: train, eval, presets, bench, and one-line errors."""
import json
import subprocess
import sys

import pytest

from engine.cli import main


def test_train_then_eval(tmp_path, capsys):
    out = tmp_path / "net.json"
    assert main(["train", "--epochs", "0.05", "--quiet", "--seed", "1", "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["examples_seen"] == 3000
    assert result["test_accuracy"] > 0.8
    snap = json.loads(out.read_text())
    assert snap["layers"][0]["layer_type"] == "input" and snap["workbench"]["examples_seen"] == 3000
    assert main(["eval", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"test accuracy {result['test_accuracy']:.4f}" in text
    assert "confusion matrix" in text and len(text.strip().splitlines()) == 13


def test_presets_listed(capsys):
    assert main(["presets"]) == 0
    text = capsys.readouterr().out
    for name in ("convnetjs-demo", "mlp", "strong-convnet"):
        assert name in text


@pytest.mark.parametrize("argv,words", [
    (["eval", "/nonexistent/net.json"], "cannot read"),
    (["train", "--preset", "nope"], "unknown preset 'nope'"),
    (["train", "--epochs", "0.01", "--learning-rate", "-1", "--schedule", "cosine"], "learning rate"),
])
def test_errors_are_one_line_and_nonzero(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and words in err and "Traceback" not in err


def test_bad_spec_file_names_the_layer(tmp_path, capsys):
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps([{"type": "input", "out_sx": 4, "out_sy": 4, "out_depth": 1},
                                {"type": "pool", "sx": 6}, {"type": "softmax", "num_classes": 10}]))
    assert main(["train", "--spec", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "layer 1, pool 6x6 stride 2: input is 4x4, smaller than the window" in err


def test_truncated_snapshot_is_a_clear_error_and_not_overwritten(tmp_path, capsys):
    snap = tmp_path / "net.json"
    snap.write_text('{"layers": [{"layer_type": "input", "out_sx": 24')
    assert main(["eval", str(snap)]) == 2
    assert "not valid JSON, or truncated" in capsys.readouterr().err
    assert snap.read_text().endswith("24")


def test_bench_prints_json_lines():
    proc = subprocess.run([sys.executable, "-m", "engine", "bench", "--batch-sizes", "20",
                           "--seconds", "0.3"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout.strip().splitlines()[0])
    assert rec["framework"] == "engine" and rec["batch_size"] == 20
    assert rec["train_examples_per_second"] > 100 and rec["infer_examples_per_second"] > 100
    assert rec["blas"]  # which BLAS kernels ran: figures depend on them


@pytest.mark.slow
def test_demo_preset_reaches_98_5_percent_in_3_epochs(capsys):
    assert main(["train", "--preset", "convnetjs-demo", "--epochs", "3", "--quiet", "--seed", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["test_accuracy"] >= 0.985


@pytest.mark.slow
def test_strong_preset_reaches_99_3_percent(capsys):
    assert main(["train", "--preset", "strong-convnet", "--quiet", "--seed", "0"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test_accuracy"] >= 0.993
