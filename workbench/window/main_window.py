"""The main window: a shell around one session. Eight places (Build, Train, Inspect, Draw,
Evaluate, Map, Data, Runs), the menus and the status bar; everything else lives in the
session, the file commands, the experiments (runs kept, the coach) and the views."""
from PySide6.QtCore import QByteArray, QSettings, QSize
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox, QTabWidget

from engine.runs.experiment import preset
from workbench.state import background
from workbench.state.session import Session
from workbench.views import dialogs
from workbench.views.build.place import BuildPlace
from workbench.views.data.place import DatasetView
from workbench.views.draw.place import DrawPanel
from workbench.views.evaluate.place import EvaluatePanel
from workbench.views.inspect.place import NetworkView
from workbench.views.map.place import EmbeddingMapPlace
from workbench.views.status import StatusView
from workbench.views.train.place import TrainPlace
from workbench.views.undo_keys import UndoKeys
from workbench.window.collector import collect_on_gui_thread
from workbench.window.experiments import Experiments
from workbench.window.files import FileCommands

MISFIT_TITLE = "The network does not fit the data"  # the session's problem when Train is asked anyway


def _once(keys, taken=()):
    seen, out = {k.toString() for k in taken}, []
    for k in keys:
        if not k.isEmpty() and k.toString() not in seen:
            seen.add(k.toString())
            out.append(k)
    return out


def undo_shortcuts(bindings=None):
    """Ctrl+Z and the platform's Undo keys (``bindings``: ``QKeySequence.keyBindings(Undo)``), each once."""
    bindings = QKeySequence.keyBindings(QKeySequence.Undo) if bindings is None else bindings
    return _once([QKeySequence("Ctrl+Z")] + list(bindings))


def redo_shortcuts(bindings=None, undo_bindings=None):
    """Ctrl+Shift+Z, Ctrl+Y and the platform's Redo keys, each once, and none that undoes.

    A key bound twice is ambiguous, and then neither binding works: on X11 the
    platform's Redo is Ctrl+Shift+Z itself, and binding both killed Redo by keyboard.
    """
    bindings = QKeySequence.keyBindings(QKeySequence.Redo) if bindings is None else bindings
    keys = [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")] + list(bindings)
    return _once(keys, taken=undo_shortcuts(undo_bindings))


class MainWindow(QMainWindow):
    """Build, train, inspect, draw for and evaluate one network.

    Parameters
    ----------
    dataset : engine.data.Dataset
    settings : QSettings, optional
        Where geometry, the last place and recent files persist.
    experiment : str or Experiment, optional
        A preset name or an experiment to start with (default: the ConvNetJS demo).
    """

    ask_to_save = True  # tests switch the question off

    def __init__(self, dataset, settings=None, experiment="convnetjs-demo", parent=None):
        super().__init__(parent)
        collect_on_gui_thread()  # cyclic garbage holding Qt objects must not die on a training thread
        self.setObjectName("mainWindow")
        self.settings = settings or QSettings("convnet-workbench", "convnet-workbench")
        self.session = s = Session(dataset, parent=self)
        self.doc = s.doc
        s.training.confirm_stop = self._confirm_stop
        s.problem.connect(self._problem)
        self.files = FileCommands(s, self.settings, self)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("places")
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self.build_tab = BuildPlace(s)
        self.train_tab = TrainPlace(s, self.settings)
        self.network_view = NetworkView(s)
        self.draw_panel = DrawPanel(s)
        self.evaluate = EvaluatePanel(s)
        for place, title in ((self.build_tab, "Build"), (self.train_tab, "Train"), (self.network_view, "Inspect"),
                             (self.draw_panel, "Draw"), (self.evaluate, "Evaluate")):
            self.tabs.addTab(place, title)
        self.draw_panel.showInNetwork.connect(self.show_drawn_in_network)
        self.map_place = EmbeddingMapPlace(s)  # the embedding map (issue #14)
        self.tabs.addTab(self.map_place, "Map")
        self.dataset_view = DatasetView(s)  # the dataset in use (issue #12)
        self.tabs.addTab(self.dataset_view, "Data")
        self.data_box = self.train_tab.controls.data_box
        self.data_box.showRequested.connect(lambda: self.tabs.setCurrentWidget(self.dataset_view))
        self.evaluate.openExample.connect(self.show_in_inspect)
        self.map_place.openExample.connect(self.show_in_inspect)
        self.draw_panel.trainedDemoRequested.connect(self.files.open_trained_demo)
        self.status = StatusView(s, self.statusBar())
        self.tour = None  # the guided tour, made when first asked for (guided_tour)
        self.experiments = Experiments(self)  # runs kept, compared, resumed; the coach (issue #15)
        self.keeper = self.experiments.keeper
        self._build_menus()
        s.doc.changed.connect(self._doc_changed)
        s.doc.undo_stack.cleanChanged.connect(self._show_modified)
        s.settingsChanged.connect(self._show_modified)
        self.train_tab.controls.buildRequested.connect(lambda: self.tabs.setCurrentWidget(self.build_tab))
        s.training.finished.connect(self._run_finished)
        if isinstance(experiment, str):
            experiment = preset(experiment)
        if experiment is not None:
            # the window starts on the dataset it was given, whatever data the experiment names
            s.load_experiment(experiment.replace(data=s.data.path))
        self._restore_settings()

    # -- menus ------------------------------------------------------------------------------
    def _action(self, menu, text, slot, shortcut=None):
        a = QAction(text, self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        a.triggered.connect(lambda: slot())
        menu.addAction(a)
        return a

    def _build_menus(self):
        s = self.session
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self.files.fill_menu(f)
        self._action(f, "Open &dataset…", self.data_box.open_dialog, "Ctrl+Shift+D")
        # menu sections other features fill (``add_menu_actions``), each before its anchor
        self._menu_sections = {"file": (f, f.addSeparator())}
        self._action(f, "&Quit", self.close, QKeySequence.Quit)
        e = mb.addMenu("&Edit")
        self.undo_action = s.doc.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(undo_shortcuts())
        self.redo_action = s.doc.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts(redo_shortcuts())
        e.addAction(self.undo_action)
        e.addAction(self.redo_action)
        # a focused field keeps the keys only while its text is being edited
        self.undo_keys = UndoKeys(self.undo_action.shortcuts(), self.redo_action.shortcuts(), self)
        e.addSeparator()
        self._action(e, "&Duplicate layer", lambda: s.doc.duplicate_layer(s.doc.selected), "Ctrl+D")
        self._action(e, "De&lete layer", lambda: s.doc.remove_layer(s.doc.selected))
        n = mb.addMenu("&Network")
        self.train_action = self._action(n, "&Train / pause", s.training.toggle, "Ctrl+Return")
        self._action(n, "&Step one batch", s.training.step, "F10")
        self._action(n, "&Stop", lambda: s.training.stop(wait=False), "Ctrl+Shift+Return")
        self._action(n, "&Reset weights", s.reset_weights)
        n.addSeparator()
        for k, name in enumerate(("&Build", "T&rain", "&Inspect", "&Draw", "&Evaluate")):
            self._action(n, f"Show {name}", lambda k=k: self.tabs.setCurrentIndex(k), f"Ctrl+{k + 1}")
        self._action(n, "Show the embedding &map", lambda: self.tabs.setCurrentWidget(self.map_place), "Ctrl+6")
        self._action(n, "Show the d&ata", lambda: self.tabs.setCurrentWidget(self.dataset_view), "Ctrl+7")
        self._menu_sections["places"] = (n, None)  # the end of the Network menu: more places
        h = mb.addMenu("&Help")
        self._action(h, "&Guided tour", lambda: self.guided_tour().start())
        h.addSeparator()
        self._action(h, "Open &log folder", self.open_log_folder)
        self._action(h, "&About convnet-workbench", self.about)
        self.experiments.fill_menus(f, n)

    def add_menu_actions(self, section, actions, separated=False):
        """A menu section other features fill: ``"file"`` (the File menu's own commands, before
        Quit) or ``"places"`` (Network's Show … commands); ``separated``: a line after them."""
        menu, anchor = self._menu_sections[section]
        for a in actions:
            if anchor is None:
                menu.addAction(a)
            else:
                menu.insertAction(anchor, a)
        if separated:
            if anchor is None:
                menu.addSeparator()
            else:
                menu.insertSeparator(anchor)

    # -- following the session ------------------------------------------------------------------
    def _doc_changed(self):
        self.train_action.setEnabled(self.doc.valid)
        self.setWindowTitle(f"{self.doc.name}[*] — convnet-workbench")  # a title is plain text
        self._show_modified()

    def _show_modified(self, clean=None):
        # from cleanChanged's argument when there is one: during an edit the stack has not moved yet
        clean = self.doc.undo_stack.isClean() if not isinstance(clean, bool) else clean
        self.setWindowModified(self.session.settings_modified or not clean)

    def _problem(self, title, text):
        fit = self.session.data_fit() if title == MISFIT_TITLE else None
        if fit and fit["input"] + fit["loss"]:  # the dialog offers the remedy itself
            text = text.replace("Build's \u201cAdapt the network\u201d", "\u201cAdapt the network\u201d")
            if dialogs.ask_action(self, title, text, "Adapt the network"):
                self.train_tab.controls.adapt_network()
            return
        dialogs.warn(self, title, text)

    def _run_finished(self, how):
        if how in ("diverged", "not learning"):
            self.tabs.setCurrentWidget(self.train_tab)

    def _confirm_stop(self):
        """Editing or replacing the network while training: ask first."""
        answer = QMessageBox.question(
            self, "Stop training?", "The network is training. Changing it stops the run and "
            "starts over with new weights. Stop training and change the network?",
            QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Yes

    def show_drawn_in_network(self):
        """Draw's "Show in network": Inspect, showing the drawn digit."""
        self.tabs.setCurrentWidget(self.network_view)
        self.network_view.show_example(("drawn", 0))

    def show_in_inspect(self, source):
        """An example picked in a gallery or on the map: Inspect, showing it."""
        self.tabs.setCurrentWidget(self.network_view)
        self.network_view.show_example(source)

    def guided_tour(self):
        """The guided tour (``workbench.tour``): a panel at the side, made when first asked for."""
        if self.tour is None:
            from workbench.tour.tour import Tour
            self.tour = Tour(self)
        return self.tour

    def open_log_folder(self):
        """Help > Open log folder: the folder of the app's log file, in the file manager."""
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        from workbench.window import logs
        folder = logs.folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            dialogs.warn(self, "Cannot open the log folder", f"{folder}: {e}")
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def about(self):
        QMessageBox.about(self, "About convnet-workbench",
                          "<b>convnet-workbench</b><br>Build, train and look inside convolutional "
                          "networks on MNIST. The engine speaks ConvNetJS: its layers, trainers and "
                          "snapshots.")

    # -- window state ---------------------------------------------------------------------------
    def _restore_settings(self):
        g = self.settings.value("geometry")
        size = self.settings.value("size")
        if isinstance(g, QByteArray) and not g.isEmpty():
            self.restoreGeometry(g)
        # restoreGeometry clamps to the screen it thinks it is on; the size itself is kept
        self.resize(size if isinstance(size, QSize) and size.isValid() else QSize(1280, 800))
        state = self.settings.value("buildSplitter")
        if isinstance(state, QByteArray):
            self.build_tab.restoreState(state)
        self.tabs.setCurrentIndex(int(self.settings.value("tab", 0) or 0))

    def closeEvent(self, e):
        if background.busy() or not self.files.maybe_save("close"):  # not under a file being read
            e.ignore()
            return
        self.session.shutdown()
        self.experiments.close()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("size", self.size())
        self.settings.setValue("buildSplitter", self.build_tab.saveState())
        self.settings.setValue("tab", self.tabs.currentIndex())
        self.settings.sync()
        super().closeEvent(e)
