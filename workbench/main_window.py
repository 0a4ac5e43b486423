"""The main window: one network, five places (Build, Train, Inspect, Draw, Evaluate)."""
import json
import pathlib

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (QFileDialog, QLabel, QMainWindow, QMessageBox, QScrollArea, QSplitter, QTabWidget)

import engine
from engine.presets import list_presets, load_preset, load_spec_file
from engine.snapshots import atomic_write_text, load_snapshot, save_snapshot

from .controller import TrainingController
from .document import NetworkDocument
from .panels.code import CodeView
from .panels.evaluate import EvaluatePanel
from .panels.gallery import TestGallery
from .panels.network_view import NetworkView
from .panels.palette import LayerPaletteView
from .panels.plots import AccuracyPlotView, LossPlotView
from .panels.properties import LayerPropertiesView
from .panels.stack import LayerStackPanel
from .panels.train import TrainPanel

MAX_RECENT = 8


class MainWindow(QMainWindow):
    """Build, train, inspect, draw for and evaluate one network."""

    def __init__(self, dataset, settings=None, parent=None):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.settings = settings or QSettings("convnet-workbench", "convnet-workbench")
        self.dataset = dataset
        self.doc = NetworkDocument()
        self.doc.edit_guard = self._confirm_edit
        self.controller = TrainingController(dataset, self)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("places")
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self._build_build_tab()
        self._build_train_tab()
        self.network_view = NetworkView()
        self.tabs.addTab(self.network_view, "Inspect")
        self._build_draw_tab()
        self.evaluate = EvaluatePanel(self.controller)
        self.tabs.addTab(self.evaluate, "Evaluate")
        self._build_menus()
        self._build_status()
        self._connect()
        self.load_preset("convnetjs-demo")
        self._restore_settings()
        self._tab_changed(self.tabs.currentIndex())

    # -- places ----------------------------------------------------------------------
    def _build_build_tab(self):
        self.palette_view = LayerPaletteView()
        self.stack_panel = LayerStackPanel(self.doc)
        self.stack = self.stack_panel.view
        self.code = CodeView(self.doc)
        middle = QTabWidget()
        middle.setObjectName("stackTabs")
        middle.addTab(self.stack_panel, "Layers")
        middle.addTab(self.code, "JSON")
        self.properties = LayerPropertiesView(self.doc)
        split = QSplitter()
        split.setObjectName("buildSplitter")
        split.addWidget(self.palette_view)
        split.addWidget(middle)
        split.addWidget(self.properties)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 0)
        split.setSizes([210, 620, 280])
        self.build_splitter = split
        self.tabs.addTab(split, "Build")

    def _build_train_tab(self):
        self.train_panel = TrainPanel(self.controller)
        self.loss_plot = LossPlotView()
        self.accuracy_plot = AccuracyPlotView()
        self.gallery = TestGallery()
        right = QSplitter(Qt.Vertical)
        right.addWidget(self.loss_plot)
        right.addWidget(self.accuracy_plot)
        right.addWidget(self.gallery)
        right.setSizes([300, 260, 150])
        controls = QScrollArea()  # the column scrolls on small screens
        controls.setWidget(self.train_panel)
        controls.setWidgetResizable(True)
        controls.setFrameShape(QScrollArea.NoFrame)
        controls.setMinimumWidth(self.train_panel.sizeHint().width() + 16)
        controls.setMaximumWidth(400)
        split = QSplitter()
        split.setObjectName("trainSplitter")
        split.addWidget(controls)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        self.train_tab = split
        self.tabs.addTab(split, "Train")

    def _build_draw_tab(self):
        from .panels.draw import DrawPanel
        self.draw_panel = DrawPanel(self.controller)
        self.draw_panel.showInNetwork.connect(self.show_drawn_in_network)
        self.draw_panel.trainedDemoRequested.connect(self.open_trained_demo)
        self.tabs.addTab(self.draw_panel, "Draw")

    # -- menus -------------------------------------------------------------------------
    def _action(self, menu, text, slot, shortcut=None, tip=None):
        a = QAction(text, self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        menu.addAction(a)
        return a

    def _build_menus(self):
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self._action(f, "&New network", self.new_network, QKeySequence.New,
                     "Start from an input layer and a softmax.")
        self._action(f, "&Open network…", self.open_spec, QKeySequence.Open,
                     "Open a JSON file of layer definitions or a preset.")
        self._action(f, "Open ConvNetJS &snapshot…", self.open_snapshot, "Ctrl+Shift+O",
                     "Open a trained network (ConvNetJS JSON, weights included).")
        self.recent_menu = f.addMenu("Open &recent")
        self.presets_menu = f.addMenu("&Presets")
        for name, path in list_presets().items():
            self.presets_menu.addAction(load_preset(name).get("name", name),
                                        lambda n=name: self.load_preset(n))
        self.presets_menu.addSeparator()
        self.presets_menu.addAction("ConvNetJS MNIST demo, trained (98.8%)", self.open_trained_demo)
        f.addSeparator()
        self._action(f, "&Save network", self.save_spec, QKeySequence.Save)
        self._action(f, "Save network &as…", self.save_spec_as, QKeySequence.SaveAs)
        self._action(f, "Save &weights as snapshot…", self.save_weights, "Ctrl+Shift+E",
                     "Save the trained network as a ConvNetJS snapshot.")
        f.addSeparator()
        self._action(f, "&Quit", self.close, QKeySequence.Quit)
        e = mb.addMenu("&Edit")
        undo = self.doc.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.Undo)
        redo = self.doc.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence.Redo])
        e.addAction(undo)
        e.addAction(redo)
        self.undo_action, self.redo_action = undo, redo
        e.addSeparator()
        self._action(e, "&Duplicate layer", lambda: self.doc.duplicate_layer(self.doc.selected), "Ctrl+D")
        self._action(e, "De&lete layer", lambda: self.doc.remove_layer(self.doc.selected))
        n = mb.addMenu("&Network")
        self.train_action = self._action(n, "&Train / pause", self.toggle_training, "Ctrl+Return")
        self._action(n, "&Step one batch", self.step_once, "F10")
        self._action(n, "&Stop", lambda: self.controller.stop(wait=False), "Ctrl+Shift+Return")
        self._action(n, "&Reset weights", self.reset_weights)
        n.addSeparator()
        self._action(n, "Show &Build", lambda: self.tabs.setCurrentIndex(0), "Ctrl+1")
        self._action(n, "Show T&rain", lambda: self.tabs.setCurrentIndex(1), "Ctrl+2")
        self._action(n, "Show &Inspect", lambda: self.tabs.setCurrentIndex(2), "Ctrl+3")
        self._action(n, "Show &Draw", lambda: self.tabs.setCurrentIndex(3), "Ctrl+4")
        self._action(n, "Show &Evaluate", lambda: self.tabs.setCurrentIndex(4), "Ctrl+5")
        h = mb.addMenu("&Help")
        self._action(h, "&About convnet-workbench", self.about)
        space = QShortcut(QKeySequence(Qt.Key_Space), self.train_tab)
        space.setContext(Qt.WidgetWithChildrenShortcut)
        space.activated.connect(self.toggle_training)

    def _build_status(self):
        sb = self.statusBar()
        self.status_network = QLabel()
        self.status_run = QLabel("idle")
        self.status_run.setObjectName("statusRun")
        self.status_examples = QLabel()
        self.status_accuracy = QLabel()
        for w in (self.status_network, QLabel(f"MNIST {len(self.dataset.train):,} / {len(self.dataset.test):,}"),
                  self.status_run, self.status_examples, self.status_accuracy):
            sb.addPermanentWidget(w)

    def _connect(self):
        c = self.controller
        tp = self.train_panel
        tp.trainRequested.connect(self.start_training)
        tp.stepRequested.connect(self.step_once)
        tp.epochRequested.connect(lambda: self.start_training(epochs=1))
        tp.resetRequested.connect(self.reset_weights)
        c.report.connect(self._on_report)
        c.stateChanged.connect(self._on_state)
        c.predictionsReady.connect(self.gallery.add)
        c.runningChanged.connect(lambda _: self._update_status())
        c.pausedChanged.connect(lambda _: self._update_status())
        c.finished.connect(self._on_finished)
        c.runStarted.connect(self._on_run_started)
        self.doc.changed.connect(self._doc_changed)
        self.doc.weightsChanged.connect(self._weights_changed)
        self.palette_view.layerActivated.connect(self._add_from_palette)
        self.network_view.exampleChanged.connect(self._example_changed)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.plot_timer = QTimer(self, interval=250)
        self.plot_timer.timeout.connect(self._refresh_plots)
        self.plot_timer.start()
        self._pending_state = None

    # -- document ----------------------------------------------------------------------
    def _confirm_edit(self):
        """Editing the network while training: ask, then stop (the edit goes ahead)."""
        if not self.controller.running:
            return True
        answer = QMessageBox.question(
            self, "Stop training?", "The network is training. Changing it stops the run and "
            "starts over with new weights. Stop training and change the network?",
            QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        if answer != QMessageBox.Yes:
            return False
        self.controller.stop(wait=True)
        return True

    def _doc_changed(self):
        self._sync_network()
        ok = self.doc.valid
        why = str(self.doc.error) if self.doc.error else ""
        self.train_panel.set_can_train(ok, why)
        self.train_action.setEnabled(ok)
        self.status_network.setText(f"{self.doc.name}{'' if self.doc.undo_stack.isClean() else ' *'}"
                                    f" · {self.doc.total_params:,} params" if ok else f"{self.doc.name} · invalid")
        self.setWindowTitle(f"{self.doc.name} — convnet-workbench")

    def _weights_changed(self):
        net = self.doc.trained_net()
        if net is not None and not self.controller.running and net is not self.controller.net:
            self.controller.set_network(net, self.doc.layers, trained=True)
            self._refresh_inspect_now()

    def _sync_network(self):
        """While idle, the controller holds a network of the document's structure.

        Trained weights are kept while the structure is the same (or is undone back to
        it); a changed structure gets fresh weights.
        """
        c = self.controller
        if c.running or not self.doc.valid:
            return
        if c.net is not None and c.net_layers == self.doc.layers:
            return
        net = self.doc.trained_net()
        c.set_network(net or engine.Net(self.doc.layers), self.doc.layers, trained=net is not None)
        self._refresh_inspect_now()

    def _add_from_palette(self, layer_type):
        """Double-click on a tile: insert after the selected layer, but above the loss layer."""
        layers = self.doc.layers
        i = self.doc.selected + 1 if self.doc.selected >= 0 else len(layers)
        ends_with_loss = bool(layers) and layers[-1].get("type") in ("softmax", "svm", "regression")
        if ends_with_loss and layer_type not in ("softmax", "svm", "regression"):
            i = min(i, len(layers) - 1)
        self.doc.insert_layer(i, layer_type)

    def load_preset(self, name):
        if not self._confirm_edit():
            return
        p = load_preset(name)
        self.doc.load(p["layer_defs"], p.get("name", name))
        self.train_panel.set_trainer_options(p.get("trainer", {}))

    def open_trained_demo(self):
        """The bundled snapshot of the demo network after 3 epochs: ready to draw for."""
        from engine.data import RESOURCES
        return self.open_snapshot(str(RESOURCES / "snapshots" / "convnetjs-demo-trained.json"))

    def new_network(self):
        if not self._confirm_edit():
            return
        self.doc.load([{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1},
                       {"type": "softmax", "num_classes": 10}], "Untitled")

    def _error(self, title, text):
        QMessageBox.warning(self, title, text)

    def open_spec(self, path=None):
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Open network", "", "Networks (*.json);;All files (*)")
            if not path:
                return False
        try:
            p = load_spec_file(path)
            if not all(isinstance(d, dict) for d in p["layer_defs"]):
                raise engine.SpecError(f"{pathlib.Path(path).name}: every layer must be a JSON object")
        except engine.EngineError as e:
            self._error("Cannot open network", str(e))
            return False
        if not self._confirm_edit():
            return False
        self.doc.load(p["layer_defs"], p.get("name", pathlib.Path(path).stem), path=path)
        if isinstance(p.get("trainer"), dict):
            self.train_panel.set_trainer_options(p["trainer"])
        self._add_recent(path)
        if self.doc.error is not None:
            self.statusBar().showMessage(f"Opened with an error: {self.doc.error}", 8000)
        return True

    def open_snapshot(self, path=None):
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Open snapshot", "", "ConvNetJS snapshots (*.json);;All files (*)")
            if not path:
                return False
        try:
            net, meta = load_snapshot(path)
            if net.layer_defs is None:
                raise engine.SnapshotError(f"{pathlib.Path(path).name}: its loss layer does not follow an "
                                           f"fc layer, which the builder cannot show")
        except engine.EngineError as e:
            self._error("Cannot open snapshot", str(e))
            return False
        if not self._confirm_edit():
            return False
        self.doc.load(net.layer_defs, meta.get("preset") or pathlib.Path(path).stem, path=None, net=net)
        self._add_recent(path)
        self.statusBar().showMessage(f"Opened {pathlib.Path(path).name} with its trained weights", 6000)
        return True

    def save_spec(self):
        return self.save_spec_as(self.doc.path) if self.doc.path else self.save_spec_as()

    def save_spec_as(self, path=None):
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Save network", f"{self.doc.name}.json", "Networks (*.json)")
            if not path:
                return False
        obj = {"name": self.doc.name, "layer_defs": self.doc.layers,
               "trainer": {k: v for k, v in self.controller.trainer_options.items()}}
        try:
            atomic_write_text(path, json.dumps(obj, indent=1))
        except OSError as e:
            self._error("Cannot save", f"{path}: {e.strerror or e}")
            return False
        self.doc.path = path
        self.doc.undo_stack.setClean()
        self._add_recent(path)
        self._doc_changed()
        return True

    def save_weights(self, path=None):
        net = self.controller.net_copy() if self.controller.net is not None else self.doc.trained_net()
        if net is None:
            self._error("No weights", "There are no trained weights yet: train the network or open a snapshot.")
            return False
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Save snapshot", f"{self.doc.name}-weights.json",
                                                  "ConvNetJS snapshots (*.json)")
            if not path:
                return False
        try:
            save_snapshot(net, path, {"preset": self.doc.name, "examples_seen": self.controller.examples_seen,
                                      "trainer": self.controller.trainer_options})
        except OSError as e:
            self._error("Cannot save", f"{path}: {e.strerror or e}")
            return False
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    # -- recent files and settings -----------------------------------------------------------
    def _recent(self):
        v = self.settings.value("recentFiles", [])
        return [v] if isinstance(v, str) else list(v or [])

    def _add_recent(self, path):
        path = str(pathlib.Path(path).resolve())
        files = [path] + [p for p in self._recent() if p != path]
        self.settings.setValue("recentFiles", files[:MAX_RECENT])
        self._update_recent_menu()

    def _update_recent_menu(self):
        self.recent_menu.clear()
        for p in self._recent():
            self.recent_menu.addAction(pathlib.Path(p).name, lambda p=p: self._open_recent(p)).setToolTip(p)
        self.recent_menu.setEnabled(bool(self._recent()))

    def _open_recent(self, path):
        try:
            obj = json.loads(pathlib.Path(path).read_text())
        except (OSError, ValueError) as e:
            self._error("Cannot open", f"{path}: {e}")
            return
        (self.open_snapshot if isinstance(obj, dict) and "layers" in obj else self.open_spec)(path)

    def _restore_settings(self):
        g = self.settings.value("geometry")
        size = self.settings.value("size")
        if isinstance(g, QByteArray) and not g.isEmpty():
            self.restoreGeometry(g)
        # restoreGeometry clamps to the screen it thinks it is on; the size itself is kept
        self.resize(size if isinstance(size, QSize) and size.isValid() else QSize(1280, 800))
        s = self.settings.value("buildSplitter")
        if isinstance(s, QByteArray):
            self.build_splitter.restoreState(s)
        self.tabs.setCurrentIndex(int(self.settings.value("tab", 0) or 0))
        self._update_recent_menu()

    ask_to_save = True  # tests switch the question off

    def closeEvent(self, e):
        if self.ask_to_save and not self.doc.undo_stack.isClean():
            answer = QMessageBox.question(
                self, "Save changes?", f"The network \u201c{self.doc.name}\u201d has changes that are "
                "not saved. Save them before closing?",
                QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
            if answer == QMessageBox.Cancel or (answer == QMessageBox.Save and not self.save_spec()):
                e.ignore()
                return
        self.controller.shutdown()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("size", self.size())
        self.settings.setValue("buildSplitter", self.build_splitter.saveState())
        self.settings.setValue("tab", self.tabs.currentIndex())
        self.settings.sync()
        self.plot_timer.stop()
        super().closeEvent(e)

    # -- training ------------------------------------------------------------------------
    def _ensure_network(self):
        """The controller trains the document's network; its weights become the document's."""
        self._sync_network()
        if self.controller.net is not None and self.doc.trained_net() is not self.controller.net:
            self.doc.set_trained_net(self.controller.net)

    def start_training(self, epochs=None):
        if not self.doc.valid:
            return
        self.train_panel.clear_message()
        if self.controller.running:
            self.controller.resume()
            return
        try:
            self._ensure_network()
            self.controller.start(epochs=epochs)
        except engine.EngineError as e:
            self._error("Cannot train", str(e))

    def step_once(self):
        """Train one batch (a paused run is started if none is going)."""
        if not self.doc.valid:
            return
        if not self.controller.running:
            self._ensure_network()
        self.controller.step()

    def toggle_training(self):
        c = self.controller
        if not c.running:
            self.start_training()
        elif c.paused:
            c.resume()
        else:
            c.pause()

    def reset_weights(self):
        if self.controller.running or not self.doc.valid:
            return
        net = engine.Net(self.doc.layers)
        self.controller.set_network(net, self.doc.layers)
        self.doc.set_trained_net(net)

    def _on_run_started(self, run_id):
        self.draw_panel.update_prediction()
        self.loss_plot.retire_run()
        self.accuracy_plot.retire_run()
        self.gallery.reset()
        self._update_status()

    def _on_report(self, r):
        self.loss_plot.add(r)
        self.accuracy_plot.add(r)
        self.status_examples.setText(f"{r['examples_seen']:,} examples · epoch {r['epoch']:.2f}")
        if r["tag"] == "eval" and "validation_accuracy" in r:
            self.status_accuracy.setText(f"validation {r['validation_accuracy']:.2%}")
        elif r["tag"] == "eval" and "test_accuracy" in r:
            self.status_accuracy.setText(f"test {r['test_accuracy']:.2%}")

    def _on_finished(self, how):
        self._update_status()
        if how == "diverged":
            self.tabs.setCurrentWidget(self.train_tab)
        self._refresh_inspect_now()

    def _refresh_plots(self):
        for p in (self.loss_plot, self.accuracy_plot):
            if p._dirty:
                p.refresh()

    def _update_status(self):
        c = self.controller
        self.status_run.setText("paused" if c.paused else ("training" if c.running else "idle"))
        self.train_panel.update_buttons()

    # -- inspect -----------------------------------------------------------------------
    def _on_state(self, state):
        if self.tabs.currentWidget() is self.draw_panel and not self.draw_panel.canvas.is_empty():
            self.draw_panel.update_prediction()  # the weights moved on: ask them again
        if self.tabs.currentWidget() is self.network_view:
            self.network_view.show_state(state)
        else:
            self._pending_state = state

    def _tab_changed(self, index):
        shown = self.tabs.widget(index)
        # The worker makes pictures only for the place on screen.
        self.controller.want_state = shown in (self.network_view, self.draw_panel)
        self.controller.want_gallery = shown is self.train_tab
        if shown is self.network_view:
            if self._pending_state is not None:
                self.network_view.show_state(self._pending_state)
                self._pending_state = None
            elif self.network_view.state is None:
                self._refresh_inspect_now()

    def _example_changed(self, source):
        self.controller.view_source = source
        self._refresh_inspect_now()

    def _refresh_inspect_now(self):
        if self.tabs.currentWidget() is not self.network_view:
            self.network_view.state = None  # drawn when the place is shown
            return
        st = self.controller.make_state_now() if not self.controller.running else None
        if st is not None:
            self.network_view.show_state(st)

    def show_drawn_in_network(self):
        self.network_view.source.setCurrentIndex(self.network_view.source.findData("drawn"))
        self.controller.view_source = ("drawn", 0)
        st = self.controller._make_state()
        if st is not None:
            self.network_view.show_state(st)
        self.tabs.setCurrentWidget(self.network_view)

    def about(self):
        QMessageBox.about(self, "About convnet-workbench",
                          "<b>convnet-workbench</b><br>Build, train and look inside convolutional "
                          "networks on MNIST. The engine speaks ConvNetJS: its layers, trainers and "
                          "snapshots.")
