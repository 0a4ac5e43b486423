"""Sessions: a run kept in a folder, saved atomically, resumed exactly, its records kept."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from engine.cli import main
from engine.runs import checkpoint
from engine.runs.experiment import preset
from engine.runs.records import list_runs
from engine.runs.session_folder import Session, SessionError
from engine.runs.snapshots import load_snapshot, load_trained
from tests.engine.dataset_files import write_small_mnist


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    """4,000 MNIST training and 1,000 test images as an .npz (training on it takes a second)."""
    return write_small_mnist(tmp_path_factory.mktemp("data") / "mnist-small.npz")


def weights(path):
    net, _ = load_snapshot(path)
    return net.state_arrays()


def train(*argv):
    return main(["train", "--quiet", *map(str, argv)])


def test_half_an_epoch_twice_with_a_resume_between_equals_one_epoch(small_mnist, tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.setenv("ENGINE_PROCESSES", "0")
    common = ["--data", small_mnist, "--validation", 1000, "--seed", 7]
    assert train(*common, "--epochs", 1, "--out", tmp_path / "once.json") == 0
    once = json.loads(capsys.readouterr().out)
    session = tmp_path / "session"
    assert train(*common, "--epochs", 0.5, "--session", session) == 0
    half = json.loads(capsys.readouterr().out)
    assert half["examples_seen"] == 1500 and half["run"] == "run-0001"
    assert train("--resume", session, "--epochs", 0.5, "--out", tmp_path / "twice.json") == 0
    twice = json.loads(capsys.readouterr().out)
    assert twice["examples_seen"] == once["examples_seen"] == 3000
    for a, b in zip(weights(tmp_path / "once.json"), weights(tmp_path / "twice.json")):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert twice["test_accuracy"] == pytest.approx(once["test_accuracy"], abs=1e-3)
    # one run, recorded in two stretches, its curves continuing
    (record,) = list_runs(session)
    assert record["status"] == "done" and len(record["segments"]) == 2
    assert record["metrics"]["examples_seen"] == 3000
    assert record["metrics"]["test_accuracy"] == twice["test_accuracy"]
    seen = record["curves"]["progress"]["examples_seen"]
    assert seen == sorted(seen) and seen[-1] == 3000
    assert [c["setting"] for c in record["changes"]] == ["epochs"]


def test_resume_without_epochs_finishes_the_planned_run_and_a_finished_run_asks(small_mnist, tmp_path,
                                                                               capsys):
    session = tmp_path / "s"
    assert train("--data", small_mnist, "--validation", 1000, "--epochs", 0.2, "--seed", 5,
                 "--session", session) == 0
    capsys.readouterr()
    assert train("--resume", session) == 2
    assert "the run is complete" in capsys.readouterr().err
    assert train("--resume", session, "--epochs", 0.1, "--learning-rate", 0.05,
                 "--method", "sgd", "--momentum", 0) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["examples_seen"] == 900
    # a new evaluation period for the rest of the run
    assert train("--resume", session, "--epochs", 0.1, "--eval-every", 100) == 0
    (record,) = Session.open(session).runs()
    assert record["curves"]["eval"]["examples_seen"][-3:] == [1000, 1100, 1200]
    (record,) = Session.open(session).runs()
    changes = [(c["examples_seen"], c["setting"], c["from"], c["to"]) for c in record["changes"]]
    assert changes == [(600, "method", "adadelta", "sgd"), (600, "learning_rate", 0.01, 0.05),
                       (600, "momentum", 0.9, 0), (600, "epochs", 0.2, pytest.approx(0.3)),
                       (900, "epochs", pytest.approx(0.3), pytest.approx(0.4))]
    assert Session.open(session).experiment.trainer["method"] == "sgd"


def test_a_second_train_in_a_session_is_a_second_run(small_mnist, tmp_path, capsys):
    session = tmp_path / "s"
    for lr in (0.01, 0.02):
        assert train("--data", small_mnist, "--validation", 1000, "--epochs", 0.1, "--method", "sgd",
                     "--learning-rate", lr, "--session", session) == 0
    capsys.readouterr()
    runs = Session.open(session).runs()
    assert [r["id"] for r in runs] == ["run-0001", "run-0002"]
    assert [r["experiment"]["trainer"]["learning_rate"] for r in runs] == [0.01, 0.02]
    assert len(list(session.glob("checkpoint-*.npz"))) == 1  # the current run's


@pytest.mark.parametrize("argv,words", [
    (["--resume", "{tmp}/nothing"], "no such session folder"),
    (["--resume", "{tmp}/s", "--seed", "3"], "--seed cannot be given with --resume"),
    (["--session", "{tmp}/full"], "not a session, and not an empty folder"),
    (["--session", "{tmp}/no/such/parent"], "does not exist"),
    (["--early-stop", "0", "--epochs", "0.1"], "--early-stop must be at least 1"),
    (["--save-every", "0", "--epochs", "0.1"], "--save-every must be above 0"),
    (["--keep-best", "--validation", "0", "--epochs", "0.1"], "holds out no images"),
    (["--eval-every", "0", "--epochs", "0.1"], "--eval-every must be at least 1"),
])
def test_bad_session_arguments_are_one_line(tmp_path, capsys, argv, words):
    (tmp_path / "s").mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "thesis.txt").write_text("mine")
    assert main(["train", *[a.format(tmp=tmp_path) for a in argv]]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and words in err and len(err.splitlines()) == 1
    assert (tmp_path / "full" / "thesis.txt").read_text() == "mine"


def test_resuming_on_other_data_is_refused(small_mnist, tmp_path, capsys):
    session = tmp_path / "s"
    assert train("--data", small_mnist, "--validation", 1000, "--epochs", 0.1, "--session", session) == 0
    other = tmp_path / "other.npz"
    with np.load(small_mnist) as z:
        np.savez(other, x_train=z["x_train"], y_train=z["y_train"][::-1], x_test=z["x_test"],
                 y_test=z["y_test"])
    capsys.readouterr()
    assert train("--resume", session, "--epochs", 0.1, "--data", other) == 2
    assert "trained on other data" in capsys.readouterr().err


def test_a_save_that_fails_midway_keeps_the_last_complete_one(small_mnist, tmp_path, monkeypatch):
    from engine.data.formats import load
    data = load(small_mnist)
    exp = preset("convnetjs-demo").replace(epochs=0.2, validation=1000, seed=1)
    session = Session.create(tmp_path / "s", exp)
    training = session.start(data, test=False, eval_examples=None)
    gen = training.reports()
    next(gen)
    training.save()
    saved = session.info["checkpoint"]
    seen = checkpoint.read(tmp_path / "s" / saved)["info"]["run"]["examples_seen"]

    def broken(path, data):
        with open(path.parent / f".{path.name}.half.tmp", "wb") as f:
            f.write(data[:100])
        raise OSError("disk full")

    monkeypatch.setattr("engine.core.io.atomic_write_bytes", broken)
    next(gen)
    with pytest.raises(OSError, match="disk full"):
        training.save()
    again = Session.open(tmp_path / "s", lock=True)  # (the writer's lock: it cleans up)
    assert again.info["checkpoint"] == saved
    assert again.checkpoint()["info"]["run"]["examples_seen"] == seen
    monkeypatch.undo()
    tr = again.resume(data, epochs=0.05, test=False, eval_examples=None)
    assert tr.run.examples_seen == seen
    assert [r["tag"] for r in tr.reports()][-1] == "done"
    assert not list((tmp_path / "s").glob(".*.tmp"))  # the next writer cleaned up


def test_keep_best_writes_the_best_weights_and_early_stop_ends_the_run(small_mnist, tmp_path, capsys):
    session = tmp_path / "s"
    # a rate that trains and then goes nowhere: evaluations every 200 examples, patience 2
    assert train("--data", small_mnist, "--validation", 1000, "--epochs", 3, "--method", "sgd",
                 "--learning-rate", 0.05, "--momentum", 0.9, "--seed", 2, "--eval-every", 200,
                 "--early-stop", 2, "--session", session, "--out", tmp_path / "net.json") == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert "Stopped early" in captured.err and result["examples_seen"] < 3 * 3000
    (record,) = Session.open(session).runs()
    assert record["status"] == "early stopped"
    evals = record["curves"]["eval"]
    best = max(v for v in evals["validation_accuracy"] if v is not None)
    assert record["metrics"]["best_validation_accuracy"] == best
    net, exp, meta = load_trained(session / "best.json")
    assert meta["validation_accuracy"] == best and meta["examples_seen"] == result["best_examples_seen"]
    # --out and the reported accuracies are the best weights'
    assert result["validation_accuracy"] == pytest.approx(best)
    for a, b in zip(net.state_arrays(), weights(tmp_path / "net.json")):
        np.testing.assert_array_equal(a, b)


def test_save_as_copies_a_session_that_opens_and_resumes(small_mnist, tmp_path, capsys):
    session = tmp_path / "s"
    assert train("--data", small_mnist, "--validation", 1000, "--epochs", 0.1, "--session", session) == 0
    copy = Session.open(session).save_as(tmp_path / "copy")
    assert copy.runs()[0]["id"] == "run-0001"
    with pytest.raises(SessionError, match="not empty"):
        Session.open(session).save_as(session)
    capsys.readouterr()
    assert train("--resume", tmp_path / "copy", "--epochs", 0.1) == 0


def test_a_killed_training_loses_at_most_the_time_since_its_last_save(small_mnist, tmp_path):
    """SIGKILL while training: the session opens, shows the run as interrupted with its
    curves, and resumes from a save made less than --save-every seconds before the kill."""
    session = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "engine", "train", "--data", str(small_mnist),
                             "--validation", "1000", "--epochs", "50", "--quiet", "--session",
                             str(session), "--save-every", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, ENGINE_PROCESSES="0"))
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            info = session / "session.json"
            if info.exists() and json.loads(info.read_text()).get("generation", 0) >= 3:
                break
            time.sleep(0.1)
        else:
            pytest.fail("no saves within a minute: " + proc.stderr.read1().decode())
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        killed = time.time()
    finally:
        proc.kill()
        proc.wait()
    s = Session.open(session)
    (record,) = s.runs()
    assert record["status"] == "interrupted" and record["curves"]["progress"]["examples_seen"]
    saved = os.path.getmtime(session / s.info["checkpoint"])
    assert killed - saved < 1 + 2.0  # one --save-every, plus a slow save on a loaded machine
    seen = s.checkpoint()["info"]["run"]["examples_seen"]
    assert seen > 0
    rc = subprocess.run([sys.executable, "-m", "engine", "train", "--resume", str(session),
                         "--epochs", "0.05", "--quiet"], capture_output=True, text=True, timeout=120)
    assert rc.returncode == 0, rc.stderr
    assert json.loads(rc.stdout)["examples_seen"] == seen + 150


DROPOUT_DEFS = [{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 1},
                {"type": "conv", "sx": 3, "filters": 4, "pad": 1, "activation": "relu"},
                {"type": "pool", "sx": 2, "stride": 2},
                {"type": "fc", "num_neurons": 12, "activation": "relu", "drop_prob": 0.3},
                {"type": "softmax", "num_classes": 3}]


def toy_dataset():
    from engine.data import Dataset, ImageSet
    from tests.engine.dataset_files import images
    x, y = images(600, 10, 10, classes=3, seed=0)
    xt, yt = images(90, 10, 10, classes=3, seed=1)
    return Dataset(ImageSet(x, y), ImageSet(xt, yt), name="toy", num_classes=3)


@pytest.mark.parametrize("method", ["sgd", "nesterov", "adagrad", "windowgrad", "adadelta", "adam"])
def test_every_trainer_and_dropout_resume_exactly(method, tmp_path, monkeypatch):
    """The accumulators, the update count (adam's bias correction), the net's generator
    (dropout masks) and the data order and crops all come back."""
    from engine.runs.experiment import Experiment
    monkeypatch.setenv("ENGINE_PROCESSES", "0")
    data = toy_dataset()
    exp = Experiment(DROPOUT_DEFS, trainer={"method": method, "learning_rate": 0.01, "batch_size": 10,
                                            "l2_decay": 0.001, "eps": 1e-6},
                     augment={"crop": 8, "shift": 1, "flip": True}, validation=100, epochs=2, seed=3)
    # chunks end at the evaluations (never on a timer), so that the divergence watch, which
    # judges each chunk, sees the same chunks whatever the machine's load
    kw = dict(test=False, eval_examples=40, eval_every=130, chunk_seconds=3600)
    whole = Session.create(tmp_path / "whole", exp).start(data, **kw)
    list(whole.reports())
    half = Session.create(tmp_path / "half", exp.replace(epochs=1)).start(data, **kw)
    list(half.reports())
    rest = Session.open(tmp_path / "half").resume(data, epochs=1, **kw)
    reports = list(rest.reports())
    assert rest.trainer.updates == whole.trainer.updates == 100
    for a, b in zip(whole.net.state_arrays(), rest.net.state_arrays()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    # the evaluation schedule went on: an evaluation after the batch that reaches every 130
    # examples, in the resumed run too (the half run's own last one at 500 as well)
    evals = lambda tr: tr.record["curves"]["eval"]["examples_seen"]  # noqa: E731
    assert evals(whole) == [130, 260, 390, 520, 650, 780, 910, 1000]
    assert evals(rest) == [130, 260, 390, 500, 520, 650, 780, 910, 1000] and reports[-1]["tag"] == "done"


@pytest.mark.slow
def test_the_demo_preset_half_an_epoch_twice_equals_one_epoch(tmp_path, capsys, monkeypatch):
    """The issue's own check: the bundled MNIST, the demo preset, --seed, no worker processes."""
    monkeypatch.setenv("ENGINE_PROCESSES", "0")
    assert train("--seed", 11, "--epochs", 1, "--out", tmp_path / "once.json") == 0
    assert train("--seed", 11, "--epochs", 0.5, "--session", tmp_path / "s") == 0
    assert train("--resume", tmp_path / "s", "--epochs", 0.5, "--out", tmp_path / "twice.json") == 0
    capsys.readouterr()
    for a, b in zip(weights(tmp_path / "once.json"), weights(tmp_path / "twice.json")):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
