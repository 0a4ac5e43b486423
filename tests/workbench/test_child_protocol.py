"""The app's helper process (workbench.tasks.child) speaks the engine's one message format
(engine.core.wire) and reads no pickle: a pickle frame on its stdin runs nothing, a request for
a function outside child.FUNCTIONS is refused, what it sends back (experiments, layers with
their weights, an Opened, errors) comes back equal, and a message that is not one is
``Garbled`` before anything is built from it."""
import json
import os
import pathlib
import pickle
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import engine
from engine.core import wire
from engine.core.child import python_child
from engine.core.execution import processes
from engine.runs.experiment import ExperimentError, preset
from tests.engine.export_nets import NETS
from workbench.tasks import child
from workbench.tasks.opened import Opened

ROOT = pathlib.Path(__file__).resolve().parents[2]


class _Touch:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _child_output(data):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", "from workbench.child import main; main()"], input=data,
                       capture_output=True, env=env, timeout=60)
    return r.stdout


def _child(data):
    return child.decode(_child_output(data))


def _frame(header, specs=(), data=b""):
    meta = json.dumps([header, list(specs)]).encode()
    return len(meta).to_bytes(8, "little") + meta + data


def test_a_pickle_frame_runs_nothing_in_the_child(tmp_path):
    marker = tmp_path / "PWNED"
    kind, error = _child(pickle.dumps(("os", "getcwd", (_Touch(marker),))))
    assert kind == "error" and isinstance(error, engine.EngineError) and not marker.exists()


@pytest.mark.parametrize("key", ["os:system", "workbench.tasks.child:main", ["os:system"], None])
def test_only_the_listed_functions_run(tmp_path, key):
    kind, error = _child(child.encode([key, [f"touch {tmp_path / 'PWNED'}"]]))
    assert kind == "error" and "does not run" in str(error) and not (tmp_path / "PWNED").exists()


def test_values_come_back_equal():
    exp = preset("convnetjs-demo").replace(name='x\ud800"', data="../d")
    net = engine.Net(exp.layer_defs, seed=1)
    layers, back = child.decode(child.encode([net.layers, exp]))
    assert back == exp
    x = np.random.default_rng(0).standard_normal((3, 24, 24, 1)).astype(np.float32)
    np.testing.assert_array_equal(net.forward(x), engine.Net.from_layers(layers, np.float32).forward(x))
    e = child.decode(child.encode(ExperimentError("bad layer", 3)))
    assert type(e) is ExperimentError and e.layer_index == 3 and str(e) == "bad layer"
    e = child.decode(child.encode(FileNotFoundError(2, "No such file or directory", "/x")))
    assert isinstance(e, FileNotFoundError) and e.filename == "/x"


def test_every_plain_kind_comes_back_equal():
    value = [None, True, False, 0, -3, 2 ** 70, 2.5, float("inf"), "", "t\u00e9xt\ud800", [], (), {},
             (1, [2, (3,)]), {1: "one", "k": [None], (2, 3): {"x": 1.5}, None: 0}]
    back = child.decode(child.encode(value))
    assert back == value and type(back[12]) is dict and type(back[13]) is tuple and type(back[13][1]) is list
    assert child.decode(child.encode("alone")) == "alone"
    numbers = child.decode(child.encode([np.float32(0.5), np.int64(7), np.bool_(True)]))
    assert numbers == [0.5, 7, True] and [type(n) for n in numbers] == [float, int, bool]


def test_arrays_come_back_equal_and_writable():
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.zeros((0, 4)), np.array([3], np.int64),
              np.array([True, False]), np.arange(5, dtype=np.uint8), np.arange(3, dtype=np.int32)]
    back = child.decode(child.encode({"a": arrays, "again": arrays[0]}))
    for a, b in zip(arrays, back["a"]):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    back["again"][0, 0] = 9  # a copy of its own, not a view of the message
    assert back["a"][0][0, 0] == 0
    with pytest.raises(TypeError, match="cannot go in a message"):
        child.encode(np.zeros(2, np.float16))


@pytest.mark.parametrize("name", sorted(NETS))
def test_layers_of_every_type_come_back_the_same_net(name):
    net = NETS[name]()
    copy = engine.Net.from_layers(child.decode(child.encode(net.layers)), np.float32)
    sy, sx, d = net.input_shape
    x = np.random.default_rng(0).standard_normal((4, sy, sx, d)).astype(np.float32)
    assert np.array_equal(net.forward(x), copy.forward(x))


def test_layers_of_a_float64_net_stay_float64():
    net = engine.Net(preset("convnetjs-demo").layer_defs, dtype=np.float64, seed=3)
    layers = child.decode(child.encode(net.layers))
    assert all(getattr(l, a).dtype == np.float64 for l in layers for a in l.param_attrs)
    x = np.random.default_rng(0).standard_normal((2, 24, 24, 1))
    assert np.array_equal(net.forward(x), engine.Net.from_layers(layers, np.float64).forward(x))


def test_an_opened_file_comes_back_equal():
    exp = preset("convnetjs-demo")
    opened = Opened("demo", exp, None, exp.layer_defs, "/tmp/x.json", "/tmp/x.json", ["a note"])
    back = child.decode(child.encode(opened))
    assert back == opened
    assert child.decode(child.encode(Opened("bare", None))) == Opened("bare", None)


def test_errors_come_back_by_the_name_of_a_listed_class_only():
    for name, cls in sorted(child._errors_by_name().items()):
        back = child.decode(child.encode(cls("what went wrong")))
        assert type(back) is cls and str(back) == "what went wrong", name
    back = child.decode(child.encode(KeyError("k")))  # not listed: an EngineError with the text
    assert type(back) is engine.EngineError and "k" in str(back)
    e = child.decode(child.encode(OSError("no errno")))
    assert type(e) is OSError and str(e) == "no errno"
    # a name that is not in the list is never looked up elsewhere
    for name in ("SystemExit", "os.system", "KeyboardInterrupt", "__import__"):
        e = child.decode(_frame([{"t": "error", "name": name, "v": ["x"]}]))
        assert type(e) is engine.EngineError and str(e) == "x"


@pytest.mark.parametrize("value", [
    [1, 2],                                           # a header of two values, not one
    [{"t": "pickle", "v": "gASV"}],                   # a tag that is not one
    [{"t": "array", "i": 0}],                         # an array the message does not hold
    [{"t": "array", "i": -1}],
    [{"t": "array", "i": True}],
    [{"t": "list", "v": {"a": 1}}],
    [[1, 2]],                                         # a bare list (lists are tagged)
    [{"t": "dict", "v": [[{"t": "list", "v": []}, 1]]}],  # a key that cannot be one
    [{"t": "experiment", "v": {"layer_defs": [], "exec": "os.system"}}],
    [{"t": "opened", "v": {"nom": "x"}}],
    [{"t": "opened", "v": []}],
    [{"t": "error", "name": "EngineError", "v": "text"}],
    [{"t": "layers", "v": {"dtype": "|O", "seed": 0, "layers": []}, "a": []}],
    [{"t": "layers", "v": {"dtype": "<f4", "seed": 0, "layers": [["nope", {}, [1, 1, 1], 0]]}, "a": []}],
])
def test_a_value_that_is_not_one_is_garbled(value):
    with pytest.raises(wire.Garbled):
        child.decode(_frame(value))


def test_deeply_nested_values_are_garbled():
    text = '{"t":"list","v":[' * 100_000 + '"x"' + "]}" * 100_000
    meta = ("[[" + text + "],[]]").encode()
    with pytest.raises(wire.Garbled):
        child.decode(len(meta).to_bytes(8, "little") + meta)
    shallow = '{"t":"list","v":[' * 300 + '"x"' + "]}" * 300  # deep enough to pass JSON, then _dec
    meta = ("[[" + shallow + "],[]]").encode()
    back = child.decode(len(meta).to_bytes(8, "little") + meta)
    for _ in range(300):
        back = back[0]
    assert back == "x"


def test_bytes_that_are_not_a_message_are_garbled():
    good = child.encode([np.arange(4.0), "x"])
    for bad in (b"", good[:7], good[:-1], good + b"\x00", (1 << 40).to_bytes(8, "little") + good[8:],
                _frame(["x"], [[[4], "|O"]], b"\x00" * 32), _frame(["x"], [[[1 << 30], "<f8"]], b"\x00" * 8)):
        with pytest.raises(wire.Garbled):
            child.decode(bad)


def test_a_header_larger_than_the_cap_is_refused(monkeypatch):
    buf = child.encode("x" * 5000)
    assert child.decode(buf) == "x" * 5000
    monkeypatch.setattr(child, "MAX_HEADER", 4096)
    with pytest.raises(wire.Garbled, match="header of"):
        child.decode(buf)


def test_layers_claiming_more_weights_than_came_allocate_nothing():
    """An fc layer's options asking for 10 million weights, with the 2,410 that came: refused
    before the layer allocates them (traced allocations: deterministic, no timing)."""
    net = engine.Net([{"type": "input", "out_sx": 1, "out_sy": 1, "out_depth": 240},
                      {"type": "fc", "num_neurons": 10}, {"type": "softmax", "num_classes": 10}], seed=1)
    buf = child.encode(net.layers)
    header, arrays = wire.unpack(buf)
    fc = next(l for l in header[0]["v"]["layers"] if l[0] == "fc")
    fc[1]["num_neurons"] = 40_000  # 240 x 40,000 = 9.6 M weights
    forged = wire.pack(header, *arrays)
    tracemalloc.start()
    try:
        with pytest.raises(wire.Garbled, match="parameters"):
            child.decode(forged)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_the_app_child_and_the_training_worker_speak_one_format(tmp_path):
    """The same bytes either way: the worker's greeting, read from a real worker, is what the
    app's ``encode("ready")`` makes and its ``decode`` reads; the app child's real answer (an
    opened snapshot, its weights as the message's arrays) goes through the worker's pipe
    channel and is read by the worker's reader, ``wire.unpack``."""
    proc = python_child(["-m", "engine.core.execution.worker"], env=dict(os.environ, ENGINE_PROCESSES="0"),
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        size = int.from_bytes(proc.stdout.read(8), "little")
        greeting = proc.stdout.read(size)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()
    assert greeting == wire.pack(("ready",)) == child.encode("ready")
    assert child.decode(greeting) == "ready"

    from engine.runs.snapshots import save_snapshot
    net = engine.Net(preset("convnetjs-demo").layer_defs, seed=2)
    path = tmp_path / "net.json"
    save_snapshot(net, path, {"preset": "demo"})
    answer = _child_output(child.encode(["workbench.tasks.opening:_read_for_parent",
                                         ["read_snapshot", str(path), []]]))
    r, w = os.pipe()
    ch = processes.Channel(r, w)
    try:
        ch.send(answer, timeout=30)
        header, arrays = wire.unpack(ch.recv(timeout=30))
    finally:
        ch.close()
    weights = [getattr(l, a) for l in net.layers for a in l.param_attrs + l.state_attrs]
    assert len(arrays) == len(weights) and len(header) == 1 and header[0]["v"][0] == "ok"
    for a, b in zip(weights, arrays):
        np.testing.assert_array_equal(a, b)
    kind, (opened, layers, dtype) = child.decode(answer)
    assert kind == "ok" and opened.name and dtype == "float32"
    x = np.random.default_rng(0).standard_normal((2, 24, 24, 1)).astype(np.float32)
    np.testing.assert_array_equal(net.forward(x), engine.Net.from_layers(layers, np.float32).forward(x))
