"""Training steps shared with worker processes give the same numbers as one thread."""
import os
import signal
import time

import numpy as np
import pytest

import engine
from engine.core import wire
from engine.core.execution import processes as workers
from engine.core.execution import worker

DEMO = [{"type": "input", "out_sx": 12, "out_sy": 12, "out_depth": 1},
        {"type": "conv", "sx": 5, "filters": 4, "stride": 1, "pad": 2, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "fc", "num_neurons": 12, "activation": "tanh"},
        {"type": "softmax", "num_classes": 10}]

pytestmark = pytest.mark.skipif(not workers.enabled(), reason="no worker processes here")


@pytest.fixture
def started():
    workers.shutdown()
    assert workers.warm_up(1, timeout=60), "the worker process did not start"
    yield workers._pool.workers[0]
    workers.shutdown()


@pytest.fixture
def ready(monkeypatch):
    """A started worker that every step may use (the measured choice is tested apart)."""
    from engine.core import execution
    monkeypatch.setattr(execution.WorkerChoice, "want_worker", lambda self: True)
    workers.shutdown()
    assert workers.warm_up(1, timeout=60), "the worker process did not start"
    yield workers._pool.workers[0]
    workers.shutdown()


def batch(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 12, 12, 1)).astype(np.float32), rng.integers(0, 10, n)


def test_shared_step_matches_one_thread(ready):
    shared, alone = engine.Net(DEMO, seed=3, threads=2), engine.Net(DEMO, seed=3, threads=1)
    x, y = batch(40)
    steps = ready.step
    out, loss, _, _ = shared.train_step(x, y)
    assert ready.step == steps + 1, "the step did not go to the worker"
    out1, loss1, _, _ = alone.train_step(x, y)
    assert loss == pytest.approx(loss1, rel=1e-6)
    np.testing.assert_allclose(out, out1, rtol=1e-5, atol=1e-6)
    for a, b in zip(shared.params_and_grads(), alone.params_and_grads()):
        np.testing.assert_allclose(a["grads"], b["grads"], rtol=1e-4, atol=1e-7)
    # every layer shows the whole batch, the worker's share fetched on request
    for la, lb in zip(shared.layers, alone.layers):
        assert la.out_act.shape == (40, la.out_sy, la.out_sx, la.out_depth)
        np.testing.assert_allclose(la.out_act, lb.out_act, rtol=1e-5, atol=1e-5)
        if lb.out_grad is not None:
            np.testing.assert_allclose(la.out_grad, lb.out_grad, rtol=1e-4, atol=1e-9)


def test_trainer_with_workers_follows_the_same_path(ready):
    nets = [engine.Net(DEMO, seed=5, threads=t) for t in (2, 1)]
    trainers = [engine.Trainer(n, method="adadelta", batch_size=20, l2_decay=0.001) for n in nets]
    for i in range(5):
        x, y = batch(20, seed=i)
        stats = [t.train(x, y) for t in trainers]
        assert stats[0]["loss"] == pytest.approx(stats[1]["loss"], rel=1e-4)
    for a, b in zip(nets[0].params_and_grads(), nets[1].params_and_grads()):
        np.testing.assert_allclose(a["params"], b["params"], rtol=1e-4, atol=1e-6)


def test_bad_label_in_the_workers_share_is_a_clear_error(ready):
    net = engine.Net(DEMO, seed=0, threads=2)
    x, y = batch(20)
    y[-1] = 12  # in the second half, which the worker takes
    with pytest.raises(engine.DataError, match="12"):
        net.train_step(x, y)
    y[-1] = 1
    steps = ready.step
    net.train_step(x, y)  # the worker is still in step with us
    assert ready.step == steps + 1 and not workers._pool.broken


def test_an_error_inside_the_worker_comes_back_as_the_same_error(ready):
    net = engine.Net(DEMO, seed=0, threads=2)
    x, y = batch(20)
    net.train_step(x, y)
    params = net.flat_buffers()[0]
    step = workers.Step.open(1)  # below Net's own checks: hand the worker a bad label
    step.start(net, params, [(x[10:], np.full(10, 12))], 20)
    with pytest.raises(engine.DataError, match="label 12 is out of range"):
        step.finish()
    steps = ready.step
    net.train_step(x, y)  # the pipe is still in step, the lock was given back
    assert ready.step == steps + 1 and not workers._pool.broken


def test_wrong_targets_name_the_whole_batch(ready):
    spec = [{"type": "input", "out_sx": 4, "out_sy": 4, "out_depth": 1},
            {"type": "regression", "num_neurons": 3}]
    net = engine.Net(spec, seed=0, threads=2)
    with pytest.raises(engine.DataError, match=r"\(32, 3\), got \(32, 2\)"):
        net.train_step(np.zeros((32, 4, 4, 1)), np.zeros((32, 2)))


def test_a_dead_worker_falls_back_to_threads_and_is_started_again(ready):
    shared, alone = engine.Net(DEMO, seed=1, threads=2), engine.Net(DEMO, seed=1, threads=1)
    x, y = batch(20)
    shared.train_step(x, y)
    ready.proc.kill()
    ready.proc.wait()
    out, loss, _, _ = shared.train_step(x, y)
    alone.train_step(x, y)
    out1, loss1, _, _ = alone.train_step(x, y)
    assert loss == pytest.approx(loss1, rel=1e-6)
    np.testing.assert_allclose(out, out1, rtol=1e-5)
    assert not workers._pool.broken and ready not in workers._pool.workers
    assert workers.warm_up(1, timeout=60)  # a new worker takes the next steps
    fresh = workers._pool.workers[0]
    steps = fresh.step
    shared.train_step(x, y)
    assert fresh.step == steps + 1


def test_workers_lost_again_and_again_leave_the_work_to_threads(ready):
    net = engine.Net(DEMO, seed=1, threads=2)
    x, y = batch(20)
    for _ in range(workers.MAX_RESTARTS + 1):
        assert workers.warm_up(1, timeout=60)
        w = workers._pool.workers[0]
        w.proc.kill()
        w.proc.wait()
        net.train_step(x, y)
    assert workers._pool.broken and not workers.warm_up(1, timeout=1)


def _same_step_as_one_thread(shared, seed=1):
    alone = engine.Net(DEMO, seed=seed, threads=1)
    x, y = batch(20)
    out, loss, _, _ = shared.train_step(x, y)
    out1, loss1, _, _ = alone.train_step(x, y)
    assert loss == pytest.approx(loss1, rel=1e-6)
    np.testing.assert_allclose(out, out1, rtol=1e-5, atol=1e-6)
    for a, b in zip(shared.params_and_grads(), alone.params_and_grads()):
        np.testing.assert_allclose(a["grads"], b["grads"], rtol=1e-4, atol=1e-7)


def test_a_stopped_worker_is_abandoned_in_bounded_time(ready, monkeypatch):
    """A worker that stops answering (here SIGSTOP) must not hang training: after
    a bounded wait the step is done on this process's threads, with the same numbers."""
    monkeypatch.setattr(workers, "WAIT_SECONDS", 0.5)
    shared = engine.Net(DEMO, seed=1, threads=2)
    shared.train_step(*batch(20))
    os.kill(ready.proc.pid, signal.SIGSTOP)
    try:
        _same_step_as_one_thread(shared)  # returns (a worker waited on for ever would hang it)
    finally:
        if ready.proc.poll() is None:
            os.kill(ready.proc.pid, signal.SIGCONT)
    assert ready.proc.wait(timeout=5) is not None  # abandoned: killed, not left stopped
    assert ready not in workers._pool.workers and not workers._pool.broken


@pytest.mark.parametrize("garbage", [
    b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"not a pickle at all",   # a message that does not unpack
    b"\xff" * 8,                                                          # an absurd length
    b"\x00\x10\x00\x00\x00\x00\x00\x00" + b"half",                  # a message cut short
])
def test_garbage_on_the_workers_pipe_does_not_hang_or_change_the_numbers(ready, monkeypatch, garbage):
    monkeypatch.setattr(workers, "WAIT_SECONDS", 0.5)
    shared = engine.Net(DEMO, seed=1, threads=2)
    shared.train_step(*batch(20))
    os.write(ready.ch.wfd, garbage)
    _same_step_as_one_thread(shared)  # returns, with the same numbers
    assert workers.warm_up(1, timeout=60)  # and workers come back


def test_a_stale_share_says_so(ready):
    a, b = engine.Net(DEMO, seed=0, threads=2), engine.Net(DEMO, seed=1, threads=2)
    x, y = batch(20)
    a.train_step(x, y)
    b.train_step(x, y)
    assert b.layers[1].out_act.shape[0] == 20
    with pytest.raises(engine.EngineError, match="gone"):
        _ = a.layers[1].out_act
    assert a.layers[-1].out_act.shape[0] == 20  # the output is always whole


def test_switched_off_by_environment(ready, monkeypatch):
    monkeypatch.setenv("ENGINE_PROCESSES", "0")
    steps = ready.step
    engine.Net(DEMO, seed=0, threads=2).train_step(*batch(20))
    assert ready.step == steps


def test_regression_in_float64_matches_one_thread(ready):
    spec = [{"type": "input", "out_sx": 6, "out_sy": 6, "out_depth": 2},
            {"type": "fc", "num_neurons": 8, "activation": "sigmoid", "drop_prob": 0.0},
            {"type": "regression", "num_neurons": 3}]
    shared = engine.Net(spec, dtype=np.float64, seed=2, threads=2)
    alone = engine.Net(spec, dtype=np.float64, seed=2, threads=1)
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((32, 6, 6, 2)), rng.standard_normal((32, 3))
    steps = ready.step
    out, loss, _, _ = shared.train_step(x, y)
    out1, loss1, _, _ = alone.train_step(x, y)
    assert ready.step == steps + 1
    assert out.dtype == np.float64 and loss == pytest.approx(loss1, rel=1e-12)
    for a, b in zip(shared.params_and_grads(), alone.params_and_grads()):
        np.testing.assert_allclose(a["grads"], b["grads"], rtol=1e-10, atol=1e-14)


def test_inference_shared_with_the_worker_matches_forward(ready):
    shared, alone = engine.Net(DEMO, seed=6, threads=2), engine.Net(DEMO, seed=6, threads=1)
    x, _ = batch(300, seed=3)
    steps = ready.step
    out = shared.infer(x)
    assert ready.step == steps + 1, "the pass did not go to the worker"
    np.testing.assert_allclose(out, alone.forward(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(shared.predict(x), alone.predict(x))


# A worker process as started (its entry point, but probing instead of serving): the
# buffers a step frees (the demo net's window copies, about this big) are the ones the
# next step gets back, from the first step on, instead of memory given back to the system
# and page-faulted in again (84 faults a step, a fifth of its time, before the worker kept
# it). The fault count itself moves with the machine's load: tools/worker_faults.py prints it.
WORKER_PROBE = """
import numpy as np
from engine.execution import worker

def probe(channel):
    steps = []
    for _ in range(4):
        buffers = [np.ones(n, np.uint8) for n in (576_000, 1_152_000, 288_000)]
        steps.append([b.ctypes.data for b in buffers])
        del buffers
    print(steps)

worker.serve = probe
worker.main()
"""


@pytest.mark.skipif(__import__("platform").libc_ver()[0] != "glibc", reason="glibc's malloc settings")
def test_a_worker_keeps_its_buffers_between_steps():
    import ast
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-c", WORKER_PROBE], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    steps = ast.literal_eval(proc.stderr.strip().splitlines()[-1])  # a worker prints to stderr
    assert len(steps) == 4 and all(addresses == steps[0] for addresses in steps)


# -- whether the worker helps: measured, not assumed ------------------------------------
def _feed(choice, worker_s, alone_s, seconds):
    """Steps through ``choice`` for ``seconds`` of training, taking these seconds each way;
    the fraction of the time spent with the worker."""
    spent = with_worker = 0.0
    while spent < seconds:
        w = choice.want_worker()
        t = worker_s if w else alone_s
        choice.record(w, w, t)
        spent += t
        with_worker += t if w else 0.0
    return with_worker / spent


def test_choice_keeps_the_worker_only_while_it_makes_steps_faster(monkeypatch):
    from engine.core import execution
    c = execution.WorkerChoice()
    _feed(c, 0.010, 0.018, 6 * execution.BLOCK_SECONDS)
    assert c.describe() == "with the worker"
    assert _feed(c, 0.010, 0.018, 3.0) == 1.0
    # A busy machine: the worker's steps now take longer than steps alone. By the next
    # check the engine trains without it, but for the checks' blocks.
    _feed(c, 0.030, 0.018, execution.RECHECK_MAX + 6 * execution.BLOCK_SECONDS)
    assert c.describe() == "without the worker"
    assert _feed(c, 0.030, 0.018, 120.0) < 0.1
    # The load goes away: a later check takes the worker back.
    _feed(c, 0.010, 0.018, 2 * execution.RECHECK_MAX)
    assert c.describe() == "with the worker"


def test_choice_checks_again_at_once_when_steps_get_slower():
    from engine.core import execution
    c = execution.WorkerChoice()
    _feed(c, 0.010, 0.018, 6 * execution.BLOCK_SECONDS)
    checks = c.checks
    _feed(c, 0.040, 0.018, 1.0 + 6 * execution.BLOCK_SECONDS)  # well before RECHECK_SECONDS
    assert c.checks == checks + 1 and c.describe() == "without the worker"


def test_checks_that_change_nothing_come_less_often():
    from engine.core import execution
    c = execution.WorkerChoice()
    _feed(c, 0.010, 0.018, 6 * execution.BLOCK_SECONDS)
    _feed(c, 0.010, 0.018, 200.0)
    assert c.period == execution.RECHECK_MAX and c.describe() == "with the worker"


def test_a_step_that_could_not_reach_the_worker_teaches_nothing():
    from engine.core import execution
    c = execution.WorkerChoice()
    for _ in range(10):  # the worker is still starting: every step runs alone
        assert c.want_worker()
        c.record(True, False, 0.5)
    assert c.describe() == "measuring"


def test_training_goes_without_a_worker_that_slows_it(started, monkeypatch):
    from engine.core import execution
    finish = workers.Step.finish

    def slow_finish(self, timeout=workers.WAIT_SECONDS):
        time.sleep(0.05)  # the worker's core is taken by another program
        return finish(self, timeout)
    monkeypatch.setattr(workers.Step, "finish", slow_finish)
    net = engine.Net(DEMO, seed=1, threads=2)
    trainer = engine.Trainer(net, method="adadelta", batch_size=20)
    i = 0
    while execution.worker_choice(net).get(20, "measuring") == "measuring":
        trainer.train(*batch(20, seed=i))
        i += 1
        assert i < 5000, "no choice after 5,000 steps"
    assert execution.worker_choice(net) == {20: "without the worker"}
    steps = started.step
    for i in range(5):
        trainer.train(*batch(20, seed=i))
    assert started.step == steps, "a step went to the slow worker"


class _Touch:
    """A pickle that creates a file when it is loaded."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _frame(payload):
    return len(payload).to_bytes(8, "little") + payload


def test_a_pickle_frame_on_the_pipe_runs_nothing(ready, monkeypatch, tmp_path):
    """The messages are JSON and raw arrays: a pickle frame in either direction is garbage
    (the worker is abandoned and the step done on threads), never code that runs."""
    import pickle
    marker = tmp_path / "PWNED"
    frame = pickle.dumps(((("setup", 1, b""), []), _Touch(marker)))
    with pytest.raises(wire.Garbled):
        wire.unpack(_frame(frame))
    assert not marker.exists()
    monkeypatch.setattr(workers, "WAIT_SECONDS", 0.5)
    shared = engine.Net(DEMO, seed=1, threads=2)
    shared.train_step(*batch(20))
    os.write(ready.ch.wfd, _frame(pickle.dumps((("step", 20, {}), []))) + _frame(frame))
    _same_step_as_one_thread(shared)  # the step is done, on threads, with the same numbers
    ready.proc.wait(timeout=30)  # the worker gave up on the garbage and ended
    assert not marker.exists()


def test_a_length_of_two_gigabytes_allocates_only_what_arrives():
    """8 bytes saying 2**31 - 1 followed by nothing: the reader times out having allocated
    one chunk, not 2 GB (traced allocations are deterministic: no timing involved)."""
    import tracemalloc
    r, w = os.pipe()
    ch = workers.Channel(r, w)
    try:
        os.write(w, (2 ** 31 - 1).to_bytes(8, "little") + b"x" * 1000)
        tracemalloc.start()
        try:
            with pytest.raises(workers.Timeout):
                ch.recv(timeout=0.2)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak <= workers.RECV_CHUNK + (1 << 20)
    finally:
        ch.close()


def test_a_worker_replicates_every_layer_type_without_pickle():
    """The setup message (layer options as JSON, weights and batchnorm statistics as raw
    arrays) rebuilds each kind of net exactly: the same outputs, bit for bit."""
    from .export_nets import NETS
    for name, make in sorted(NETS.items()):
        net = make()
        header, weights = workers._net_blob(net)
        msg, arrays = wire.unpack(wire.pack(("setup", 1, header), *weights))
        copy = worker.net_from_blob(msg[2], arrays)
        sy, sx, d = net.input_shape
        x = np.random.default_rng(0).standard_normal((4, sy, sx, d)).astype(np.float32)
        assert np.array_equal(net.forward(x), copy.forward(x)), name
    weights[0] = weights[0][:-1]  # a weight array of the wrong shape is garbage, not a net
    with pytest.raises(EOFError):
        worker.net_from_blob(header, weights)


def test_a_setup_header_asking_for_more_weights_than_came_allocates_nothing():
    """A layer's options in a setup message asking for 9.6 million weights, with the 2,410 that
    came: refused before the layer allocates them (traced allocations, no timing)."""
    import tracemalloc
    net = engine.Net([{"type": "input", "out_sx": 1, "out_sy": 1, "out_depth": 240},
                      {"type": "fc", "num_neurons": 10}, {"type": "softmax", "num_classes": 10}], seed=1)
    header, weights = workers._net_blob(net)
    header["layers"][1][1]["num_neurons"] = 40_000
    tracemalloc.start()
    try:
        with pytest.raises(wire.Garbled, match="parameters"):
            worker.net_from_blob(header, weights)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20
    header["layers"][1][1]["num_neurons"] = 10
    header["dtype"] = "|O"
    with pytest.raises(wire.Garbled, match="net of object"):
        worker.net_from_blob(header, weights)


def test_one_lucky_block_does_not_bring_in_the_worker():
    from engine.core import execution
    c = execution.WorkerChoice()
    # worker blocks: one fast (a quiet moment), one slow; both blocks alone in between
    for w_s in (0.005, 0.020):
        while c.want_worker() and c.plan and len(c.blocks[True]) < (1 if w_s == 0.005 else 2):
            c.record(True, True, w_s)
        while c.plan and not c.want_worker():
            c.record(False, False, 0.015)
    assert c.describe() == "without the worker"  # the mean (12.5 ms) would have said "with"
