"""The command line: train, eval, presets, bench, and one-line errors."""
import json
import math
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import engine
import engine.snapshots
from engine.cli import experiment_from_args, main, parser
from engine.data import MNIST_DIR
from engine.runs import experiment as experiment_module
from engine.runs.experiment import Experiment, preset
from engine.runs.snapshots import load_trained


def test_train_then_eval(tmp_path, capsys):
    out = tmp_path / "net.json"
    assert main(["train", "--epochs", "0.05", "--quiet", "--seed", "1", "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["examples_seen"] == 2750  # 5% of the 55,000 left after the validation split
    assert result["test_accuracy"] > 0.8 and result["validation_accuracy"] > 0.8
    assert result["data"] == "MNIST" and result["preset"] == "ConvNetJS MNIST demo"
    snap = json.loads(out.read_text())
    assert snap["layers"][0]["layer_type"] == "input" and snap["workbench"]["examples_seen"] == 2750
    # the snapshot says how it was trained: the preset with the flags applied
    assert Experiment.from_json(snap["workbench"]["experiment"]) == \
        preset("convnetjs-demo").replace(epochs=0.05, seed=1)
    assert main(["eval", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"test accuracy {result['test_accuracy']:.4f}" in text
    assert "confusion matrix" in text and len(text.strip().splitlines()) == 13


def test_presets_listed(capsys):
    assert main(["presets"]) == 0
    text = capsys.readouterr().out
    for name in ("convnetjs-demo", "mlp", "strong-convnet", "fast"):
        assert name in text


@pytest.mark.parametrize("argv,words", [
    (["eval", "/nonexistent/net.json"], "cannot read"),
    (["train", "--preset", "nope"], "unknown preset 'nope'"),
    (["train", "--epochs", "0.01", "--learning-rate", "-1", "--schedule", "cosine"],
     "('learning_rate') must be at least 0"),
    (["train", "--batch-size", "0"], "('batch_size') must be at least 1"),
    (["train", "--epochs", "-1"], "'epochs' must be at least 0"),
    (["train", "--validation", "60000", "--epochs", "0.01"], "leaves no training examples"),
    (["train", "--data", "/nonexistent/folder", "--epochs", "0.01"], "no such file or folder"),
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


def args(*argv):
    return parser().parse_args(["train", *argv])


def test_flags_override_the_experiment():
    base = preset("convnetjs-demo")
    exp = experiment_from_args(args(
        "--epochs", "2", "--method", "sgd", "--learning-rate", "0.1", "--momentum", "0.5",
        "--batch-size", "7", "--l1-decay", "0.01", "--l2-decay", "0.02", "--schedule", "step",
        "--shift", "2", "--flip", "--validation", "100", "--seed", "5", "--data", "/somewhere/digits"))
    assert exp.trainer == dict(base.trainer, method="sgd", learning_rate=0.1, momentum=0.5,
                               batch_size=7, l1_decay=0.01, l2_decay=0.02)
    assert exp.schedule["kind"] == "step" and exp.augment == {"crop": 24, "shift": 2, "flip": True}
    assert (exp.epochs, exp.validation, exp.seed, exp.data) == (2.0, 100, 5, "/somewhere/digits")
    assert exp.layer_defs == base.layer_defs and exp.name == base.name
    # nothing given: the preset as it is
    assert experiment_from_args(args()) == base
    assert experiment_from_args(args("--preset", "strong-convnet")) == preset("strong-convnet")


def test_schedule_and_flip_flags_keep_what_they_do_not_change(tmp_path):
    strong = preset("strong-convnet")
    step = experiment_from_args(args("--preset", "strong-convnet", "--schedule", "step"))
    assert step.schedule == dict(strong.schedule, kind="step")  # its minimum and the rest kept
    assert experiment_from_args(args("--preset", "strong-convnet", "--schedule", "constant")).schedule is None
    flipped = tmp_path / "flipped.json"
    strong.replace(augment=dict(strong.augment, flip=True)).save(flipped)
    assert experiment_from_args(args("--spec", str(flipped))).augment["flip"] is True
    assert experiment_from_args(args("--spec", str(flipped), "--no-flip")).augment["flip"] is False


def test_preset_schedule_and_augmentation_reach_the_run(tmp_path, capsys, monkeypatch):
    """The strong convnet's cosine schedule (and a shift given as a flag) drive its run."""
    runs = []
    import engine.session
    make_run = engine.session.make_run

    def spy(*a, **k):
        runs.append(make_run(*a, **k))
        return runs[-1]

    monkeypatch.setattr(engine.session, "make_run", spy)
    saved = tmp_path / "ran.json"
    assert main(["train", "--preset", "strong-convnet", "--epochs", "0.005", "--validation", "0",
                 "--shift", "1", "--seed", "0", "--quiet", "--save-experiment", str(saved)]) == 0
    result = json.loads(capsys.readouterr().out)
    (run,) = runs
    assert run.schedule.kind == "cosine" and run.schedule.minimum == 2e-5
    assert run.schedule.base == 0.002 and run.schedule.total == 300  # 0.005 x 60,000 images
    assert (run.augment.crop, run.augment.shift, run.augment.flip) == (24, 1, False)
    # 300 examples in batches of 64: the last batch starts at 256 seen, on the cosine
    expected = 2e-5 + (0.002 - 2e-5) * 0.5 * (1 + math.cos(math.pi * 256 / 300))
    assert result["final_learning_rate"] == pytest.approx(expected, rel=1e-12)
    ran = Experiment.load(saved)
    assert ran == preset("strong-convnet").replace(epochs=0.005, validation=0, seed=0,
                                                    augment={"crop": 24, "shift": 1, "flip": False})


def test_the_dataset_is_named_by_the_experiments_data(tmp_path, capsys):
    digits = tmp_path / "digits"
    shutil.copytree(MNIST_DIR, digits)
    assert main(["train", "--data", str(digits), "--epochs", "0.01", "--validation", "0"]) == 0
    captured = capsys.readouterr()
    assert "images of digits (28x28 grey, 10 classes)" in captured.err and "MNIST" not in captured.err.split("demo")[1]
    assert json.loads(captured.out)["data"] == "digits"


@pytest.mark.parametrize("text,words", [
    ('{"layer_defs": [], "epoch": 3}', "unknown setting 'epoch'"),
    ('{"layer_defs": [], "trainer": {"method": "rmsprop"}}', "unknown trainer method 'rmsprop'"),
    ('{"layer_defs": [], "schedule": {"kind": "cosine", "minimum": -1}}', "'minimum' must be at least 0"),
    ('{"layers": [{"layer_type": "input"}]}', "this is a snapshot (trained weights), not an experiment"),
    ('{"layer_defs": [', "not valid JSON"),
    ('[{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1}, {"type": "softmax"}]',
     "layer 1, softmax: missing 'num_classes'"),
    # a misspelt option was ignored: the conv trained without it, and was saved with it (issue 20)
    ('[{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1}, {"type": "conv", "sx": 5, '
     '"filterz": 3}, {"type": "softmax", "num_classes": 10}]',
     "layer 1, conv: unknown option 'filterz': did you mean 'filters'?"),
    ('{"layer_defs": [{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1}, {"type": "conv", '
     '"sx": 5, "filters": 3, "activaton": "relu"}, {"type": "softmax", "num_classes": 10}]}',
     "layer 1, conv: unknown option 'activaton': did you mean 'activation'?"),
])
def test_a_bad_experiment_file_is_one_line_and_nonzero(tmp_path, capsys, text, words):
    spec = tmp_path / "bad.json"
    spec.write_text(text)
    assert main(["train", "--spec", str(spec), "--epochs", "0.01"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:") and words in err
    assert "Traceback" not in err


def test_eval_reads_an_experiment_file_with_weights(tmp_path, capsys):
    out = tmp_path / "net.json"
    assert main(["train", "--epochs", "0.02", "--quiet", "--seed", "2", "--out", str(out)]) == 0
    accuracy = json.loads(capsys.readouterr().out)["test_accuracy"]
    net, exp, meta = load_trained(out)
    both = tmp_path / "experiment-with-weights.json"
    experiment_module.save_experiment(exp, both, net)
    assert main(["eval", str(both)]) == 0
    assert f"test accuracy {accuracy:.4f}" in capsys.readouterr().out


def test_layers_prints_the_table(capsys):
    assert main(["layers"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| layer |") and "`lrn` (Local response norm)" in out


def test_bench_prints_json_lines():
    proc = subprocess.run([sys.executable, "-m", "engine", "bench", "--batch-sizes", "20",
                           "--seconds", "0.3"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout.strip().splitlines()[0])
    assert rec["framework"] == "engine" and rec["batch_size"] == 20
    assert rec["train_examples_per_second"] > 0 and rec["infer_examples_per_second"] > 0  # figures, not bounds
    assert rec["blas"]  # which BLAS kernels ran: figures depend on them


@pytest.mark.slow
def test_demo_preset_reaches_98_5_percent_in_3_epochs(capsys):
    assert main(["train", "--preset", "convnetjs-demo", "--epochs", "3", "--validation", "0",
                 "--quiet", "--seed", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["test_accuracy"] >= 0.985


@pytest.mark.slow
def test_strong_preset_reaches_99_3_percent(capsys):
    assert main(["train", "--preset", "strong-convnet", "--validation", "0", "--quiet", "--seed", "0"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test_accuracy"] >= 0.993


def test_a_diverging_run_says_so_exits_3_and_writes_the_last_good_weights(tmp_path, capsys):
    out = tmp_path / "net.json"
    rc = main(["train", "--epochs", "0.3", "--method", "sgd", "--learning-rate", "10",
               "--momentum", "0.9", "--validation", "0", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 3 and "diverged" in err and "try 0.01" in err and "last good weights" in err
    net, meta = engine.snapshots.load_snapshot(out)
    assert "diverged" in meta and all(np.isfinite(pg["params"]).all() for pg in net.params_and_grads())


@pytest.mark.parametrize("argv,words", [
    (["--out", "/dev/full"], "not a regular file"),
    (["--out", "/nonexistent-folder/net.json"], "does not exist"),
    (["--save-experiment", "/etc/hostname/exp.json"], "does not exist"),
    (["--crops", "0"], "--crops must be 1 to 9"),
    (["--epochs", "inf"], "'epochs' must be a number"),
    (["--epochs", "-1"], "'epochs' must be at least 0"),
    (["--shift", "100000"], "'shift' must be at most 64"),
    (["--batch-size", "0"], "batch size \\('batch_size'\\) must be at least 1"),
    (["--threads", "0"], "threads must be"),
])
def test_bad_train_arguments_are_refused_before_any_training(argv, words, capsys, monkeypatch):
    def trained(*a, **k):
        raise AssertionError("a step was trained before the arguments were checked")

    monkeypatch.setattr(engine.Net, "train_step", trained)
    assert main(["train", "--epochs", "1"] + argv if "--epochs" not in argv else ["train"] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert re.search(words, err) and "Traceback" not in err and len(err.splitlines()) == 1


def test_a_run_at_chance_says_it_is_not_learning_exits_3_and_keeps_its_record(tmp_path, capsys):
    """`train --epochs 0.5 --method sgd --learning-rate 1 --momentum 0.9 --seed 2` sat at 0.0958
    and exited 0, status "done" (issue 20). The same on 4,000 images of MNIST, seed 3: it
    neither blows up nor learns; it says so as a divergence does."""
    from .dataset_files import write_small_mnist
    data = write_small_mnist(tmp_path / "small.npz")
    out = tmp_path / "net.json"
    rc = main(["train", "--data", str(data), "--epochs", "2", "--method", "sgd", "--learning-rate", "1",
               "--momentum", "0.9", "--seed", "3", "--quiet", "--out", str(out),
               "--session", str(tmp_path / "s")])
    captured = capsys.readouterr()
    err = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert rc == 3 and len(err) == 1, captured.err
    assert "accuracy is" in err[0] and "chance level" in err[0] and "not learning" in err[0]
    assert "try 0.01" in err[0] and "last good weights" in err[0]
    _, meta = engine.snapshots.load_snapshot(out)
    assert "not learning" in meta["not_learning"]
    from engine.runs.records import list_runs
    runs = list_runs(tmp_path / "s")
    assert [r["status"] for r in runs] == ["not learning"] and "not learning" in runs[0]["message"]


def test_a_short_run_that_learns_is_not_called_not_learning(tmp_path, capsys):
    from .dataset_files import write_small_mnist
    data = write_small_mnist(tmp_path / "small.npz")
    assert main(["train", "--data", str(data), "--epochs", "1.5", "--quiet", "--seed", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["test_accuracy"] > 0.5


@pytest.mark.slow
def test_fast_preset_reaches_99_3_percent_within_its_epochs():
    proc = subprocess.run([sys.executable, "-m", "engine", "bench", "--to-accuracy", "0.993",
                           "--preset", "fast", "--seed", "0"], capture_output=True, text=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0 and result["reached"] and result["test_accuracy"] >= 0.993
