"""The runs table: one row per run of the session, newest first (TensorBoard's run selector,
W&B's runs table).

A check box shows the run's curves in the plots (each run in its colour, the same
everywhere); the name and the note are edited in place and kept in the session folder;
the rows selected are the ones the settings diff compares. Names and notes come from
files and are shown as plain text.
"""
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableWidget, QTableWidgetItem

from workbench.state.keeping import local_time

from .common import accuracy_of, data_of, key_settings, percent, plain_tip, swatch

COLUMNS = ("", "Name", "When", "Status", "Data", "Network and trainer", "Test", "Validation", "Examples/s",
           "Note")
CHECK, NAME, WHEN, STATUS, DATA, SETTINGS, TEST, VALIDATION, SPEED, NOTE = range(len(COLUMNS))
ID = Qt.UserRole


class RunsTable(QTableWidget):
    """The session's runs (``SessionKeeper.runs``), newest first.

    Signals
    -------
    selectionChangedRuns(list) : the ids of the rows selected
    deleteRequested(list) : the ids of the rows to delete (Del, or the context menu)
    exportRequested(list) : the ids of the rows to export as CSV (the context menu)
    """

    selectionChangedRuns = Signal(list)
    deleteRequested = Signal(list)
    exportRequested = Signal(list)

    def __init__(self, keeper, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setObjectName("runsTable")
        self.keeper = keeper
        self.setHorizontalHeaderLabels(COLUMNS)
        self.horizontalHeaderItem(CHECK).setToolTip("Show the run's curves in the plots.")
        self.horizontalHeaderItem(NAME).setToolTip("Double-click to rename.")
        self.horizontalHeaderItem(NOTE).setToolTip("Double-click to write a note.")
        self.horizontalHeaderItem(DATA).setToolTip("The data the run trained on (its accuracies are on it).")
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.DoubleClicked | QAbstractItemView.EditKeyPressed)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(22)
        h = self.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.Interactive)
        h.setStretchLastSection(True)
        for col, width in ((CHECK, 38), (NAME, 150), (WHEN, 124), (STATUS, 82), (DATA, 90), (SETTINGS, 250),
                           (TEST, 64), (VALIDATION, 74), (SPEED, 78)):
            self.setColumnWidth(col, width)
        self.setContextMenuPolicy(Qt.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self._filling = False
        self.itemChanged.connect(self._edited)
        self.itemSelectionChanged.connect(lambda: self.selectionChangedRuns.emit(self.selected_ids()))
        keeper.runsChanged.connect(self.refresh)
        keeper.checkedChanged.connect(self._show_checked)
        self.refresh()

    # -- rows ------------------------------------------------------------------------------------
    def ids(self):
        """The run ids, top to bottom."""
        return [self.item(r, CHECK).data(ID) for r in range(self.rowCount())]

    def row_of(self, run_id):
        ids = self.ids()
        return ids.index(run_id) if run_id in ids else -1

    def selected_ids(self):
        rows = sorted({i.row() for i in self.selectedIndexes()})
        return [self.item(r, CHECK).data(ID) for r in rows]

    def select_ids(self, ids):
        self.clearSelection()
        mode = self.selectionMode()
        self.setSelectionMode(QAbstractItemView.MultiSelection)
        for run_id in ids:
            r = self.row_of(run_id)
            if r >= 0:
                self.selectRow(r)
        self.setSelectionMode(mode)

    def refresh(self):
        """The rows again, from the keeper (the selection kept)."""
        selected = self.selected_ids()
        runs = list(reversed(self.keeper.runs()))
        self._filling = True
        self.blockSignals(True)
        self.setRowCount(len(runs))
        for row, rec in enumerate(runs):
            self._fill(row, rec)
        self.blockSignals(False)
        self._filling = False
        self.select_ids(selected)
        if selected != self.selected_ids():
            self.selectionChangedRuns.emit(self.selected_ids())

    def _item(self, row, col, text, editable=False, align=None, tip=None):
        item = self.item(row, col)
        if item is None:
            item = QTableWidgetItem()
            self.setItem(row, col, item)
        flags = Qt.ItemIsEnabled | Qt.ItemIsSelectable
        if editable:
            flags |= Qt.ItemIsEditable
        item.setFlags(flags)
        item.setText(text)
        if align is not None:
            item.setTextAlignment(align)
        item.setToolTip(plain_tip(tip))
        return item

    def _fill(self, row, rec):
        run_id = rec["id"]
        check = self._item(row, CHECK, "")
        check.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsUserCheckable)
        check.setCheckState(Qt.Checked if run_id in self.keeper.checked else Qt.Unchecked)
        check.setIcon(swatch(run_id))
        check.setData(ID, run_id)
        check.setToolTip(f"{run_id}: show its curves in the plots")
        tip = rec.get("message")
        if isinstance(rec.get("swept"), dict):  # a sweep's run: its full settings
            where = " ".join(str(rec[k]) for k in ("sweep", "sweep_run") if rec.get(k))
            settings = ", ".join(f"{k}={v}" for k, v in rec["swept"].items())
            tip = "\n".join(t for t in (f"{where}: {settings}" if where else settings, tip) if t)
        self._item(row, NAME, rec.get("name") or run_id, editable=True, tip=tip)
        self._item(row, WHEN, local_time(rec.get("created")))
        status = rec.get("status") or ""
        sweep = f" (sweep {rec['sweep']})" if rec.get("sweep") else ""
        self._item(row, STATUS, status, tip=(rec.get("message") or status) + sweep)
        data, path = data_of(rec)
        self._item(row, DATA, data, tip=path or "the bundled MNIST")
        self._item(row, SETTINGS, key_settings(rec), tip=key_settings(rec))
        right = Qt.AlignRight | Qt.AlignVCenter
        self._item(row, TEST, percent(accuracy_of(rec, "test")), align=right)
        self._item(row, VALIDATION, percent(accuracy_of(rec, "validation")), align=right)
        speed = rec.get("examples_per_second")
        self._item(row, SPEED, "–" if not speed else f"{speed:,.0f}", align=right)
        self._item(row, NOTE, rec.get("note") or "", editable=True, tip=rec.get("note") or None)

    def _show_checked(self):
        self.blockSignals(True)
        for r in range(self.rowCount()):
            item = self.item(r, CHECK)
            item.setCheckState(Qt.Checked if item.data(ID) in self.keeper.checked else Qt.Unchecked)
        self.blockSignals(False)

    # -- edits ---------------------------------------------------------------------------------------
    def _edited(self, item):
        if self._filling:
            return
        run_id = self.item(item.row(), CHECK).data(ID)
        col = item.column()
        if col == CHECK:
            self.keeper.set_checked(run_id, item.checkState() == Qt.Checked)
        elif col == NAME:
            if not self.keeper.rename(run_id, item.text()):
                self.refresh()  # back to the name it has
        elif col == NOTE:
            self.keeper.annotate(run_id, item.text())

    def keyPressEvent(self, e):
        if e.key() in (Qt.Key_Delete, Qt.Key_Backspace) and self.state() != QAbstractItemView.EditingState:
            ids = self.selected_ids()
            if ids:
                self.deleteRequested.emit(ids)
                return
        super().keyPressEvent(e)

    def _menu(self, pos):
        ids = self.selected_ids()
        if not ids:
            return
        m = QMenu(self)
        row = self.rowAt(pos.y())
        if row >= 0:
            m.addAction("Rename", lambda: self.editItem(self.item(row, NAME)))
            m.addAction("Edit note", lambda: self.editItem(self.item(row, NOTE)))
        m.addAction("Show curves", lambda: [self.keeper.set_checked(i, True) for i in ids])
        m.addAction("Hide curves", lambda: [self.keeper.set_checked(i, False) for i in ids])
        m.addSeparator()
        m.addAction("Export as CSV…", lambda: self.exportRequested.emit(ids))
        m.addAction("Delete…", lambda: self.deleteRequested.emit(ids))
        m.exec(self.viewport().mapToGlobal(pos))
