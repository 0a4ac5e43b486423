import pytest

TINY = [{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1},
        {"type": "conv", "sx": 3, "filters": 4, "stride": 2, "pad": 1, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "softmax", "num_classes": 10}]


@pytest.fixture(scope="session")
def dataset():
    from engine.data import load_mnist
    return load_mnist()


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def window(qtbot, dataset, settings):
    from PySide6.QtWidgets import QApplication

    from workbench.views import theme
    from workbench.window.main_window import MainWindow
    theme.apply(QApplication.instance())
    w = MainWindow(dataset, settings=settings)
    w.ask_to_save = False
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.session.shutdown()


@pytest.fixture
def tiny(window):
    """The window with a tiny network loaded (the demo's settings, many epochs), so that
    training tests stay fast and a run lasts as long as a test needs it."""
    window.session.load_experiment(window.session.experiment().replace(layer_defs=TINY, name="tiny", epochs=50))
    return window


@pytest.fixture(autouse=True)
def data_dialogs(monkeypatch):
    """The dataset's dialogs, and every warning box, never open in tests (a modal dialog
    offscreen would wait for ever): each call is recorded as ``(kind, title or None, text)``;
    asking for a path gives ``answers["path"]`` (default None, as Cancel), asking to locate
    ``answers["locate"]``; a warning that offers an action (``dialogs.ask_action``) is recorded
    as ``("action", title, text)`` (its button in ``actions``) and answered ``answers["action"]`` (default: Cancel)."""
    from PySide6.QtWidgets import QMessageBox

    from workbench.views.data import dialogs

    class Recorder(list):
        answers = {"path": None, "locate": False, "action": False}
        actions = []  # the buttons the action warnings offered

    shown = Recorder()
    monkeypatch.setattr(dialogs, "warn", lambda parent, title, text: shown.append(("warn", title, text)))
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(("warn", title, text)))

    def ask_locate(parent, text, keep):
        shown.append(("locate", None, text))
        return shown.answers["locate"]

    def ask_path(parent, folder=""):
        shown.append(("path", None, folder))
        return shown.answers["path"]

    def ask_action(parent, title, text, action):
        shown.append(("action", title, text))
        shown.actions.append(action)
        return shown.answers["action"]

    from workbench.views import dialogs as common
    monkeypatch.setattr(common, "ask_action", ask_action)
    monkeypatch.setattr(dialogs, "ask_locate", ask_locate)
    monkeypatch.setattr(dialogs, "ask_dataset_path", ask_path)
    return shown
