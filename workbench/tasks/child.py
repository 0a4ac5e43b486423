"""Work done in a fresh Python process, so that it does not hold this process's GIL.

Parsing or writing tens of megabytes of JSON holds the GIL for its whole length, so a
worker thread doing it stops the window's event loop just the same. ``run`` calls a
module-level function in a ``python -c`` child (which imports that function's module
and what it needs, never the caller's ``__main__`` or Qt), sends its arguments and
gets its return value back, and checks a task state while it waits: a cancel ends the
child.

Nothing on the pipes is unpickled: a message is JSON (numbers, text, lists, objects, and
tagged values: an experiment as its JSON, a network's layers as their options with the
weights as raw arrays, an ``Opened``, an exception by the name of one of a few classes)
followed by the arrays' bytes, and the child runs only the functions in ``FUNCTIONS``.

No Qt here.
"""
import importlib
import json
import subprocess
import sys

import numpy as np

from engine.core import errors as _errors
from engine.core.child import python_child
from engine.core.errors import EngineError

#: Exceptions a child sends back as they are; anything else becomes an EngineError.
PASSED_ON = (EngineError, MemoryError, RecursionError, OSError)

#: The functions a child runs ("module:name"); a request for anything else is refused.
FUNCTIONS = frozenset({"workbench.tasks.opening:_read_for_parent", "workbench.state.weights:_save_layers"})


def run(function, *args, state=None, what="the other process"):
    """``function(*args)`` in a child process; its result, or the exception it raised.

    ``state`` (a ``jobs.TaskState``) is checked every 50 ms: when cancelled, the child
    is killed and the state's ``Cancelled`` raised. A child that dies (killed for lack of
    memory, say) is an EngineError naming ``what``.
    """
    proc = python_child(["-c", "from workbench.tasks.child import main; main()"],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        try:  # the whole request first (the child reads it all before it starts)
            proc.stdin.write(encode([_key(function), list(args)]))
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the child died: said below
        proc.stdin = None  # (communicate would flush it)
        while True:
            try:
                out, _ = proc.communicate(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                if state is not None and state.cancelled:
                    state.check()  # raises the task's Cancelled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    try:
        kind, value = decode(out)
    except Exception:  # noqa: BLE001 - nothing, or half a message: the child died
        raise EngineError(f"{what}: the process doing it stopped (exit code {proc.returncode}; "
                          f"out of memory?)") from None
    if kind == "error":
        raise value
    return value


def main():
    """The child: a request on stdin, ``("ok", result)`` or ``("error", exception)`` on stdout."""
    try:
        key, args = decode(sys.stdin.buffer.read())
        if key not in FUNCTIONS:
            raise EngineError(f"the other process does not run {str(key)[:80]!r}")
        module, name = key.split(":")
        payload = ["ok", getattr(importlib.import_module(module), name)(*args)]
    except BaseException as e:  # noqa: BLE001 - sent to the parent, which shows it
        payload = ["error", e if isinstance(e, PASSED_ON) else EngineError(f"{type(e).__name__}: {e}")]
    try:
        out = encode(payload)
    except BaseException as e:  # noqa: BLE001 - a result that cannot be sent
        out = encode(["error", EngineError(f"{type(e).__name__}: {e}")])
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()


def _key(function):
    key = f"{function.__module__}:{function.__qualname__}"
    if key not in FUNCTIONS:
        raise ValueError(f"{key} is not one of the functions a child runs (child.FUNCTIONS)")
    return key


# -- the message format: JSON and raw arrays, nothing that runs code when read ---------------------

def _errors_by_name():
    from engine.runs.checkpoint import CheckpointError
    from engine.runs.experiment import ExperimentError
    from engine.runs.records import RunError
    from engine.runs.session_folder import SessionError
    classes = [getattr(_errors, n) for n in dir(_errors)
               if isinstance(getattr(_errors, n), type) and issubclass(getattr(_errors, n), EngineError)]
    classes += [ExperimentError, CheckpointError, RunError, SessionError, MemoryError, RecursionError]
    return {c.__name__: c for c in classes}


def encode(value):
    """``value`` as bytes: an 8-byte length, JSON, then the arrays' raw bytes."""
    arrays = []
    meta = json.dumps([_enc(value, arrays), [[list(a.shape), a.dtype.str] for a in arrays]],
                      separators=(",", ":")).encode("utf-8")
    return b"".join([len(meta).to_bytes(8, "little"), meta] + [a.tobytes() for a in arrays])


def decode(buf):
    """What ``encode`` made (ValueError for anything else)."""
    buf = memoryview(bytes(buf))
    size = int.from_bytes(buf[:8], "little")
    if len(buf) < 8 or size > len(buf) - 8:
        raise ValueError("not a message")
    obj, specs = json.loads(bytes(buf[8:8 + size]).decode("utf-8"))
    arrays, offset = [], 8 + size
    for shape, dtype in specs:
        dtype = np.dtype(dtype)
        if dtype.kind not in "fiub" or not all(type(d) is int and d >= 0 for d in shape):
            raise ValueError("not a message")
        count = int(np.prod(shape, dtype=np.int64))
        if offset + count * dtype.itemsize > len(buf):
            raise ValueError("a message shorter than its arrays")
        arrays.append(np.frombuffer(buf, dtype, count, offset).reshape(shape).copy())
        offset += count * dtype.itemsize
    if offset != len(buf):
        raise ValueError("a message longer than its arrays")
    return _dec(obj, arrays)


def _enc(v, arrays):
    from engine.core.layers.base import Layer
    from engine.runs.experiment import Experiment
    from workbench.tasks.opened import Opened
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return v.item()
    if isinstance(v, np.ndarray):
        arrays.append(np.ascontiguousarray(v))
        return {"t": "array", "i": len(arrays) - 1}
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, Layer) for x in v):
            from types import SimpleNamespace

            from engine.core.execution.processes import _net_blob
            # the layers as they are (not put in a Net here: that would take them over)
            header, weights = _net_blob(SimpleNamespace(layers=list(v), dtype=np.dtype(v[0].dtype),
                                                        rng=np.random.default_rng(0)))
            return {"t": "layers", "v": header, "a": [_enc(np.asarray(w), arrays) for w in weights]}
        return {"t": "tuple" if isinstance(v, tuple) else "list", "v": [_enc(x, arrays) for x in v]}
    if isinstance(v, dict):
        return {"t": "dict", "v": [[_enc(k, arrays), _enc(x, arrays)] for k, x in v.items()]}
    if isinstance(v, Experiment):
        return {"t": "experiment", "v": v.to_json()}
    if isinstance(v, Opened):
        return {"t": "opened", "v": {k: _enc(getattr(v, k), arrays) for k in v.__dataclass_fields__}}
    if isinstance(v, BaseException):
        if isinstance(v, OSError) and v.errno is not None:
            return {"t": "oserror", "v": [v.errno, v.strerror, v.filename if isinstance(v.filename, str) else None]}
        if isinstance(v, OSError):
            return {"t": "oserror", "v": [str(v)]}
        name = type(v).__name__ if type(v).__name__ in _errors_by_name() else "EngineError"
        args = [str(v)] + ([v.layer_index] if getattr(v, "layer_index", None) is not None else [])
        return {"t": "error", "name": name, "v": args}
    raise TypeError(f"a {type(v).__name__} cannot be sent to or from the other process")


def _dec(o, arrays):
    if o is None or isinstance(o, (bool, int, float, str)):
        return o
    if not isinstance(o, dict):
        raise ValueError("not a message")
    t, v = o.get("t"), o.get("v")
    if t == "array":
        return arrays[o["i"]]
    if t in ("list", "tuple"):
        items = [_dec(x, arrays) for x in v]
        return tuple(items) if t == "tuple" else items
    if t == "dict":
        return {_dec(k, arrays): _dec(x, arrays) for k, x in v}
    if t == "layers":
        from engine.core.execution.worker import net_from_blob
        return net_from_blob(v, [_dec(a, arrays) for a in o["a"]]).layers
    if t == "experiment":
        from engine.runs.experiment import Experiment
        return Experiment.from_json(v)
    if t == "opened":
        from workbench.tasks.opened import Opened
        return Opened(**{k: _dec(x, arrays) for k, x in v.items() if k in Opened.__dataclass_fields__})
    if t == "oserror":
        return OSError(*v)
    if t == "error":
        cls = _errors_by_name().get(o.get("name"), EngineError)
        return cls(*v)
    raise ValueError("not a message")
