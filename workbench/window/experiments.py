"""Experiments in the window (issue #15): every run kept, compared and resumable; sweeps; the coach.

``Experiments(window)`` adds to a main window, without the window knowing the details:
- the session folder and its autosave (``keeping.SessionKeeper``: ``window.keeper``), and
  File › Open session… / Save session as…;
- the Runs place (``views/runs``): the runs table, their curves, settings diff, sweeps,
  the trainers' race (``studies.Studies`` runs them in the background);
- in Train: the checked runs' curves and the markers of settings changed while training
  (``views/train/overlays``), the coach's alerts with their fixes above the plots
  (``views/train/coach``), the learning-rate finder beside the rate (``views/train/lrfind``);
- in Inspect: the coach's per-layer diagnostics (``views/inspect/coach``), a tab beside
  Explain.

It fills the slots the places and the window offer (``TrainPlace.add_banner`` and
``add_rate_tool``, ``NetworkView.add_side_tab``, ``MainWindow.add_menu_actions``) and never
edits their layouts or menus itself.
"""
import logging

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from workbench.state.keeping import AUTOSAVE_SECONDS, SessionKeeper
from workbench.state.studies import Studies
from workbench.views.inspect.coach import CoachPanel
from workbench.views.runs.place import RunsPlace
from workbench.views.train.coach import CoachAlerts
from workbench.views.train.lrfind import LrFinder
from workbench.views.train.overlays import TrainOverlays

log = logging.getLogger(__name__)


class Experiments(QObject):
    """The runs, sessions, studies and coach of one main window (see the module)."""

    def __init__(self, window, folder=None, autosave_seconds=AUTOSAVE_SECONDS):
        super().__init__(window)
        self.window = w = window
        s = w.session
        self.keeper = SessionKeeper(s, w.settings, folder, autosave_seconds, w)
        self.studies = Studies(s, self.keeper, self)
        self.runs_place = RunsPlace(s, self.keeper, self.studies)
        w.tabs.addTab(self.runs_place, "Runs")
        tp = w.train_tab
        self.coach_alerts = CoachAlerts(s)
        tp.add_banner(self.coach_alerts)  # above the plots, in view
        self.overlays = TrainOverlays(tp.loss_plot, tp.accuracy_plot, s, self.keeper, self)
        self.lr_finder = LrFinder(s, self.studies, tp.controls)
        self.lr_finder.install(tp)
        self.coach_panel = CoachPanel(s)
        w.network_view.add_side_tab(self.coach_panel, "Coach")
        self.keeper.saveFailed.connect(lambda text: log.warning("session folder: %s", text))
        self.keeper.saveFailed.connect(self._save_failed)
        self.keeper.folderChanged.connect(self._folder_changed)
        self._asked_about = None  # the folder whose failed save was asked about
        self._closing = False

    SAVE_ELSEWHERE = "Save elsewhere\u2026"

    def _folder_changed(self, _path):
        self._asked_about = None

    def _save_failed(self, text):
        """A save failed: the work is in memory only. Said in the status bar, and once per
        folder (and again when the window closes) in a dialog whose "Save elsewhere…" keeps
        the work in a new session folder the user chooses."""
        w = self.window
        w.statusBar().showMessage(text, 15000)
        k = self.keeper
        if self._asked_about == k.path and not self._closing:
            return
        self._asked_about = k.path
        while ask_save_elsewhere(w, text + "\n\nThe work is kept in memory: save it in another "
                                 "folder, or it is lost when the window closes."):
            start = str(k.path.parent) if k.path is not None else ""
            path, _ = QFileDialog.getSaveFileName(w, "Save the session in a new folder", start)
            if not path or k.save_elsewhere(path):
                break
            text = f"Could not save the session in {path} either."


    def fill_menus(self, file_menu=None, network_menu=None):
        """File › Open session…, Save session as… (in the File menu's section); Network › Show
        runs (Ctrl+8). The menus are filled through the window's sections
        (``MainWindow.add_menu_actions``); the arguments are the names of old, unused."""
        w = self.window
        actions = []
        for text, slot, tip in (("Open se&ssion…", self.open_session,
                                 "Work in a session folder: its runs, and its network and weights "
                                 "where they were saved (also folders of 'engine train --session')."),
                                ("Save session &as…", self.save_session_as,
                                 "Copy the session (runs, weights, trainer state) to a new folder and "
                                 "work there.")):
            a = QAction(text, w)
            a.setStatusTip(tip)
            a.triggered.connect(lambda _=False, f=slot: f())
            actions.append(a)
        w.add_menu_actions("file", actions)
        a = QAction("Show r&uns", w)
        a.setShortcut(QKeySequence("Ctrl+8"))
        a.triggered.connect(lambda: w.tabs.setCurrentWidget(self.runs_place))
        w.add_menu_actions("places", [a])

    def open_session(self, path=None):
        if path is None:
            start = str(self.keeper.path.parent) if self.keeper.path is not None else ""
            path = QFileDialog.getExistingDirectory(self.window, "Open session folder", start)
        if path:
            return self.keeper.open_folder(path)
        return False

    def save_session_as(self, path=None):
        if path is None:
            start = str(self.keeper.path.parent) if self.keeper.path is not None else ""
            path, _ = QFileDialog.getSaveFileName(self.window, "Save session as (a new folder)", start)
        if path:
            return self.keeper.save_as(path)
        return False

    def close(self):
        """The window closes, after its session stopped training (a save that fails now
        asks once more, so that the work can go elsewhere before it is lost)."""
        self.studies.shutdown()
        self._closing = True
        self.keeper.close()


def ask_save_elsewhere(parent, text):
    """The dialog of a failed save: True when the user chose "Save elsewhere…"."""
    box = QMessageBox(QMessageBox.Warning, "Could not save the session", text, QMessageBox.NoButton, parent)
    elsewhere = box.addButton(Experiments.SAVE_ELSEWHERE, QMessageBox.AcceptRole)
    box.addButton("Keep in memory", QMessageBox.RejectRole)
    box.setDefaultButton(elsewhere)
    box.exec()
    return box.clickedButton() is elsewhere
