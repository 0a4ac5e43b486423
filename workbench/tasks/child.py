"""Work done in a fresh Python process, so that it does not hold this process's GIL.

Parsing or writing tens of megabytes of JSON holds the GIL for its whole length, so a
worker thread doing it stops the window's event loop just the same. ``run`` calls a
module-level function in a ``python -c`` child (which imports that function's module
and what it needs, never the caller's ``__main__`` or Qt), sends its arguments and
gets its return value back, and checks a task state while it waits: a cancel ends the
child.

Nothing on the pipes is unpickled: a message is one of the engine's (``engine.core.wire``, the
format the training worker speaks, read with its checks) whose header holds one value in JSON:
numbers, text, lists, objects, and tagged values (an experiment as its JSON, a network's
layers as their options with the weights as the message's arrays, an ``Opened``, an exception
by the name of one of a few classes). The child runs only the functions in ``FUNCTIONS``.

No Qt here.
"""
import importlib
import subprocess
import sys

import numpy as np

from engine.core import errors as _errors
from engine.core.child import python_child
from engine.core.errors import EngineError
from engine.core.io import MAX_JSON_BYTES
from engine.core.wire import Garbled, pack, unpack

#: Exceptions a child sends back as they are; anything else becomes an EngineError.
PASSED_ON = (EngineError, MemoryError, RecursionError, OSError)

#: The functions a child runs ("module:name"); a request for anything else is refused.
FUNCTIONS = frozenset({"workbench.tasks.opening:_read_for_parent", "workbench.state.weights:_save_layers"})

#: The largest header a message may have: what the child read from a file (an experiment, its
#: notes) may be as large as a JSON file the engine reads.
MAX_HEADER = MAX_JSON_BYTES


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
        if not isinstance(key, str) or key not in FUNCTIONS:
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


# -- the values a message carries: tagged JSON in engine.core.wire's frames, nothing that runs code -

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
    """``value`` as one message (``engine.core.wire.pack``): its tagged JSON as the header's
    one item, the arrays in it (a network's weights) as the message's arrays."""
    arrays = []
    return pack([_enc(value, arrays)], *arrays)


def decode(buf):
    """What ``encode`` made; ``Garbled`` (an EOFError) for anything else: bytes that are not a
    message (``engine.core.wire.unpack``'s checks) or a value that is not one of the tagged
    kinds. Builds nothing but plain values, the engine's layers and the listed exceptions."""
    header, arrays = unpack(buf, MAX_HEADER)
    if len(header) != 1:
        raise Garbled(f"a message of {len(header)} values (expected one)")
    try:
        return _dec(header[0], arrays)
    except Garbled:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError) as e:
        raise Garbled(f"a message value that is not one ({type(e).__name__}: {str(e)[:200]})") from None


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


def _array(o, arrays):
    """The message's array that the tag ``o`` names (a read-only view of the message)."""
    i = o.get("i") if isinstance(o, dict) and o.get("t") == "array" else None
    if type(i) is not int or not 0 <= i < len(arrays):
        raise Garbled(f"a message naming array {str(i)[:20]} of {len(arrays)}")
    return arrays[i]


def _dec(o, arrays):
    if o is None or isinstance(o, (bool, int, float, str)):
        return o
    if not isinstance(o, dict):
        raise Garbled(f"a message value that is a bare {type(o).__name__}")
    t, v = o.get("t"), o.get("v")
    if t == "array":
        return _array(o, arrays).copy()
    if t in ("list", "tuple"):
        items = [_dec(x, arrays) for x in _list(v)]
        return tuple(items) if t == "tuple" else items
    if t == "dict":
        return {_dec(k, arrays): _dec(x, arrays) for k, x in _list(v)}
    if t == "layers":
        from engine.core.execution.worker import net_from_blob
        return net_from_blob(v, [_array(a, arrays) for a in _list(o.get("a"))]).layers
    if t == "experiment":
        from engine.runs.experiment import Experiment
        return Experiment.from_json(v)
    if t == "opened":
        from workbench.tasks.opened import Opened
        return Opened(**{k: _dec(x, arrays) for k, x in v.items() if k in Opened.__dataclass_fields__})
    if t == "oserror":
        return OSError(*_list(v)[:3])
    if t == "error":
        cls = _errors_by_name().get(o.get("name"), EngineError)
        return cls(*_list(v)[:2])
    raise Garbled(f"a message value tagged {str(t)[:40]!r}")


def _list(v):
    if not isinstance(v, list):
        raise Garbled(f"a message value holding a {type(v).__name__} where a list goes")
    return v
