"""Files: open and save experiments, open and save snapshots, presets and recent files.

Every way in goes through one path (``FileCommands.open_with``): the file is read and
checked completely on a worker thread (``opening``), while the window stays live and,
for a big file, shows progress with Cancel; then, if trained weights or changes would
be lost, the user is asked; then the session takes it in one go. A failure of any kind
(bad JSON, a network over the engine's limits, a device, a folder, a file that
vanished, not enough memory) is one dialog with one message, and the current network,
weights, settings and undo history stay exactly as they were. Saves go to a temporary
file renamed into place, and a failed save says why and changes nothing.
"""
import pathlib

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox  # noqa: F401 (tests patch them here)

import engine
from engine.runs.experiment import preset
from engine.runs.presets import list_presets
from workbench.state import background
from workbench.state.jobs import Cancelled
from workbench.tasks import opening
from workbench.tasks.opening import TRAINED_DEMO, same_network  # noqa: F401 (part of this module's surface)
from workbench.views import dialogs

MAX_RECENT = 8
JSON_FILTER = "JSON (*.json);;All files (*)"
SNAPSHOT_FILTER = "ConvNetJS snapshots (*.json);;All files (*)"

#: What the save questions say the user is about to do.
DOING = {"close": "closing", "open": "opening another network", "new": "starting a new network"}


class FileCommands(QObject):
    """The File menu's commands for one session, with ``window`` as the parent of their dialogs."""

    def __init__(self, session, settings, window):
        super().__init__(window)
        self.session = session
        self.settings = settings
        self.window = window
        dialogs.use_settings(settings)
        self.recent_menu = QMenu("Open &recent", window)
        self.presets_menu = QMenu("&Presets", window)
        for name in list_presets():
            try:
                title = preset(name).name
            except engine.EngineError:
                continue
            self.presets_menu.addAction(dialogs.menu_text(title), lambda n=name: self.open_preset(n))
        self.presets_menu.addSeparator()
        self.presets_menu.addAction("ConvNetJS MNIST demo, trained (98.8%)", self.open_trained_demo)
        self._update_recent_menu()
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    def fill_menu(self, menu):
        """The File menu: new, open, recent, presets, save, save as, save weights, export."""
        def add(text, slot, shortcut=None, tip=None):
            a = QAction(text, self.window)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            if tip:
                a.setStatusTip(tip)
            a.triggered.connect(lambda: slot())
            menu.addAction(a)
            return a
        add("&New network", self.new_network, QKeySequence.New, "Start from an input layer and a softmax.")
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
        self.export_action = add("E&xport…", self.export, None,
                                 "The trained network as an ONNX model or a PyTorch folder, checked "
                                 "against the engine.")

    # -- dialogs -----------------------------------------------------------------------------
    def _error(self, title, text):
        dialogs.warn(self.window, title, text)

    def _ask_open(self, title, filter_=JSON_FILTER):
        return dialogs.ask_open(self.window, title, filter_)

    def _ask_save(self, title, name):
        return dialogs.ask_save(self.window, title, name, JSON_FILTER)

    def _status(self, text, ms=6000):
        self.window.statusBar().showMessage(text, ms)

    # -- the one way in ------------------------------------------------------------------------
    def open_with(self, title, what, read, *inputs):
        """Read with ``read(state, *inputs)`` (an ``opening`` reader) off the GUI thread, ask
        before losing work, then hand the result to the session. False (and nothing
        changed) on any failure, which gets one dialog, or when the user cancels."""
        try:
            opened = background.wait_for(self.window, f"Opening {what}…", read, *inputs)
        except Cancelled:
            return False
        except Exception as e:  # noqa: BLE001 - whatever a file does, a dialog, never a traceback
            self._error(title, dialogs.failure_message(e, what))
            return False
        s = self.session
        if not self.maybe_save("open", None if opened.net is not None else opened.experiment.layer_defs):
            return False
        try:
            if opened.net is None:
                done = s.load_experiment(opened.experiment, path=opened.path)
            else:
                done = s.load_snapshot(opened.net, opened.name, opened.experiment, opened.layers)
        except Exception as e:  # noqa: BLE001 - read in full before: only a bug gets here
            self._error(title, dialogs.failure_message(e, what))
            return False
        if not done:
            return False
        if opened.source is not None:
            self._opened(opened.source)
        if opened.net is not None:
            self._status(f"Opened {what} with its trained weights")
        elif s.doc.error is not None:
            self._status(f"Opened with an error: {s.doc.error}", 8000)
        return True

    # -- opening -------------------------------------------------------------------------------
    def open_path(self, path):
        """Open a file of either kind: a snapshot (``layers``) or an experiment."""
        return self.open_with("Cannot open", pathlib.Path(path).name or str(path), opening.read_big,
                              opening.read_any, str(path), self.session.settings)

    def open_experiment(self, path=None):
        """An experiment file (or a preset, or a list of layer definitions); with its weights if it holds them."""
        path = path or self._ask_open("Open experiment")
        if not path:
            return False
        return self.open_with("Cannot open experiment", pathlib.Path(path).name or str(path),
                              opening.read_big, opening.read_experiment, str(path))

    def open_preset(self, name):
        return self.open_with("Cannot open preset", name, opening.read_preset, name)

    def open_snapshot(self, path=None):
        """Trained weights, with the experiment (or trainer settings) saved with them if any."""
        path = path or self._ask_open("Open snapshot", SNAPSHOT_FILTER)
        if not path:
            return False
        return self.open_with("Cannot open snapshot", pathlib.Path(path).name or str(path),
                              opening.read_big, opening.read_snapshot, str(path), self.session.settings)

    def open_trained_demo(self):
        """The bundled snapshot of the demo network after 3 epochs: ready to draw for."""
        return self.open_snapshot(str(TRAINED_DEMO))

    def _opened(self, path):
        if not opening.bundled(path):
            self.add_recent(path)

    def new_network(self):
        """Start from an input layer and a softmax (asking first if work would be lost)."""
        from workbench.state.session import NEW_NETWORK
        if not self.maybe_save("new", NEW_NETWORK):
            return False
        return self.session.new_network()

    # -- dropping a file on the window ------------------------------------------------------------
    def eventFilter(self, obj, event):
        if obj is self.window and event.type() in (QEvent.DragEnter, QEvent.Drop):
            urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
            files = [u.toLocalFile() for u in urls if u.isLocalFile()]
            if len(files) != 1:
                return False
            event.acceptProposedAction()
            if event.type() == QEvent.Drop:
                self.open_path(files[0])
            return True
        return super().eventFilter(obj, event)

    # -- saving ---------------------------------------------------------------------------------
    def save(self):
        return self.save_as(self.session.doc.path)

    def save_as(self, path=None):
        """Write the experiment: the layers and every training setting. Saved under a new
        file name, the network takes the file's name."""
        path = path or self._ask_save("Save experiment", f"{self.session.doc.name}.json")
        if not path:
            return False
        name = pathlib.Path(path).stem or self.session.doc.name
        try:
            self.session.experiment().replace(name=name).save(path)
        except Exception as e:  # noqa: BLE001 - a dialog, and nothing changed
            self._error("Cannot save", dialogs.failure_message(e, path))
            return False
        self.session.mark_saved(str(path), name)
        self.add_recent(path)
        dialogs.remember(path, saved=True)
        return True

    def save_weights(self, path=None):
        """The published weights as a ConvNetJS snapshot that carries the experiment,
        written on a worker thread (a big network's JSON takes a while)."""
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
            background.wait_for(self.window, f"Saving {pathlib.Path(path).name}…", _write_weights,
                                w, str(path), meta, exp)
        except Cancelled:
            return False
        except Exception as e:  # noqa: BLE001
            self._error("Cannot save", dialogs.failure_message(e, path))
            return False
        s.mark_weights_saved(w)
        dialogs.remember(path, saved=True)
        self._status(f"Saved {path}", 5000)
        return True

    def export(self):
        """File › Export…: the trained network as an ONNX model or a PyTorch folder."""
        from workbench.views.export_dialog import ExportDialog
        if self.session.weights is None:
            self._error("No weights", "There are no weights to export yet: train the network or open a snapshot.")
            return None
        dialog = ExportDialog(self.session, self.window)
        dialog.open()
        return dialog

    # -- before work is lost ------------------------------------------------------------------------
    def maybe_save(self, doing="close", layer_defs=None):
        """Before closing, opening or starting over: offer to save what would be lost
        (trained weights that are in no file, then unsaved changes). False: do not go on.

        ``layer_defs``: the layers about to be opened (the weights stay when they are the
        same). Once the user has answered, a run in progress is stopped without asking again.
        """
        if not getattr(self.window, "ask_to_save", True):
            return True
        s = self.session
        verb = DOING.get(doing, doing)
        # a run pauses while the user is asked, so that the question's numbers stay true and
        # nothing trains on behind it; it goes on if the user cancels
        paused_here = s.training.running and not s.training.paused and s.would_lose_weights(layer_defs)
        if paused_here:
            s.training.pause()
        try:
            go_on = self._ask_before_losing(s, verb, layer_defs)
        finally:
            if paused_here and s.training.running and s.training.paused:
                s.training.resume()
        return go_on

    def _ask_before_losing(self, s, verb, layer_defs):
        """One question about everything that would be lost (trained weights in no file,
        unsaved changes), never one after another."""
        weights, changes = s.would_lose_weights(layer_defs), s.modified
        if not weights and not changes:
            return True
        live = weights and s.trained and s.examples_seen > 0  # else: weights set aside by an edit
        name = s.doc.name
        if weights and live:
            what = (f"is training, and its weights ({s.examples_seen:,} examples seen) are in no file"
                    if s.training.running else f"has trained weights ({s.examples_seen:,} examples seen) that are "
                    f"in no file")
            if changes:
                what += ", and changes to the experiment that are not saved"
            title = "Save your work?" if changes else "Save trained weights?"
            text = (f"The network \u201c{name}\u201d {what}. "
                    + ("Stop and save" if s.training.running else "Save")
                    + f" them as a snapshot (the weights with the experiment) before {verb}?")
            answer = dialogs.ask_save_discard_cancel(self.window, title, text)
            if answer == "cancel":
                return False
            s.training.stop(wait=True)
            if answer == "save":
                return self.save_weights()  # the snapshot carries the experiment too
            s.discard_weights()  # gone now: not kept to be asked about, shown or saved later
            return True
        aside = ("trained weights that are in no file; they were set aside when its layers changed "
                 "(Undo brings them back)")
        if weights and changes:
            text = (f"The network \u201c{name}\u201d has changes that are not saved, and had {aside}. "
                    f"Save the changes before {verb} (the weights set aside are discarded)?")
            answer = dialogs.ask_save_discard_cancel(self.window, "Save your work?", text)
        elif weights:
            text = f"The network \u201c{name}\u201d had {aside}. Discard them and go on {verb}?"
            answer = dialogs.ask_save_discard_cancel(self.window, "Save trained weights?", text, can_save=False)
        else:
            text = (f"The experiment \u201c{name}\u201d has changes that are not saved. "
                    f"Save them before {verb}?")
            answer = dialogs.ask_save_discard_cancel(self.window, "Save changes?", text)
        if answer == "cancel" or (answer == "save" and not self.save()):
            return False
        if weights:
            s.discard_weights()
        s.training.stop(wait=True)
        return True

    # -- recent files ---------------------------------------------------------------------------
    def recent(self):
        v = self.settings.value("recentFiles", [])
        return [v] if isinstance(v, str) else list(v or [])

    def add_recent(self, path):
        path = str(pathlib.Path(path).resolve())
        files = [path] + [p for p in self.recent() if p != path]
        self.settings.setValue("recentFiles", files[:MAX_RECENT])
        dialogs.remember(path)
        self._update_recent_menu()

    def _update_recent_menu(self):
        self.recent_menu.clear()
        for p in self.recent():
            a = self.recent_menu.addAction(dialogs.menu_text(pathlib.Path(p).name), lambda p=p: self.open_path(p))
            a.setToolTip(p)
        self.recent_menu.setEnabled(bool(self.recent()))


def _write_weights(state, weights, path, meta, experiment):
    """Write ``weights`` as a snapshot carrying ``experiment`` (or, when the layers were
    edited since and no longer describe the weights, the weights' own layers)."""
    try:
        weights.save(path, meta, experiment=experiment, state=state)
    except engine.SnapshotError:
        weights.save(path, meta, experiment=experiment.replace(layer_defs=weights.layer_defs), state=state)
