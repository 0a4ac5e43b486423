"""The whole application starts from its entry point, opens a file given to it, and quits."""
import json

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from workbench import app
from workbench.main_window import MainWindow


def test_entry_point_starts_and_quits(qtbot, tmp_path):
    QSettings.setPath(QSettings.NativeFormat, QSettings.UserScope, str(tmp_path))
    spec = tmp_path / "net.json"
    spec.write_text(json.dumps([{"type": "input", "out_sx": 28, "out_sy": 28, "out_depth": 1},
                                {"type": "fc", "num_neurons": 20, "activation": "tanh"},
                                {"type": "softmax", "num_classes": 10}]))
    seen = {}

    def look_and_close():
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        seen["layers"] = [d["type"] for d in wins[0].doc.layers] if wins else None
        seen["title"] = wins[0].windowTitle() if wins else None
        for w in wins:
            w.close()

    QTimer.singleShot(500, look_and_close)
    assert app.main([str(spec)]) == 0
    assert seen["layers"] == ["input", "fc", "softmax"]
    assert seen["title"].startswith("net")
