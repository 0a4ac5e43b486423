"""The coach: diagnostics that are right, alerts when a run goes wrong and none when it does not."""
import numpy as np
import pytest

from engine.cli import main
from engine.data import Dataset, ImageSet, load_mnist
from engine.runs.coach import Coach
from engine.runs.experiment import Experiment, preset
from engine.runs.run import make_run
from engine.runs.session_folder import SessionError, Training
from engine.runs.settings import with_settings
from tests.engine.dataset_files import images


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


def demo(mnist, epochs, coach, seed=0, prepare=None, **trainer):
    e = preset("convnetjs-demo").replace(epochs=epochs, seed=seed)
    if trainer:
        e = e.replace(trainer=dict(e.trainer, **trainer))
    net = e.build_net()
    if prepare:
        prepare(net)
    return make_run(e, net, e.build_trainer(net), mnist, coach=coach, eval_every=10000,
                      eval_examples=1000, chunk_seconds=0.05)


def alerts_of(reports):
    return [a for r in reports for a in r.get("alerts", ())]


@pytest.mark.parametrize("seed", [0, 2])
def test_a_rate_of_one_is_called_too_high_within_5000_examples(mnist, seed):
    """sgd with momentum 0.9 at 1 either blows up (the run's divergence watch stops it) or
    kills the ReLUs after a few huge steps (the run goes on at chance): both are the rate."""
    coach = Coach()
    run = demo(mnist, 5000 / 55000, coach, seed=seed, method="sgd", learning_rate=1.0, momentum=0.9)
    reports = list(run.reports())
    alerts = alerts_of(reports)
    assert [a["kind"] for a in alerts] == ["rate_too_high"]
    alert = alerts[0]
    assert alert["examples_seen"] <= 5000 and "too high" in alert["message"]
    # the rate to try is the one the divergence watch suggests (a tenth, at most 0.01 here)
    fix = alert["fixes"][0]
    assert fix["live"] and fix["changes"] == {"learning_rate": pytest.approx(0.01)}
    if reports[-1]["tag"] == "diverged":  # the coach says what the watch said
        assert alert["message"] == reports[-1]["message"]
        assert fix["changes"]["learning_rate"] == reports[-1]["suggested_learning_rate"]
    else:
        assert "dead" in alert["message"] and alert["fixes"][1]["live"] is False


def test_the_demo_presets_own_settings_raise_nothing(mnist):
    coach = Coach()
    reports = list(demo(mnist, 0.4, coach).reports())
    assert reports[-1]["tag"] == "done" and alerts_of(reports) == [] and coach.alerts == []
    diags = [r["diagnostics"] for r in reports if "diagnostics" in r]
    assert diags and diags[-1] is coach.diagnostics  # a report has the chunk's latest probe
    assert [d["examples_seen"] for d in coach.history] == [0, 500, 1000, 2000, 4000, 8000, 16000]
    d = diags[-1]
    kinds = [(x["index"], x["type"]) for x in d["layers"]]
    assert kinds == [(1, "conv"), (2, "relu"), (4, "conv"), (5, "relu"), (7, "fc")]
    for x in d["layers"]:
        if x["type"] == "relu":
            assert 0 <= x["dead_fraction"] <= 1
        else:
            assert x["grad_norm"] > 0 and 1e-5 < x["update_ratio"] < 0.1


@pytest.mark.slow
def test_the_coach_costs_a_few_percent_of_the_training_time(mnist):
    """A figure (it moves with the machine's load), so not in the default run."""
    coach = Coach()
    reports = list(demo(mnist, 0.4, coach).reports())
    elapsed = reports[-1]["time"] - reports[0]["time"]
    print(f"the coach: {coach.seconds:.2f} s of {elapsed:.1f} s")
    assert coach.seconds < 0.05 * elapsed  # about 1% here; "a few percent" at most


@pytest.mark.slow
def test_the_demo_presets_own_settings_raise_nothing_over_three_epochs(mnist):
    coach = Coach()
    reports = list(demo(mnist, 3, coach, seed=1).reports())
    assert reports[-1]["tag"] == "done" and coach.alerts == []


def test_diagnostics_measure_what_they_say(mnist):
    """The update ratio is |W after - W before| / |W after| of one step; a dead channel
    gives zero for every probe image."""
    coach = Coach(probe_every=10 ** 9)

    def kill_three(net):  # three of the eight filters can never fire
        net.layers[1].biases[:3] = -1e3

    run = demo(mnist, 0.01, coach, prepare=kill_three, method="sgd", learning_rate=0.01, momentum=0.0)
    conv = run.net.layers[1]
    w0 = conv.weights.copy()
    run.train_batches(max_batches=1)
    d = {x["index"]: x for x in coach.diagnostics["layers"]}
    assert d[2]["dead_fraction"] == pytest.approx(3 / 8)
    step = np.linalg.norm(conv.weights - w0)
    assert d[1]["update_ratio"] == pytest.approx(step / np.linalg.norm(conv.weights), rel=1e-4)
    # plain sgd: the step is the rate times the gradient (with the decay)
    g = run.net.layers[1].params_and_grads()[0]["grads"]
    assert d[1]["grad_norm"] == pytest.approx(float(np.linalg.norm(g)), rel=1e-5)


def toy_data(noise=False, n=600):
    x, y = images(n, 10, 10, classes=3, seed=0)
    if noise:
        x = np.random.default_rng(1).integers(0, 256, x.shape).astype(np.uint8)
    xt, yt = images(90, 10, 10, classes=3, seed=1)
    return Dataset(ImageSet(x, y), ImageSet(xt, yt), name="toy", num_classes=3)


TOY_DEFS = [{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 1},
            {"type": "conv", "sx": 3, "filters": 8, "pad": 1, "activation": "relu"},
            {"type": "pool", "sx": 2, "stride": 2},
            {"type": "softmax", "num_classes": 3}]


def toy_run(coach, data=None, epochs=20, prepare=None, **trainer):
    e = Experiment(TOY_DEFS, trainer=dict({"batch_size": 10}, **trainer), validation=100,
                   epochs=epochs, seed=0)
    net = e.build_net()
    if prepare:
        prepare(net)
    return make_run(e, net, e.build_trainer(net), data or toy_data(), coach=coach,
                      eval_every=10 ** 9, chunk_seconds=0.01)


def test_a_rate_far_too_low_is_called_too_low():
    coach = Coach(probe_every=200, stuck_after=10 ** 9)
    reports = list(toy_run(coach, method="sgd", learning_rate=1e-7, momentum=0.0).reports())
    (alert,) = alerts_of(reports)
    assert alert["kind"] == "updates_tiny" and "too low" in alert["message"]
    assert alert["fixes"][0] == {"label": "raise the learning rate to 1e-06",
                                 "changes": {"learning_rate": 1e-06}, "live": True}


def test_dead_relus_are_found_and_the_fix_names_the_layer_definition():
    coach = Coach(probe_every=200, stuck_after=10 ** 9)
    def kill_six(net):
        net.layers[1].biases[:6] = -1e3  # six of eight filters dead

    run = toy_run(coach, epochs=3, prepare=kill_six, method="sgd", learning_rate=0.01, momentum=0.0)
    reports = list(run.reports())
    (alert,) = [a for a in alerts_of(reports) if a["kind"] == "dead_relus"]
    assert "75% of the channels of the ReLU of layer 1 (conv 3x3, 8 filters" in alert["message"]
    assert alert["layer"] == 2
    assert alert["fixes"][1] == {"label": "use a leaky ReLU after layer 1 (a new run)",
                                 "changes": {"layers.1.activation": "leaky_relu"}, "live": False}
    # the fixes are settings an experiment takes
    with_settings(Experiment(TOY_DEFS), alert["fixes"][1]["changes"])


def test_accuracy_stuck_at_chance_is_raised_on_images_with_nothing_to_learn():
    coach = Coach(probe_every=500, stuck_after=3000)
    reports = list(toy_run(coach, data=toy_data(noise=True), epochs=10, method="adam",
                           learning_rate=0.001).reports())
    stuck = [a for a in alerts_of(reports) if a["kind"] == "stuck_at_chance"]
    assert stuck and "chance level (33%)" in stuck[0]["message"]
    assert stuck[0]["examples_seen"] >= 3000


def feed(coach, run, evals, train_accs, examples=5000):
    """Progress and eval reports as a run makes them (a fixed validation sample size)."""
    out = []
    for v, t in zip(evals, train_accs):
        run.examples_seen += 2000
        r = {"tag": "progress", "examples_seen": run.examples_seen, "examples": 2000,
             "train_accuracy": t, "cost_loss": 1 - t}
        coach.review(r)
        e = {"tag": "eval", "examples_seen": run.examples_seen, "validation_accuracy": v,
             "validation_examples": examples}
        coach.review(e)
        out += [r, e]
    return alerts_of(out)


def test_overfitting_is_validation_falling_beyond_its_noise_while_training_rises():
    run = toy_run(None, epochs=1)
    rising = [0.95, 0.96, 0.97, 0.975, 0.98, 0.985, 0.99]

    def alerts(evals, train, examples=5000):
        coach = Coach()
        coach.attach(run)
        return feed(coach, run, evals, train, examples)

    # on 5,000 images each: the first three at 95.8%, the next three at 94.3% (raised then)
    (alert,) = alerts([0.95, 0.96, 0.965, 0.96, 0.94, 0.93, 0.92], rising)
    assert alert["kind"] == "overfitting" and alert["examples_seen"] == run.examples_seen - 2000
    assert "from 95.83% (its best three evaluations) to 94.33% (the last three)" in alert["message"]
    changes = [f["changes"] for f in alert["fixes"]]
    assert changes == [{"l2_decay": 1e-3}, {"augment.shift": 2}, {"layers.1.drop_prob": 0.5}]
    # too early to tell
    assert alerts([0.96, 0.94, 0.92], rising[:3]) == []
    # a fall of about one point measured on 1,000 images is within chance: nothing
    assert alerts([0.95, 0.96, 0.965, 0.96, 0.955, 0.95, 0.945], rising, examples=1000) == []
    # one lucky sample is not a peak (the demo net at 90,000 examples, seed 1)
    assert alerts([0.965, 0.98, 0.975, 0.98, 0.989, 0.975, 0.97],
                  [0.969, 0.975, 0.968, 0.972, 0.972, 0.976, 0.976], examples=1000) == []
    # falling while training falls too is not overfitting
    assert alerts([0.95, 0.96, 0.965, 0.96, 0.94, 0.93, 0.92], rising[::-1]) == []


def test_a_live_fix_goes_through_the_training_and_is_recorded(mnist):
    e = preset("convnetjs-demo").replace(epochs=0.2, seed=0, trainer=dict(
        preset("convnetjs-demo").trainer, method="sgd", learning_rate=0.3, momentum=0.9))
    net = e.build_net()
    tr = Training(net, e.build_trainer(net), e, mnist, test=False, eval_examples=None,
                  coach=Coach())
    gen = tr.reports()
    alert = None
    for r in gen:
        if r.get("alerts"):
            alert = r["alerts"][0]
            break
    assert alert is not None and alert["kind"] in ("rate_too_high", "dead_relus")
    fix = alert["fixes"][0]
    tr.change_settings(fix["changes"])
    next(gen)
    assert tr.trainer.learning_rate == fix["changes"]["learning_rate"] < 0.3
    (change,) = tr.record["changes"]
    assert change["setting"] == "learning_rate" and change["from"] == 0.3
    with pytest.raises(SessionError, match="cannot change while a network trains"):
        tr.change_settings({"layers.1.activation": "leaky_relu"})
    gen.close()


def test_the_train_command_prints_the_coachs_alerts(capsys):
    # (it diverges, or its ReLUs die, depending on the seed: the coach says "too high" either way)
    assert main(["train", "--epochs", "0.1", "--method", "sgd", "--learning-rate", "1",
                 "--momentum", "0.9", "--coach", "--quiet"]) in (0, 3)
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if line.startswith("coach: ")]
    assert "learning rate" in line and "too high" in line


def test_what_the_coach_keeps_does_not_grow_with_the_run():
    """A run of days reports millions of times: the coach keeps the progress its checks read
    (the last 10,000 examples) and the latest probes, not everything."""
    from types import SimpleNamespace
    coach = Coach(stuck_after=10 ** 12)
    coach.run = SimpleNamespace(watch=SimpleNamespace(chance=None), examples_seen=0)
    for i in range(1, 5001):
        coach.review({"tag": "progress", "examples_seen": 1000 * i, "examples": 1000,
                      "train_accuracy": 0.9, "cost_loss": 0.3})
    assert len(coach._progress) <= Coach.KEEP_EXAMPLES // 1000 + 2
    assert coach._progress[-1][0] == 5_000_000
    assert coach.history.maxlen == 1000
