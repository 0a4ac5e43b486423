"""Work done in a fresh Python process, so that it does not hold this process's GIL.

Parsing or writing tens of megabytes of JSON holds the GIL for its whole length, so a
worker thread doing it stops the window's event loop just the same. ``run`` calls a
module-level function in a ``python -c`` child (which imports that function's module
and what it needs, never the caller's ``__main__`` or Qt), sends its arguments and
gets its return value back by pickle, and checks a task state while it waits: a
cancel ends the child.

No Qt here.
"""
import importlib
import os
import pathlib
import pickle
import subprocess
import sys

from engine.core.errors import EngineError

#: Exceptions a child sends back as they are; anything else becomes an EngineError.
PASSED_ON = (EngineError, MemoryError, RecursionError, OSError)


def run(function, *args, state=None, what="the other process"):
    """``function(*args)`` in a child process; its result, or the exception it raised.

    ``state`` (a ``jobs.TaskState``) is checked every 50 ms: when cancelled, the child
    is killed and the state's ``Cancelled`` raised. A child that dies (killed for lack of
    memory, say) is an EngineError naming ``what``.
    """
    root = str(pathlib.Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen([sys.executable, "-c", "from workbench.tasks.child import main; main()"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    try:
        try:  # the whole request first (the child reads it all before it starts)
            proc.stdin.write(pickle.dumps((function.__module__, function.__qualname__, args),
                                          protocol=pickle.HIGHEST_PROTOCOL))
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
        kind, value = pickle.loads(out)
    except Exception:  # noqa: BLE001 - nothing, or half a message: the child died
        raise EngineError(f"{what}: the process doing it stopped (exit code {proc.returncode}; "
                          f"out of memory?)") from None
    if kind == "error":
        raise value
    return value


def main():
    """The child: a request on stdin, ``("ok", result)`` or ``("error", exception)`` on stdout."""
    module, name, args = pickle.loads(sys.stdin.buffer.read())
    try:
        payload = ("ok", getattr(importlib.import_module(module), name)(*args))
    except BaseException as e:  # noqa: BLE001 - sent to the parent, which shows it
        payload = ("error", e if isinstance(e, PASSED_ON) else EngineError(f"{type(e).__name__}: {e}"))
    sys.stdout.buffer.write(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
