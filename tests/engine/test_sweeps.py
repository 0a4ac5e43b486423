"""Sweeps, the learning-rate finder and trainer races, from Python and from the CLI."""
import csv
import json
import time

import numpy as np
import pytest

import engine
from engine.cli import main
from engine.data import Dataset, ImageSet, load_mnist
from engine.runs.experiment import Experiment, preset
from engine.runs.records import list_runs
from engine.runs.session_folder import Session
from engine.studies.lrfind import find_learning_rate
from engine.studies.race import Race
from engine.studies.sweep import grid_settings, parse_ranges, parse_settings, random_settings, run_sweep
from tests.engine.dataset_files import images


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory, mnist):
    path = tmp_path_factory.mktemp("data") / "mnist-small.npz"
    np.savez(path, x_train=mnist.train.images[:4000, ..., 0], y_train=mnist.train.labels[:4000],
             x_test=mnist.test.images[:1000, ..., 0], y_test=mnist.test.labels[:1000])
    return path


# -- sweeps ----------------------------------------------------------------------------------
def test_the_sweep_command_writes_runs_csv_and_a_session_per_run(small_mnist, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", "--preset", "convnetjs-demo", "--data", str(small_mnist), "--validation",
                 "1000", "--grid", "learning_rate=0.003,0.01", "method=adadelta,sgd", "--epochs",
                 "0.1", "--out", str(out), "--quiet"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    with open(out / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:6] == ["run", "learning_rate", "method", "test_accuracy", "val_accuracy",
                                 "seconds"]
    assert [(r["learning_rate"], r["method"]) for r in rows] == [
        ("0.003", "adadelta"), ("0.003", "sgd"), ("0.01", "adadelta"), ("0.01", "sgd")]
    assert [line["test_accuracy"] for line in lines] == [float(r["test_accuracy"]) for r in rows]
    for r in rows:
        assert 0.1 < float(r["test_accuracy"]) <= 1 and 0 < float(r["val_accuracy"]) <= 1
        assert float(r["seconds"]) > 0 and r["status"] == "done"
        session = Session.open(out / r["run"])
        (record,) = session.runs()
        assert record["name"] == f"learning_rate={r['learning_rate']} method={r['method']}"
        assert record["metrics"]["test_accuracy"] == pytest.approx(float(r["test_accuracy"]), abs=1e-4)
        assert session.experiment.trainer["method"] == r["method"]
    # the same seed for every run: adadelta ignores the rate, so its two runs are one
    assert rows[0]["test_accuracy"] == rows[2]["test_accuracy"]
    # a run of a sweep goes on like any session
    assert main(["train", "--resume", str(out / "run-004"), "--epochs", "0.05", "--quiet"]) == 0


def test_a_random_sweep_over_a_layer_option(small_mnist, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", "--data", str(small_mnist), "--validation", "1000", "--random", "3",
                 "--ranges", "learning_rate=1e-3:1e-1", "layers.1.filters=4:12", "method=sgd,adam",
                 "--epochs", "0.05", "--out", str(out), "--quiet"]) == 0
    with open(out / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    for r in rows:
        assert 1e-3 <= float(r["learning_rate"]) <= 1e-1 and r["method"] in ("sgd", "adam")
        filters = int(r["layers.1.filters"])
        assert 4 <= filters <= 12
        exp = Session.open(out / r["run"]).experiment
        assert exp.layer_defs[1]["filters"] == filters


def test_sweep_plans():
    grid = parse_settings(["learning_rate=0.003,0.01", "method=adadelta,sgd", "augment.flip=true,false"])
    plan = grid_settings(grid)
    assert len(plan) == 8 and plan[0] == {"learning_rate": 0.003, "method": "adadelta",
                                          "augment.flip": True}
    ranges = parse_ranges(["learning_rate=1e-4:1e-1", "batch_size=8:64", "momentum=0.5:0.99",
                           "method=sgd,nesterov"])
    assert ranges["learning_rate"]["log"] and not ranges["momentum"]["log"]
    assert ranges["batch_size"]["whole"] and not ranges["batch_size"]["log"]  # less than a decade
    draws = random_settings(ranges, 200, seed=1)
    assert draws == random_settings(ranges, 200, seed=1)
    lrs = np.array([d["learning_rate"] for d in draws])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1e-1
    # log-uniform: about a third of the draws in each decade
    assert 0.2 < np.mean(lrs < 1e-3) < 0.45 and 0.2 < np.mean(lrs > 1e-2) < 0.45
    assert all(isinstance(d["batch_size"], int) and 8 <= d["batch_size"] <= 64 for d in draws)
    assert {d["method"] for d in draws} == {"sgd", "nesterov"}


@pytest.mark.parametrize("argv,words", [
    (["--grid", "lr=0.1,0.2"], "unknown setting 'lr'"),
    (["--grid", "learning_rate=0.1", "learning_rate=0.2"], "learning_rate is given twice"),
    (["--grid", "learning_rate=-1"], "sweep run 1 (learning_rate=-1): trainer: the learning rate ('learning_rate') must be at least 0"),
    (["--grid", "layers.2.sx=2,40"], "sweep run 2 (layers.2.sx=40): layer 2, pool 40x40"),
    (["--grid", "layers.9.filters=3"], "layer definitions (0 to 5)"),
    (["--grid", "method=rmsprop"], "method 'rmsprop'"),
    (["--random", "3"], "--random N needs --ranges"),
    (["--random", "3", "--ranges", "learning_rate=0.1:0.01"], "LOW < HIGH"),
    (["--random", "0", "--ranges", "learning_rate=0.01:0.1"], "at least 1 run"),
    (["--grid", "learning_rate=0.1", "--out", "{tmp}/full"], "exists and is not empty"),
])
def test_bad_sweeps_are_one_line_before_any_training(tmp_path, capsys, argv, words, monkeypatch):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    argv = [a.format(tmp=tmp_path) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    def trained(*a, **k):
        raise AssertionError("a step was trained before the sweep was checked")

    monkeypatch.setattr(engine.Net, "train_step", trained)
    assert main(["sweep", "--epochs", "1", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and words in err and len(err.splitlines()) == 1, err


def test_a_sweep_can_be_cancelled_from_its_progress(small_mnist, tmp_path):
    from engine.data.formats import load
    data = load(small_mnist)
    exp = preset("convnetjs-demo").replace(validation=1000, seed=0, epochs=1)
    events = []
    stop = {"now": False}

    def progress(ev):
        events.append(ev)
        if ev["tag"] == "report" and ev["report"]["examples_seen"] >= 200:
            stop["now"] = True

    rows = run_sweep(exp, [{"learning_rate": 0.01}, {"learning_rate": 0.02}], data, tmp_path / "s",
                     progress=progress, cancelled=lambda: stop["now"])
    assert [r["status"] for r in rows] == ["stopped"] and rows[0]["test_accuracy"] is not None
    assert events[-1]["tag"] == "result" and not (tmp_path / "s" / "run-002").exists()
    assert list_runs(tmp_path / "s" / "run-001")[0]["status"] == "stopped"


@pytest.mark.slow
def test_eight_runs_of_a_fifth_of_an_epoch_take_under_two_minutes(tmp_path, capsys):
    t = time.perf_counter()
    assert main(["sweep", "--preset", "convnetjs-demo", "--grid", "learning_rate=0.003,0.01",
                 "method=adadelta,sgd", "batch_size=20,50", "--epochs", "0.2", "--out",
                 str(tmp_path / "s"), "--quiet"]) == 0
    seconds = time.perf_counter() - t
    with open(tmp_path / "s" / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and all(float(r["test_accuracy"]) > 0.8 for r in rows)
    assert seconds < 120


# -- the learning-rate finder ----------------------------------------------------------------
def test_lr_find_suggests_a_rate(capsys):
    assert main(["lr-find", "--preset", "convnetjs-demo", "--method", "sgd", "--momentum", "0.9"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    result = json.loads(out[0])
    assert 0.003 <= result["suggested_learning_rate"] <= 0.1  # 0.01 is known to train well
    assert result["method"] == "sgd" and result["batches"] >= 100 and result["seconds"] > 0


def test_lr_find_leaves_the_weights_alone_and_reports_progress(mnist):
    from engine.core.errors import Cancelled
    exp = preset("convnetjs-demo").replace(trainer=dict(preset("convnetjs-demo").trainer, method="adam"))
    net = exp.build_net(seed=3)
    before = [a.copy() for a in net.state_arrays()]
    seen = []
    result = find_learning_rate(exp, mnist, net=net, batches=60, progress=seen.append)
    assert seen == sorted(seen) and 0 < seen[0] and seen[-1] <= 1
    with pytest.raises(Cancelled):
        find_learning_rate(exp, mnist, net=net, batches=60, cancelled=lambda: len(seen) > 70,
                           progress=seen.append)
    assert len(result["rates"]) == len(result["losses"]) > 10
    assert result["rates"] == sorted(result["rates"])
    for a, b in zip(net.state_arrays(), before):
        np.testing.assert_array_equal(a, b)


def test_lr_find_with_adadelta_says_the_method_sets_its_own_step(capsys):
    assert main(["lr-find", "--preset", "convnetjs-demo"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["suggested_learning_rate"] is None and result["method"] == "adadelta"
    assert "sets its own step" in result["reason"]


def test_lr_find_on_labels_it_cannot_learn_suggests_nothing():
    x, y = images(400, 10, 10, classes=3)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, x.shape).astype(np.uint8)  # noise: nothing to learn
    data = Dataset(ImageSet(x, y), ImageSet(x[:30], y[:30]), name="noise", num_classes=3)
    exp = Experiment([{"type": "input", "out_sx": 10, "out_sy": 10, "out_depth": 1},
                      {"type": "fc", "num_neurons": 8, "activation": "relu"},
                      {"type": "softmax", "num_classes": 3}],
                     trainer={"method": "sgd", "momentum": 0.9, "batch_size": 10}, validation=0, seed=0)
    result = find_learning_rate(exp, data, batches=100, end=1e-3)
    assert result["suggested_learning_rate"] is None and "never fell" in result["reason"]


@pytest.mark.slow
def test_the_suggested_rate_trains_the_demo_net_to_90_percent(mnist, capsys):
    assert main(["lr-find", "--preset", "convnetjs-demo", "--method", "sgd", "--momentum", "0.9"]) == 0
    rate = json.loads(capsys.readouterr().out)["suggested_learning_rate"]
    assert main(["train", "--method", "sgd", "--momentum", "0.9", "--learning-rate", str(rate),
                 "--epochs", "0.3", "--seed", "0", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["test_accuracy"] >= 0.9


# -- races -----------------------------------------------------------------------------------
def toy():
    x, y = images(600, 10, 10, classes=3, seed=0)
    xt, yt = images(90, 10, 10, classes=3, seed=1)
    return Dataset(ImageSet(x, y), ImageSet(xt, yt), name="toy", num_classes=3)


TOY = Experiment([{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 1},
                  {"type": "conv", "sx": 3, "filters": 4, "pad": 1, "activation": "relu"},
                  {"type": "pool", "sx": 2, "stride": 2},
                  {"type": "softmax", "num_classes": 3}],
                 trainer={"batch_size": 10, "l2_decay": 0.001}, validation=100, epochs=1)


def test_a_race_gives_mean_curves_with_bands_and_counts_divergence(monkeypatch):
    monkeypatch.setenv("ENGINE_PROCESSES", "0")
    seen = []
    race = Race(TOY.replace(epochs=3), toy(), methods=["adam", "momentum", "wild"], seeds=[0, 1, 2],
                points=5,
                eval_examples=60, trainers={"wild": {"method": "sgd", "learning_rate": 1e30,
                                                     "momentum": 0.0}})
    result = race.run(progress=seen.append)
    assert result["examples_seen"] == [300, 600, 900, 1200, 1500]
    assert seen[-1] == 1.0 and seen == sorted(seen)
    adam = result["results"]["adam"]
    assert [r["seed"] for r in adam["runs"]] == [0, 1, 2] and adam["diverged"] == 0
    for point, runs in zip(adam["curves"]["validation_accuracy"],
                           zip(*[r["validation_accuracy"] for r in adam["runs"]])):
        assert point["n"] == 3 and point["mean"] == pytest.approx(np.mean(runs))
        assert point["sd"] == pytest.approx(np.std(runs, ddof=1))
        assert point["min"] == min(runs) and point["max"] == max(runs)
    assert adam["final"]["validation_accuracy"]["mean"] > 0.9  # it learns the toy task
    assert any(p["sd"] > 0 for p in adam["curves"]["cost_loss"])  # the seeds differ
    wild = result["results"]["wild"]
    assert wild["diverged"] == 3 and wild["final"]["validation_accuracy"]["n"] == 0
    assert all(r["status"] == "diverged" and "diverged" in r["message"] for r in wild["runs"])
    json.dumps(result)  # plain data


def test_interleaved_and_one_after_another_give_the_same_curves(monkeypatch):
    monkeypatch.setenv("ENGINE_PROCESSES", "0")
    a = Race(TOY, toy(), methods=["sgd", "adagrad"], seeds=2, points=3).run()
    b = Race(TOY, toy(), methods=["sgd", "adagrad"], seeds=2, points=3, interleave=True).run()
    for m in ("sgd", "adagrad"):
        for ra, rb in zip(a["results"][m]["runs"], b["results"][m]["runs"]):
            np.testing.assert_allclose(ra["cost_loss"], rb["cost_loss"], rtol=1e-5)


def test_a_race_stops_when_cancelled_and_keeps_what_it_measured():
    from engine.core.errors import Cancelled
    race = Race(TOY, toy(), methods=["sgd", "adam"], seeds=2, points=4, interleave=True)
    calls = []
    with pytest.raises(Cancelled):
        race.run(cancelled=lambda: len(calls.append(1) or calls) > 3)
    result = race.summary(cancelled=True)
    assert result["cancelled"]
    done = sum(sum(v is not None for v in r["cost_loss"]) for res in result["results"].values()
               for r in res["runs"])
    assert 0 < done < 2 * 2 * 4  # some of the points, not all


def test_the_race_command_prints_a_line_per_trainer(small_mnist, tmp_path, capsys):
    assert main(["race", "--data", str(small_mnist), "--validation", "1000", "--methods",
                 "momentum,adadelta", "--seeds", "2", "--epochs", "0.05", "--points", "3",
                 "--out", str(tmp_path / "race.json"), "--quiet"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["method"] for line in lines] == ["momentum", "adadelta"]
    assert all(line["validation_accuracy"]["n"] == 2 for line in lines)
    saved = json.loads((tmp_path / "race.json").read_text())
    assert saved["methods"] == ["momentum", "adadelta"] and len(saved["examples_seen"]) == 3
    assert main(["race", "--methods", "rmsprop"]) == 2
    assert "unknown trainer 'rmsprop'" in capsys.readouterr().err
