"""Fuzzed session folders: any change to session.json, a checkpoint (its plain data, its
arrays, its bytes) or a run record gives either a session that opens, resumes and lists its
runs, or the engine's own error, never another exception (issue #20; as the loaders' fuzz
tests in test_fuzz_loaders.py)."""
import copy
import io
import json
import os
import shutil
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core.errors import EngineError
from engine.data import Dataset, ImageSet
from engine.runs.experiment import preset
from engine.runs.records import RunRecorder, list_runs, load_run, runs_csv
from engine.runs.session_folder import INFO, Session
from tests.engine.dataset_files import images

FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture])

TINY = [{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 1},
        {"type": "conv", "sx": 3, "filters": 2, "stride": 1, "pad": 1, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "softmax", "num_classes": 3}]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 40), st.integers(-10 ** 30, 10 ** 30),
    st.integers(10 ** 300, 10 ** 400), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "1", "abc", "run-0001", "../../x", "/etc/passwd", "checkpoint-000001.npz",
                     "../base/checkpoint-000001.npz", "checkpoint--00004.npz", "PCG64", "seed",
                     "float32", "object", "x" * 300]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.text(max_size=5), inner,
                                                                     max_size=3)), max_leaves=6)


def _paths(obj, prefix=(), depth=4):
    """Every place in a JSON object, down to ``depth`` (short lists only)."""
    out = [prefix] if prefix else []
    if depth == 0:
        return out
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,), depth - 1)
    elif isinstance(obj, list):
        for i, v in list(enumerate(obj))[:3]:
            out += _paths(v, prefix + (i,), depth - 1)
    return out


def _mutate(obj, changes):
    obj = copy.deepcopy(obj)
    for path, value, delete in changes:
        target = obj
        try:
            for key in path[:-1]:
                target = target[key]
            if delete and isinstance(target, dict):
                target.pop(path[-1], None)
            else:
                target[path[-1]] = value
        except (KeyError, IndexError, TypeError):  # an earlier change removed the place
            pass
    return obj


def changes_of(paths):
    return st.lists(st.tuples(st.sampled_from(paths), values, st.booleans()), min_size=1, max_size=4)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A session that trained a little on 8x8 images: ``(folder, dataset, info, checkpoint
    name, record)``."""
    x, y = images(260, classes=3)
    data = Dataset(ImageSet(x[:200], y[:200]), ImageSet(x[200:], y[200:]), name="tiny", num_classes=3)
    exp = preset("convnetjs-demo")
    exp = exp.replace(layer_defs=TINY, augment=dict(exp.augment, crop=None, shift=0, flip=False),
                      validation=50, epochs=0.5, seed=1)
    folder = tmp_path_factory.mktemp("fuzz") / "s"
    s = Session.create(folder, exp, lock=True)
    tr = s.start(data, test=False, eval_examples=None, keep_best=True)
    for _ in tr.reports():
        pass
    tr.finish(test_accuracy=0.5)
    s.release()
    info = json.loads((folder / INFO).read_text())
    record = json.loads((folder / "runs" / "run-0001.json").read_text())
    return folder, data, info, info["checkpoint"], record


def opens_and_resumes(folder, data):
    """Open a session, read its checkpoint and runs, and make the run that would resume it."""
    try:
        s = Session.open(folder)
        s.checkpoint()
        s.runs()
        s.resume(data, epochs=0.1)
    except EngineError:
        pass


@pytest.fixture(scope="module")
def work(base, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzzwork") / "s"
    shutil.copytree(base[0], folder)
    return folder


def test_the_base_session_resumes(base, work):
    s = Session.open(work)
    assert s.checkpoint() is not None and len(s.runs()) == 1
    s.resume(base[1], epochs=0.1)


@FUZZ
@given(st.data())
def test_fuzzed_session_json_gives_session_errors(base, work, data):
    info = data.draw(changes_of(_paths(base[2], depth=3)).map(lambda c: _mutate(base[2], c)))
    (work / INFO).write_text(json.dumps(info))
    opens_and_resumes(work, base[1])


def _checkpoint_parts(base):
    with np.load(base[0] / base[3]) as z:
        arrays = {k: z[k] for k in z.files if k != "state.json"}
        info = json.loads(bytes(z["state.json"]).decode())
    return info, arrays


array_changes = st.one_of(
    st.tuples(st.just("shape"), st.integers(0, 5)),
    st.tuples(st.just("dtype"), st.sampled_from(["int8", "int64", "uint8", "float16", "complex64",
                                                  "bool", "float64", "U3"])),
    st.tuples(st.just("value"), st.sampled_from([np.nan, np.inf, -1, 10 ** 6, 3.4e38])),
    st.tuples(st.just("drop"), st.none()),
    st.tuples(st.just("rename"), st.sampled_from(["../x", "net/99", "run/good/7", "trainer/gsum",
                                                   "run/order", "net/"])))


def _change_array(arrays, key, how):
    with warnings.catch_warnings():  # a complex array cast back to real: the file is what it is
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        _change_array_as_told(arrays, key, how)


def _change_array_as_told(arrays, key, how):
    kind, arg = how
    a = arrays[key]
    if kind == "shape":
        arrays[key] = a.reshape(-1)[:arg] if arg < a.size else np.resize(a, (arg, 2))
    elif kind == "dtype":
        arrays[key] = a.astype(arg)
    elif kind == "value":
        try:
            b = a.astype(np.float64).copy()
        except (TypeError, ValueError):  # text: a number of the same shape instead
            b = np.zeros(a.shape)
        if b.size:
            b.reshape(-1)[0] = arg
        arrays[key] = b.astype(a.dtype) if a.dtype.kind == "f" and np.isfinite(arg) else b
    elif kind == "drop":
        del arrays[key]
    else:
        arrays[arg] = arrays.pop(key)


@FUZZ
@given(st.data())
def test_fuzzed_checkpoints_give_engine_errors(base, work, data):
    info, arrays = _checkpoint_parts(base)
    (work / INFO).write_text(json.dumps(base[2]))
    info = data.draw(changes_of(_paths(info, depth=4)).map(lambda c: _mutate(info, c)))
    for key, how in data.draw(st.lists(st.tuples(st.sampled_from(sorted(arrays)), array_changes),
                                       max_size=3)):
        if key in arrays:
            _change_array(arrays, key, how)
    buf = io.BytesIO()
    np.savez(buf, **{"state.json": np.frombuffer(json.dumps(info).encode(), np.uint8)}, **arrays)
    (work / base[3]).write_bytes(buf.getvalue())
    opens_and_resumes(work, base[1])


@FUZZ
@given(st.integers(0, 10 ** 6), st.binary(min_size=1, max_size=8), st.booleans())
def test_fuzzed_checkpoint_bytes_give_engine_errors(base, work, at, junk, cut):
    raw = (base[0] / base[3]).read_bytes()
    at %= len(raw)
    raw = raw[:at] if cut else raw[:at] + junk + raw[at + len(junk):]
    (work / INFO).write_text(json.dumps(base[2]))
    (work / base[3]).write_bytes(raw)
    opens_and_resumes(work, base[1])


@FUZZ
@given(st.data())
def test_fuzzed_run_records_give_run_errors(base, work, data):
    rec = data.draw(changes_of(_paths(base[4], depth=4)).map(lambda c: _mutate(base[4], c)))
    (work / "runs" / "run-0001.json").write_text(json.dumps(rec))
    try:
        rec = load_run(work, "run-0001")
    except EngineError:
        assert list_runs(work) == []
        return
    try:
        runs_csv([rec])
    except EngineError:
        pass
    exp = preset("convnetjs-demo")
    recorder = RunRecorder("run-0001", exp, record=rec, examples_seen=50)
    recorder.observe({"tag": "progress", "examples_seen": 60, "cost_loss": 1.0, "epoch": 0.3})
    json.dumps(recorder.record, allow_nan=False)
