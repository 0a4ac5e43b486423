"""Runs' settings side by side (``engine.runs.diff_settings``), the settings that differ highlighted.

One row per setting (the trainer's, the schedule's, the augmentation's, every layer's
options, epochs, validation, seed, data), one column per run, the settings changed while
a run trained counted at their last value. Rows that differ between the runs are
highlighted (the accent colour behind, bold); "only differences" hides the others.
"""
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.runs.records import diff_settings
from workbench.views.theme import ACCENT

from .common import plain_tip, swatch, value_text

DIFFERS = Qt.UserRole + 1


class SettingsDiffView(QWidget):
    """The settings of the runs selected in the runs table (``show_runs``)."""

    def __init__(self, keeper=None, parent=None):
        super().__init__(parent)
        self.setObjectName("settingsDiffView")
        self.keeper = keeper
        self.records = []
        self.only = QCheckBox("only the settings that differ")
        self.only.setObjectName("settingsDiffOnly")
        self.only.toggled.connect(lambda _: self._show())
        self.caption = QLabel("Select runs in the table to see their settings side by side.")
        self.caption.setObjectName("settingsDiffCaption")
        self.caption.setWordWrap(True)
        self.table = QTableWidget()
        self.table.setObjectName("settingsDiff")
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.caption, 1)
        bar.addWidget(self.only)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.table, 1)
        self.highlight = QColor(ACCENT)
        self.highlight.setAlpha(55)
        if keeper is not None:
            keeper.runsChanged.connect(self._runs_changed)

    def show_ids(self, ids):
        """Show the runs with these ids (from the keeper), in that order."""
        by_id = {r["id"]: r for r in self.keeper.runs()}
        self.show_runs([by_id[i] for i in ids if i in by_id])

    def _runs_changed(self):
        if self.records:
            self.show_ids([r["id"] for r in self.records])

    def show_runs(self, records):
        self.records = list(records)
        self._show()

    def differing(self):
        """The settings shown as differing (for tests and the caption)."""
        t = self.table
        return [t.item(r, 0).text() for r in range(t.rowCount()) if t.item(r, 0).data(DIFFERS)]

    def _show(self):
        recs = self.records
        t = self.table
        t.clear()
        if not recs:
            t.setRowCount(0)
            t.setColumnCount(0)
            self.caption.setText("Select runs in the table to see their settings side by side.")
            return
        rows = diff_settings(recs, only_different=self.only.isChecked())
        n_diff = sum(r["differs"] for r in rows) if not self.only.isChecked() else len(rows)
        if len(recs) == 1:
            self.caption.setText("The settings of one run: select more to compare them.")
        else:
            self.caption.setText(f"{len(recs)} runs: {n_diff} setting{'s' * (n_diff != 1)} differ "
                                 f"(highlighted).")
        t.setColumnCount(1 + len(recs))
        t.setRowCount(len(rows))
        header = QTableWidgetItem("setting")
        t.setHorizontalHeaderItem(0, header)
        for j, r in enumerate(recs):
            h = QTableWidgetItem(r.get("name") or r["id"])  # plain text: names come from files
            h.setIcon(swatch(r["id"]))
            h.setToolTip(plain_tip(f"{r['id']}: {r.get('name') or ''}"))
            t.setHorizontalHeaderItem(1 + j, h)
        bold = QFont(t.font())
        bold.setBold(True)
        for i, row in enumerate(rows):
            cells = [row["setting"]] + [value_text(v) for v in row["values"]]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(DIFFERS, bool(row["differs"]))
                if row["differs"] and len(recs) > 1:
                    item.setBackground(self.highlight)
                    item.setFont(bold)
                t.setItem(i, j, item)
        t.setColumnWidth(0, 190)
        for j in range(len(recs)):
            t.setColumnWidth(1 + j, 130)
