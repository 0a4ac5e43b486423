"""Starting a Python child process that runs this checkout's code: the one way the engine and the
app do it (the training worker, the app's helper process, the benchmarks' rounds).

The child is this interpreter with this checkout first on ``PYTHONPATH``, so that it imports the
same ``engine`` and ``workbench`` as its parent whatever the working directory or the installed
copy. What the two sides then say to each other is never pickle: every child speaks the one
message format of ``engine.core.wire`` (a JSON header and raw arrays, read with checks); the
training worker's steps (``engine.core.execution.processes``) and the app's tagged values
(``workbench.tasks.child``) are what their headers hold.
"""
import os
import pathlib
import subprocess
import sys

#: The folder that holds the ``engine`` and ``workbench`` packages.
ROOT = pathlib.Path(__file__).resolve().parents[2]


def child_env(env=None, **extra):
    """``env`` (default: this process's) with this checkout first on ``PYTHONPATH`` and ``extra`` set."""
    env = dict(os.environ if env is None else env, **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def python_child(args, env=None, run=False, **kwargs):
    """``python ARGS`` as a child of this process running this checkout's code: a ``Popen``, or
    the ``CompletedProcess`` of ``subprocess.run`` when ``run`` is true."""
    cmd = [sys.executable, *args]
    env = child_env(env)
    return subprocess.run(cmd, env=env, **kwargs) if run else subprocess.Popen(cmd, env=env, **kwargs)
