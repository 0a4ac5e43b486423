"""Runs: every run of the session kept, compared and repeated (issue #15).

The runs table on top; below it the checked runs' curves, the selected runs' settings
side by side, a sweep's plots and the trainers' race. The toolbar starts a race
("Compare trainers…") or a sweep ("Sweep…"), exports the runs as CSV and deletes
runs; while a race or sweep runs its progress and Cancel are in the toolbar, and the
window goes on working (they train on threads of their own).
"""
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import EngineError

from .curves import RunCurvesView
from .diff import SettingsDiffView
from .race import RaceDialog, RaceView
from .sweep import SweepDialog, SweepPlots
from .table import RunsTable


class RunsPlace(QWidget):
    """The Runs place: a view of the session's keeper (its runs) and studies (race, sweep)."""

    def __init__(self, session, keeper, studies, parent=None):
        super().__init__(parent)
        self.setObjectName("runsPlace")
        self.session, self.keeper, self.studies = session, keeper, studies
        self.folder = QLabel()
        self.folder.setObjectName("sessionFolder")
        self.folder.setTextFormat(Qt.PlainText)
        self.folder.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.folder.setMinimumWidth(80)
        self.race_button = self._button("Compare trainers…", "raceButton",
                                        "Train this network with each of ConvNetJS's trainers over "
                                        "several seeds, and plot their mean curves with a band.")
        self.sweep_button = self._button("Sweep…", "sweepButton",
                                         "Train this network over a grid or a random sample of settings.")
        self.export_button = self._button("Export CSV…", "exportRunsButton",
                                          "Save the runs (the selected ones, or all) as CSV: one row per run.")
        self.delete_button = self._button("Delete", "deleteRunsButton", "Delete the selected runs (Del).")
        self.progress = QProgressBar()
        self.progress.setObjectName("studyProgress")
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(160)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("studyLabel")
        self.cancel_button = self._button("Cancel", "studyCancel", "Stop the race or the sweep.")
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.folder, 1)
        for w in (self.progress_label, self.progress, self.cancel_button, self.race_button,
                  self.sweep_button, self.export_button, self.delete_button):
            top.addWidget(w)
        self.table = RunsTable(keeper)
        self.curves = RunCurvesView(keeper, session)
        self.diff = SettingsDiffView(keeper)
        self.sweep_plots = SweepPlots(keeper)
        self.race_view = RaceView()
        self.pages = QTabWidget()
        self.pages.setObjectName("runsPages")
        self.pages.setDocumentMode(True)
        self.pages.addTab(self.curves, "Curves")
        self.pages.addTab(self.diff, "Settings")
        self.pages.addTab(self.sweep_plots, "Sweep")
        self.pages.addTab(self.race_view, "Race")
        split = QSplitter(Qt.Vertical)
        split.setObjectName("runsSplitter")
        split.addWidget(self.table)
        split.addWidget(self.pages)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([220, 380])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.addLayout(top)
        lay.addWidget(split, 1)
        self.race_button.clicked.connect(self.ask_race)
        self.sweep_button.clicked.connect(self.ask_sweep)
        self.export_button.clicked.connect(lambda: self.ask_export(self.table.selected_ids() or None))
        self.delete_button.clicked.connect(lambda: self.ask_delete(self.table.selected_ids()))
        self.cancel_button.clicked.connect(self.cancel_study)
        self.table.selectionChangedRuns.connect(self._selected)
        self.table.deleteRequested.connect(self.ask_delete)
        self.table.exportRequested.connect(self.ask_export)
        keeper.folderChanged.connect(lambda _: self._show_folder())
        st = studies
        st.racingChanged.connect(self._busy)
        session.data.loading.connect(self._busy)
        st.sweepingChanged.connect(self._busy)
        st.raceProgress.connect(self._progress)
        st.sweepProgress.connect(self._progress)
        st.racePartial.connect(lambda s: self.race_view.show_summary(s, running=True))
        st.raceDone.connect(self._race_done)
        st.raceFailed.connect(lambda m: self._failed("The race stopped", m))
        st.sweepFailed.connect(lambda m: self._failed("The sweep stopped", m))
        st.sweepEvent.connect(self._sweep_event)
        st.sweepDone.connect(self._sweep_done)
        self._show_folder()
        self._busy()
        self._selected([])

    def _button(self, text, name, tip):
        b = QPushButton(text)
        b.setObjectName(name)
        b.setToolTip(tip)
        b.setAutoDefault(False)
        return b

    def _show_folder(self):
        path = self.keeper.path
        self.folder.setText(f"Session: {path}" if path is not None else (self.keeper.problem or
                                                                          "Runs kept in memory"))
        self.folder.setToolTip(str(path) if path is not None else "")

    def _selected(self, ids):
        self.delete_button.setEnabled(bool(ids))
        self.diff.show_ids(ids)

    # -- race and sweep ------------------------------------------------------------------------
    def _busy(self, *_):
        racing, sweeping = self.studies.busy("race"), self.studies.busy("sweep")
        busy = racing or sweeping
        for w in (self.progress, self.progress_label, self.cancel_button):
            w.setVisible(busy)
        loading = self.session.data.busy  # they would train on the data it replaces
        self.race_button.setEnabled(not racing and not loading)
        self.sweep_button.setEnabled(not sweeping and not loading)
        view = self.race_view
        if not racing and view.running and view.summary is not None:  # ended without its summary:
            view.show_summary(dict(view.summary, cancelled=True), running=False)  # cancelled
        if busy:
            self.progress.setValue(0)
            self.progress_label.setText("racing" if racing else "sweeping")

    def _progress(self, fraction):
        self.progress.setValue(int(fraction * 1000))

    def cancel_study(self):
        for name in ("race", "sweep"):
            if self.studies.busy(name):
                self.studies.cancel(name)

    def ask_race(self):
        d = RaceDialog(self)
        if d.exec() != RaceDialog.Accepted:
            return
        if not d.methods():
            return
        self.start_race(d.methods(), d.seeds.value(), d.epochs.value(), d.points.value(),
                        d.interleave.isChecked())

    def start_race(self, methods, seeds=3, epochs=0.2, points=20, interleave=True):
        if self.studies.race(methods, seeds, epochs, points, interleave):
            self.pages.setCurrentWidget(self.race_view)
            return True
        return False

    def _race_done(self, summary):
        self.race_view.show_summary(summary)

    def ask_sweep(self):
        d = SweepDialog(self.session, self)
        if d.exec() != SweepDialog.Accepted:
            return
        self.start_sweep(d.plan, d.epochs.value())

    def start_sweep(self, plan, epochs):
        try:
            self.studies.sweep(plan, epochs)
        except EngineError as e:
            self._failed("Cannot start the sweep", str(e))
            return False
        self.pages.setCurrentWidget(self.sweep_plots)
        return True

    def _sweep_event(self, e):
        if e.get("tag") == "report":
            self.progress_label.setText(f"sweep run {e['index'] + 1} of {e['runs']}")

    def _sweep_done(self, result):
        self.progress_label.setText("")

    def _failed(self, title, text):
        QMessageBox.warning(self, title, text)

    # -- runs ---------------------------------------------------------------------------------------
    def ask_export(self, ids=None):
        path, _ = QFileDialog.getSaveFileName(self, "Export runs", "runs.csv", "CSV files (*.csv)")
        if path:
            self.keeper.export_csv(ids, path)

    def ask_delete(self, ids):
        if not ids:
            return
        names = [(self.keeper.record(i) or {}).get("name") or i for i in ids]
        text = (f"Delete {len(ids)} runs ({', '.join(names[:4])}{'…' if len(names) > 4 else ''})?"
                if len(ids) > 1 else f"Delete the run “{names[0]}”?")
        box = QMessageBox(QMessageBox.Question, "Delete runs", text + " Their curves, settings and "
                          "notes go; weights trained are not touched.", QMessageBox.Yes | QMessageBox.Cancel, self)
        box.setTextFormat(Qt.PlainText)  # run names come from files
        if box.exec() == QMessageBox.Yes:
            self.keeper.delete(ids)
