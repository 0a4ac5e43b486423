"""The engine never imports Qt: it imports and trains with every Qt binding blocked."""
import subprocess
import sys

CODE = """
import sys
for name in ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "qtpy", "shiboken6"):
    sys.modules[name] = None  # any import of them now fails
import pkgutil, importlib, numpy as np
import engine
for m in pkgutil.walk_packages(engine.__path__, "engine."):
    if m.name != "engine.__main__":
        importlib.import_module(m.name)
net = engine.Net([{"type": "input", "out_sx": 4, "out_sy": 4, "out_depth": 1},
                  {"type": "softmax", "num_classes": 2}])
engine.Trainer(net).train(np.zeros((2, 4, 4, 1)), np.array([0, 1]))
print("ok")
"""


def test_engine_runs_with_qt_blocked():
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
