"""The whole application starts from its entry point, opens a file given to it, and quits."""
import json
import os

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from workbench import app
from workbench.window import logs
from workbench.window.main_window import MainWindow


def test_entry_point_starts_and_quits(qtbot, tmp_path, monkeypatch):
    QSettings.setPath(QSettings.NativeFormat, QSettings.UserScope, str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the log and the session: the test's
    spec = tmp_path / "net.json"
    spec.write_text(json.dumps([{"type": "input", "out_sx": 28, "out_sy": 28, "out_depth": 1},
                                {"type": "fc", "num_neurons": 20, "activation": "tanh"},
                                {"type": "softmax", "num_classes": 10}]))
    seen = {}
    ticks = []

    def look_and_close():
        # the file is read on a worker thread while the event loop turns: wait for it (20 s at most)
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        ticks.append(1)
        if (not wins or len(wins[0].doc.layers) != 3) and len(ticks) < 200:
            return
        timer.stop()
        seen["layers"] = [d["type"] for d in wins[0].doc.layers] if wins else None
        seen["title"] = wins[0].windowTitle() if wins else None
        seen["log folder"] = logs.folder()
        for w in wins:
            w.close()

    timer = QTimer(interval=100)
    timer.timeout.connect(look_and_close)
    timer.start()
    try:
        assert app.main([str(spec)]) == 0
    finally:
        logs.stop()
    # the app's data folder as Qt says it now: under this test's own home, never the user's
    assert seen["log folder"] == logs.default_folder()
    assert (seen["log folder"] / logs.FILE).is_file()
    assert str(seen["log folder"]).startswith(os.environ["HOME"])
    assert seen["layers"] == ["input", "fc", "softmax"]
    assert seen["title"].startswith("net")


NAMES = ["places", "trainButton", "pauseButton", "stepButton", "epochButton", "stopButton", "resetButton",
         "epochProgress", "stat_examples", "stat_speed", "stat_fwd", "stat_bwd", "stat_lr", "stat_loss",
         "stat_decay", "stat_train", "stat_validation", "stat_test", "trainMessage", "layerStack",
         "layerPalette", "layerProperties", "codeView", "codeEditor", "codeStatus", "stackHeader",
         "networkView", "inspectSummary", "drawCanvas", "networkInput", "predictionBars", "drawTiming",
         "strokeWidth", "clearButton", "undoStrokeButton", "trainedDemoButton", "showInNetworkButton",
         "evaluatePanel", "evaluateButton", "evaluateResult", "confusionMatrix", "lossPlot", "accuracyPlot",
         "testGallery", "galleryAccuracy", "statusRun", "drawPanel", "trainPanel", "buildSplitter",
         "trainSplitter", "stackTabs"]


def test_widgets_keep_the_names_outside_checks_use(window):
    from PySide6.QtWidgets import QWidget
    assert window.objectName() == "mainWindow"
    missing = [n for n in NAMES if window.findChild(QWidget, n) is None]
    assert not missing
    window.doc.select(1)
    assert window.findChild(QWidget, "prop_filters") is not None


def test_features_fill_the_slots_the_places_offer(window):
    """Runs, sessions and the coach come through the places' slots: the File menu's section
    before Quit, the Network menu's places, Train's banner above the plots and its tool beside
    the learning rate, a tab in Inspect's side panel."""
    from PySide6.QtWidgets import QPushButton
    menus = {a.text(): a.menu() for a in window.menuBar().actions()}
    file_texts = [a.text() for a in menus["&File"].actions()]
    assert file_texts.index("Open se&ssion…") < file_texts.index("Save session &as…") < file_texts.index("&Quit")
    assert file_texts.index("Open &dataset…") < file_texts.index("Open se&ssion…")
    assert "Show r&uns" in [a.text() for a in menus["&Network"].actions()]
    assert "Open &log folder" in [a.text() for a in menus["&Help"].actions()]
    side = window.network_view.side
    assert "Coach" in [side.tabText(i) for i in range(side.count())]
    tp = window.train_tab
    assert tp.loss_plot.layout().indexOf(window.experiments.coach_alerts) == 0
    find = tp.findChild(QPushButton, "lrFindButton")
    assert find is not None and find.parentWidget() is tp.controls.lr.parentWidget()
    assert tp.controls.trainer_form.labelForField(tp.controls.lr.parentWidget()).text() == "Learning rate"
