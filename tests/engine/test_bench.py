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
