"""The app's helper process (workbench.child) reads no pickle: a pickle frame on its stdin runs
nothing, a request for a function outside child.FUNCTIONS is refused, and what it sends
back (experiments, layers with their weights, errors) comes back equal."""
import os
import pathlib
import pickle
import subprocess
import sys

import numpy as np

import engine
from engine.runs.experiment import ExperimentError, preset
from workbench.tasks import child

ROOT = pathlib.Path(__file__).resolve().parents[2]


class _Touch:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _child(data):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", "from workbench.child import main; main()"], input=data,
                       capture_output=True, env=env, timeout=60)
    return child.decode(r.stdout)


def test_a_pickle_frame_runs_nothing_in_the_child(tmp_path):
    marker = tmp_path / "PWNED"
    kind, error = _child(pickle.dumps(("os", "getcwd", (_Touch(marker),))))
    assert kind == "error" and isinstance(error, engine.EngineError) and not marker.exists()


def test_only_the_listed_functions_run(tmp_path):
    kind, error = _child(child.encode(["os:system", [f"touch {tmp_path / 'PWNED'}"]]))
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
