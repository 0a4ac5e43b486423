"""The Train plots' share of runs kept (issue #15): the checked runs' curves laid over the live
ones, each in its run's colour (as in the runs table), and a marker line where a setting of
the run being trained was changed (a coach's fix, a rate typed while training).

It adds its own items to the Train place's plots and never touches their series.
"""
import html

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt

from workbench.views.theme import ACCENT

from ..runs.curves import changes_of, draw_run, value_text


class TrainOverlays(QObject):
    """Overlays on ``loss_view`` and ``accuracy_view`` (``LossPlotView``, ``AccuracyPlotView``)."""

    NAMED = 3  # runs named in the plots' legends at most
    #: Heights (fractions of the plot, from the bottom) the change labels take in turn, so
    #: that the labels of changes close together stand one above another, never on each other.
    LABEL_HEIGHTS = (0.9, 0.76, 0.62, 0.48)

    def __init__(self, loss_view, accuracy_view, session, keeper, parent=None):
        super().__init__(parent if parent is not None else loss_view)
        self.views = {"loss": loss_view, "accuracy": accuracy_view}
        self.session, self.keeper = session, keeper
        self.items = {}          # run id -> items on the plots
        self.change_lines = []   # (change, [InfiniteLine per plot]) of the live run
        self._changes_seen = 0
        keeper.checkedChanged.connect(self.refresh)
        keeper.runsChanged.connect(self._runs_changed)
        session.training.report.connect(self._report)
        session.runStarted.connect(self._clear_changes)
        session.runStarted.connect(lambda _: self.refresh())  # the run shown live is another now
        session.training.runningChanged.connect(lambda _: self.refresh())
        self._shown = set()
        self.refresh()

    # -- checked runs --------------------------------------------------------------------------
    def _remove(self, run_id):
        for plot, item in self.items.pop(run_id, []):
            plot.removeItem(item)

    def _runs_changed(self):
        if self.items.keys() - self.keeper.checked or self.keeper.checked - self.items.keys():
            self.refresh()

    def current_run(self):
        """The id of the run whose curves the plots show live (training now, or last on these
        weights), or None."""
        s = self.session
        if s.training.current is not None:
            return s.training.current.run_id
        last = s.training.last
        if last is not None and last["run_id"] == s.run_id and last.get("record"):
            return last["record"]["id"]
        return None

    def refresh(self):
        """Lay the checked runs' curves over the plots (the run the plots show live aside)."""
        live = self.current_run()
        for run_id in list(self.items):
            self._remove(run_id)
        xmax = 0.0
        runs = [rec for rec in self.keeper.checked_runs() if rec["id"] != live]
        for rec in runs:
            # named in the legend when few; more would bury the plot under names (the colours
            # are the runs table's)
            name = html.escape(f"{rec.get('name') or rec['id']}") if len(runs) <= self.NAMED else None
            added = []
            loss = self.views["loss"].plot
            for item in draw_run(loss, rec, "loss", width=1.5, style=Qt.DashLine, name=name, markers=True):
                added.append((loss, item))
            acc = self.views["accuracy"].plot  # training accuracy, smoothed, as the live curve
            for item in draw_run(acc, rec, "train", width=1.5, style=Qt.DashLine, name=name, markers=True):
                added.append((acc, item))
            self.items[rec["id"]] = added
            seen = (rec.get("metrics") or {}).get("examples_seen") or 0
            xmax = max(xmax, float(seen))
        if xmax:
            for view in self.views.values():
                view.include_x(xmax)

    # -- settings changed while the live run trains ---------------------------------------------
    def _clear_changes(self, *_):
        for _, lines in self.change_lines:
            for plot, line in lines:
                plot.removeItem(line)
        self.change_lines = []
        self._changes_seen = 0

    def _report(self, r):
        tr = self.session.training.current
        if tr is None:
            return
        changes = changes_of(tr.record)
        if len(changes) <= self._changes_seen:
            return
        for c in changes[self._changes_seen:]:
            text = f"{c['setting']} {value_text(c.get('from'))} → {value_text(c.get('to'))}"
            height = self.LABEL_HEIGHTS[len(self.change_lines) % len(self.LABEL_HEIGHTS)]
            lines = []
            for view in self.views.values():
                line = pg.InfiniteLine(pos=c["examples_seen"], angle=90, movable=False,
                                       pen=pg.mkPen(ACCENT, width=1.2, style=Qt.DashLine),
                                       label=f"{c['setting']} → {value_text(c.get('to'))}"
                                       if view is self.views["loss"] else None,
                                       labelOpts={"position": height, "color": ACCENT,
                                                  "anchors": [(0, 0.5), (0, 0.5)]})
                line.setToolTip(f"{text} at {c['examples_seen']:,} examples")
                view.plot.addItem(line, ignoreBounds=True)
                lines.append((view.plot, line))
            self.change_lines.append((c, lines))
        self._changes_seen = len(changes)
