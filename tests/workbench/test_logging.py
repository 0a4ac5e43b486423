"""The app's log: a failed job's traceback is in it, and the app keeps it in its data folder."""
import logging
import pathlib

from PySide6.QtCore import QSettings, QStandardPaths, QTimer
from PySide6.QtWidgets import QApplication

from workbench import app
from workbench.state.jobs import Job
from workbench.window import logs
from workbench.window.main_window import MainWindow


def _a_task_with_a_bug(state, values):
    return values["missing"] + 1  # a KeyError, as a bug in a task would raise


def test_a_failing_job_logs_its_traceback_in_the_log_file(qtbot, tmp_path):
    path = logs.start(tmp_path / "logs")
    try:
        job = Job("bug")
        with qtbot.waitSignal(job.failed, timeout=5000) as failed:
            job.start(_a_task_with_a_bug, {})
        assert failed.args == ["KeyError: 'missing'"]  # what the place says, one line
    finally:
        logs.stop()
    text = path.read_text(encoding="utf-8")
    assert "ERROR" in text and "workbench.state.jobs: job bug failed" in text
    assert "Traceback (most recent call last)" in text
    assert "_a_task_with_a_bug" in text and 'values["missing"] + 1' in text  # where it failed


def test_the_log_file_is_not_a_link_to_somewhere_else(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep me")
    (folder / logs.FILE).symlink_to(elsewhere)
    assert logs.start(folder) is None  # no log file, said on stderr; the app goes on
    logging.getLogger("workbench.test").error("not written anywhere it should not be")
    assert elsewhere.read_text() == "keep me"


def test_the_app_keeps_its_log_file_in_its_data_folder(qtbot, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    QSettings.setPath(QSettings.NativeFormat, QSettings.UserScope, str(tmp_path / "settings"))
    seen = {}

    def look_and_close():
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not wins:
            return
        timer.stop()
        seen["folder"] = logs.folder()
        seen["data"] = pathlib.Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation))
        for w in wins:
            w.ask_to_save = False
            w.close()

    timer = QTimer(interval=100)
    timer.timeout.connect(look_and_close)
    timer.start()
    try:
        assert app.main([]) == 0
    finally:
        logs.stop()
    # the app's data folder, as Qt gives it (~/.local/share/convnet-workbench/convnet-workbench on
    # Linux; the tests run Qt in its test mode, ~/.qttest/share/...): under this home
    log_file = seen["data"] / "logs" / logs.FILE
    assert seen["folder"] == log_file.parent and str(log_file).startswith(str(home))
    assert log_file.is_file() and "convnet-workbench started" in log_file.read_text(encoding="utf-8")


def test_help_opens_the_log_folder(window, tmp_path, monkeypatch):
    from PySide6.QtGui import QDesktopServices
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    path = logs.start(tmp_path / "logs")
    try:
        help_menu = {a.text(): a.menu() for a in window.menuBar().actions()}["&Help"]
        (action,) = [a for a in help_menu.actions() if a.text() == "Open &log folder"]
        action.trigger()
    finally:
        logs.stop()
    assert opened == [str(path.parent)]
