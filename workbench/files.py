"""Files: open and save experiments, open and save snapshots, presets and recent files.

Every open reads and checks the whole file before the session is touched, and shows
a dialog that says what is wrong when anything is; the current network, weights and
undo history stay as they were. Saves go to a temporary file renamed into place.
"""
import pathlib

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

import engine
from engine.data import RESOURCES
from engine.experiment import Experiment, ExperimentError, experiment_from_file_object, preset
from engine.io import read_json
from engine.net import spec_from_layers
from engine.presets import list_presets
from engine.snapshots import load_trained
from engine.spec import build_layers

MAX_RECENT = 8
TRAINED_DEMO = RESOURCES / "snapshots" / "convnetjs-demo-trained.json"
JSON_FILTER = "JSON (*.json);;All files (*)"


def same_network(layer_defs, net):
    """True when ``layer_defs`` describe exactly the layers of ``net`` (every option, shorthands expanded)."""
    try:
        return spec_from_layers(build_layers(layer_defs)) == net.layer_defs
    except engine.EngineError:
        return False


class FileCommands(QObject):
    """The File menu's commands for one session, with ``window`` as the parent of their dialogs."""

    def __init__(self, session, settings, window):
        super().__init__(window)
        self.session = session
        self.settings = settings
        self.window = window
        self.recent_menu = QMenu("Open &recent", window)
        self.presets_menu = QMenu("&Presets", window)
        for name in list_presets():
            try:
                title = preset(name).name
            except engine.EngineError:
                continue
            self.presets_menu.addAction(title, lambda n=name: self.open_preset(n))
        self.presets_menu.addSeparator()
        self.presets_menu.addAction("ConvNetJS MNIST demo, trained (98.8%)", self.open_trained_demo)
        self._update_recent_menu()

    def fill_menu(self, menu):
        """The File menu: new, open, recent, presets, save, save as, save weights."""
        def add(text, slot, shortcut=None, tip=None):
            a = QAction(text, self.window)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            if tip:
                a.setStatusTip(tip)
            a.triggered.connect(lambda: slot())
            menu.addAction(a)
            return a
        add("&New network", self.session.new_network, QKeySequence.New, "Start from an input layer and a softmax.")
        add("&Open experiment…", self.open_experiment, QKeySequence.Open,
            "Open an experiment, a preset, or a JSON list of layer definitions.")
        add("Open ConvNetJS &snapshot…", self.open_snapshot, "Ctrl+Shift+O",
            "Open a trained network (ConvNetJS JSON, weights included).")
        menu.addMenu(self.recent_menu)
        menu.addMenu(self.presets_menu)
        menu.addSeparator()
        add("&Save experiment", self.save, QKeySequence.Save, "The network and every training setting.")
        add("Save experiment &as…", self.save_as, QKeySequence.SaveAs)
        add("Save &weights as snapshot…", self.save_weights, "Ctrl+Shift+E",
            "Save the trained network as a ConvNetJS snapshot.")

    # -- dialogs -----------------------------------------------------------------------------
    def _error(self, title, text):
        QMessageBox.warning(self.window, title, text)

    def _folder(self):
        return str(self.settings.value("lastFolder", "") or "")

    def _ask_open(self, title, filter_=JSON_FILTER):
        path, _ = QFileDialog.getOpenFileName(self.window, title, self._folder(), filter_)
        return path or None

    def _ask_save(self, title, name):
        path, _ = QFileDialog.getSaveFileName(self.window, title, str(pathlib.Path(self._folder()) / name),
                                              JSON_FILTER)
        return path or None

    def _status(self, text, ms=6000):
        self.window.statusBar().showMessage(text, ms)

    # -- opening -------------------------------------------------------------------------------
    def open_path(self, path):
        """Open a file of either kind: a snapshot (``layers``) or an experiment."""
        try:
            obj = read_json(path, engine.SpecError)
        except engine.EngineError as e:
            self._error("Cannot open", str(e))
            return False
        if isinstance(obj, dict) and "layers" in obj and "layer_defs" not in obj:
            return self.open_snapshot(path)
        return self.open_experiment(path)

    def open_experiment(self, path=None):
        """An experiment file (or a preset, or a list of layer definitions); with its weights if it holds them."""
        path = path or self._ask_open("Open experiment")
        if not path:
            return False
        try:
            exp, net = self._read_experiment(path)
            if net is None:
                done = self.session.load_experiment(exp, path=str(path))
            else:
                # no path: Save must not write the experiment alone over the file that holds weights
                done = self.session.load_snapshot(net, exp.name, exp, self._layers_for(exp, net))
        except engine.EngineError as e:
            self._error("Cannot open experiment", str(e))
            return False
        if done:
            self._opened(path)
            if self.session.doc.error is not None:
                self._status(f"Opened with an error: {self.session.doc.error}", 8000)
        return done

    @staticmethod
    def _read_experiment(path):
        """``(experiment, trained net or None)`` from an experiment file, a preset or a bare list."""
        obj = read_json(path, ExperimentError)
        if isinstance(obj, dict) and obj.get("weights") is not None:
            return experiment_from_file_object(obj, path)
        return Experiment.load(path), None

    def open_preset(self, name):
        try:
            return self.session.load_experiment(preset(name))
        except engine.EngineError as e:
            self._error("Cannot open preset", str(e))
            return False

    def open_snapshot(self, path=None):
        """Trained weights, with the experiment (or trainer settings) saved with them if any."""
        path = path or self._ask_open("Open snapshot", "ConvNetJS snapshots (*.json);;All files (*)")
        if not path:
            return False
        name = pathlib.Path(path).name
        try:
            net, exp, meta = load_trained(path)
            if net.layer_defs is None:
                raise engine.SnapshotError(f"{name}: its loss layer does not follow an fc layer, "
                                           f"which the builder cannot show")
            title = exp.name if exp is not None else meta.get("preset") or pathlib.Path(path).stem
            if exp is None and isinstance(meta.get("trainer"), dict):
                exp = self.session.settings.replace(trainer=meta["trainer"])
                layers = net.layer_defs
            else:
                layers = self._layers_for(exp, net)
            done = self.session.load_snapshot(net, str(title), exp, layers)
        except engine.EngineError as e:
            self._error("Cannot open snapshot", str(e))
            return False
        if done:
            self._opened(path)
            self._status(f"Opened {name} with its trained weights")
        return done

    @staticmethod
    def _layers_for(exp, net):
        """The experiment's layer definitions when they describe exactly ``net`` (as they were
        written, shorthands and all), else the ones read from the weights."""
        return exp.layer_defs if exp is not None and same_network(exp.layer_defs, net) else net.layer_defs

    def open_trained_demo(self):
        """The bundled snapshot of the demo network after 3 epochs: ready to draw for."""
        return self.open_snapshot(str(TRAINED_DEMO))

    def _opened(self, path):
        if pathlib.Path(path).resolve() != TRAINED_DEMO.resolve():
            self.add_recent(path)

    # -- saving ---------------------------------------------------------------------------------
    def save(self):
        return self.save_as(self.session.doc.path)

    def save_as(self, path=None):
        """Write the experiment: the layers and every training setting."""
        path = path or self._ask_save("Save experiment", f"{self.session.doc.name}.json")
        if not path:
            return False
        try:
            self.session.experiment().save(path)
        except OSError as e:
            self._error("Cannot save", f"{path}: {e.strerror or e}")
            return False
        except engine.EngineError as e:
            self._error("Cannot save", str(e))
            return False
        self.session.mark_saved(str(path))
        self.add_recent(path)
        return True

    def save_weights(self, path=None):
        s = self.session
        w = s.weights
        if w is None:
            self._error("No weights", "There are no trained weights yet: train the network or open a snapshot.")
            return False
        path = path or self._ask_save("Save snapshot", f"{s.doc.name}-weights.json")
        if not path:
            return False
        exp = s.experiment()
        meta = {"preset": s.doc.name, "examples_seen": w.examples_seen, "trainer": exp.trainer}
        try:
            try:
                w.save(path, meta, experiment=exp)
            except engine.SnapshotError:  # the layers were edited since (and are invalid): the weights' own
                w.save(path, meta, experiment=exp.replace(layer_defs=w.layer_defs))
        except OSError as e:
            self._error("Cannot save", f"{path}: {e.strerror or e}")
            return False
        except engine.EngineError as e:
            self._error("Cannot save", str(e))
            return False
        self._remember_folder(path)
        self._status(f"Saved {path}", 5000)
        return True

    def maybe_save(self):
        """Before closing: ask to save unsaved changes. False means: do not close."""
        s = self.session
        if not s.modified:
            return True
        answer = QMessageBox.question(
            self.window, "Save changes?", f"The experiment \u201c{s.doc.name}\u201d has changes that are "
            "not saved. Save them before closing?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        return answer == QMessageBox.Discard or (answer == QMessageBox.Save and self.save())

    # -- recent files ---------------------------------------------------------------------------
    def recent(self):
        v = self.settings.value("recentFiles", [])
        return [v] if isinstance(v, str) else list(v or [])

    def add_recent(self, path):
        path = str(pathlib.Path(path).resolve())
        files = [path] + [p for p in self.recent() if p != path]
        self.settings.setValue("recentFiles", files[:MAX_RECENT])
        self._remember_folder(path)
        self._update_recent_menu()

    def _remember_folder(self, path):
        self.settings.setValue("lastFolder", str(pathlib.Path(path).resolve().parent))

    def _update_recent_menu(self):
        self.recent_menu.clear()
        for p in self.recent():
            self.recent_menu.addAction(pathlib.Path(p).name, lambda p=p: self.open_path(p)).setToolTip(p)
        self.recent_menu.setEnabled(bool(self.recent()))
