"""``python -m engine bench --preset/--spec --compare torch``: the same network, alternating rounds.

Tiny settings only (fractions of a second per round): the figures are not checked,
only that they are what the command says they are.
"""
import json
import statistics
import subprocess
import sys

import numpy as np
import pytest

from engine.cli import bench_rounds
from engine.runs.experiment import Experiment, preset


def _bench(*args, timeout=300):
    proc = subprocess.run([sys.executable, "-m", "engine", "bench", *args],
                          capture_output=True, text=True, timeout=timeout)
    return proc


def test_preset_against_torch_prints_medians_and_spread_of_alternating_rounds():
    pytest.importorskip("torch")
    proc = _bench("--preset", "strong-convnet", "--batch-sizes", "3", "--seconds", "0.05",
                  "--rounds", "3", "--compare", "torch")
    assert proc.returncode == 0, proc.stderr
    engine, torch, ratio = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    for rec, fw in ((engine, "engine"), (torch, "torch")):
        assert rec["framework"] == fw and rec["net"] == "strong-convnet" and rec["batch_size"] == 3
        assert len(rec["rounds"]) == 3
        assert rec["train_examples_per_second"] == pytest.approx(statistics.median(rec["rounds"]), abs=0.1)
        assert rec["lowest"] == min(rec["rounds"]) and rec["highest"] == max(rec["rounds"])
    assert engine["blas"] and torch["version"]
    assert ratio["engine_vs_torch"] == pytest.approx(
        engine["train_examples_per_second"] / torch["train_examples_per_second"], rel=0.02)


def test_spec_file_that_mnist_does_not_fit_runs_on_random_inputs(tmp_path):
    spec = tmp_path / "colour.json"
    spec.write_text(json.dumps([{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 3},
                                {"type": "conv", "sx": 3, "filters": 4, "pad": 1, "activation": "relu"},
                                {"type": "softmax", "num_classes": 3}]))
    proc = _bench("--spec", str(spec), "--batch-sizes", "2,5", "--seconds", "0.02", "--rounds", "2")
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert [(r["framework"], r["net"], r["batch_size"]) for r in recs] == [
        ("engine", "colour", 2), ("engine", "colour", 5)]
    assert all(len(r["rounds"]) == 2 and r["train_examples_per_second"] > 0 for r in recs)


def test_bad_batch_sizes_are_one_line_errors():
    proc = _bench("--preset", "convnetjs-demo", "--batch-sizes", "20,x")
    assert proc.returncode != 0 and "--batch-sizes" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = _bench("--preset", "convnetjs-demo", "--batch-sizes", "0")
    assert proc.returncode != 0 and "at least 1" in proc.stderr and "Traceback" not in proc.stderr


def test_torch_side_trains_the_same_network_as_the_engine():
    """The bench's PyTorch module is the engine's net: same scores for the same inputs."""
    torch = pytest.importorskip("torch")
    exp = preset("strong-convnet")
    net = exp.build_net(seed=0)
    module = bench_rounds.torch_model(net).eval()  # eval: dropout off on both sides
    x = np.random.default_rng(1).standard_normal((4,) + net.input_shape).astype(np.float32)
    with torch.no_grad():
        scores = module.scores(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    probs = np.exp(scores - scores.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    np.testing.assert_allclose(probs, net.infer(x).reshape(4, -1), atol=1e-5)


@pytest.mark.parametrize("method,cls", [("adam", "Adam"), ("adadelta", "Adadelta"), ("sgd", "SGD"),
                                         ("nesterov", "SGD"), ("adagrad", "Adagrad"),
                                         ("windowgrad", "RMSprop")])
def test_torch_optimizer_follows_the_trainer(method, cls):
    torch = pytest.importorskip("torch")
    t = dict(Experiment([{"type": "input", "out_sx": 1, "out_sy": 1, "out_depth": 1},
                         {"type": "softmax", "num_classes": 2}]).trainer, method=method, l2_decay=0.01)
    opt = bench_rounds.torch_optimizer(torch, [torch.zeros(2, requires_grad=True)], t)
    assert type(opt).__name__ == cls and opt.param_groups[0]["weight_decay"] == 0.01


def test_engine_alone_is_the_engine_without_its_worker():
    proc = _bench("--preset", "convnetjs-demo", "--batch-sizes", "20", "--seconds", "0.05",
                  "--rounds", "2", "--compare", "engine-alone")
    assert proc.returncode == 0, proc.stderr
    engine, alone, ratio = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert alone["framework"] == "engine-alone" and alone["worker_processes"] == 0
    assert alone["workers_used"] == {}  # never asked: the worker is switched off
    assert engine["workers_used"][str(20)] in ("with the worker", "without the worker", "measuring")
    assert "engine_vs_engine-alone" in ratio


def test_unknown_framework_is_a_one_line_error():
    proc = _bench("--preset", "convnetjs-demo", "--batch-sizes", "2", "--compare", "tensorflow")
    assert proc.returncode != 0 and "tensorflow" in proc.stderr and "Traceback" not in proc.stderr


def _small_experiment(tmp_path, epochs=1.0, learning_rate=0.01):
    from tests.engine.dataset_files import images, write_npz
    data = write_npz(tmp_path / "small.npz", images(400, classes=3, seed=1), images(60, classes=3, seed=2))
    exp = Experiment([{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 1},
                      {"type": "fc", "num_neurons": 8, "activation": "relu"},
                      {"type": "softmax", "num_classes": 3}])
    exp = exp.replace(data=str(data), validation=0, epochs=epochs,
                      trainer=dict(exp.trainer, method="adam", learning_rate=learning_rate, batch_size=10))
    path = tmp_path / "small.json"
    exp.save(path)
    return path


def test_to_accuracy_tests_every_quarter_epoch_and_says_when_it_never_gets_there(tmp_path):
    spec = _small_experiment(tmp_path, learning_rate=1e-9)  # learns nothing: never gets there
    proc = _bench("--to-accuracy", "1.0", "--spec", str(spec), "--progress")
    *points, result = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert proc.returncode == 1 and not result["reached"]
    assert [p["epoch"] for p in points] == [0.25, 0.5, 0.75, 1.0]
    assert all(0 <= p["test_accuracy"] <= 1 for p in points)
    assert result["seconds"] is None and result["epoch"] == 1.0


def test_to_accuracy_prints_the_training_seconds_at_the_first_test_that_reaches_it(tmp_path):
    spec = _small_experiment(tmp_path, epochs=2.0)
    proc = _bench("--to-accuracy", "0.9", "--spec", str(spec), "--progress")
    assert proc.returncode == 0, proc.stderr
    *points, result = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert result["reached"] and result["test_accuracy"] >= 0.9
    assert points[-1]["test_accuracy"] >= 0.9 and all(p["test_accuracy"] < 0.9 for p in points[:-1])
    assert result["seconds"] == points[-1]["seconds"] and result["epoch"] == points[-1]["epoch"]
    assert result["with_evaluations"] >= result["seconds"]


def test_to_accuracy_out_of_range_is_a_one_line_error():
    proc = _bench("--to-accuracy", "99.3", "--preset", "convnetjs-demo")
    assert proc.returncode != 0 and "fraction" in proc.stderr and "Traceback" not in proc.stderr


def test_the_demo_bench_times_steps_after_the_engine_chose_whether_to_use_its_worker():
    """The first check of the worker (a second of steps each way) is not in the timed steps, as
    the worker's start is not: the figure is what a run trains at (issue #22's speed check)."""
    from engine.cli import bench as demo_bench
    r = demo_bench.worker_engine(20, 0.2)
    assert r["worker_choice"] in ("with the worker", "without the worker")
    assert r["train"] > 0
    r1 = demo_bench.worker_engine(1, 0.1)
    assert r1["worker_choice"] == "no worker at this batch size"
