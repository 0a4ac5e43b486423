"""Studies beside the run: the learning-rate finder, the trainers' race and sweeps (issue #15).

Each runs on its own thread as a ``jobs.Job`` task: a plain function of a ``TaskState``
and plain inputs (an experiment, the dataset, published ``Weights``) that calls the
engine (``engine.lrfind``, ``engine.race``, ``engine.sweep``) and gives back plain data.
None of them touches the live network: the finder trains a copy of the published
weights, a race and a sweep build their own networks. ``Studies`` owns the three jobs
and turns a sweep's finished runs into runs of the session (``SessionKeeper.add_record``).
"""
import pathlib
import tempfile
import time

from PySide6.QtCore import QObject, Signal

from engine.core.errors import EngineError
from engine.core.net import Net
from engine.runs.records import list_runs
from workbench.state.jobs import Job

#: Partial results (a race's curves, a sweep run's reports) reach the window at most this often.
PARTIAL_SECONDS = 0.25


class _Every:
    """Calls through at most every ``seconds`` (and always when ``force``)."""

    def __init__(self, seconds):
        self.seconds, self.last = seconds, 0.0

    def due(self, force=False):
        now = time.monotonic()
        if force or now - self.last >= self.seconds:
            self.last = now
            return True
        return False


#: How a sweep run's name says a setting: a short word before the value, or the value
#: alone (a method, a schedule: the value says which setting it is).
SHORT = {"learning_rate": "lr", "batch_size": "batch", "momentum": "mom", "l2_decay": "L2",
         "l1_decay": "L1", "augment.shift": "shift"}
VALUE_ALONE = ("method", "schedule.kind")


def _short_value(v):
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def sweep_run_name(settings, plan):
    """A sweep run's name: the settings that differ between the plan's runs, compactly
    (``lr 0.01 · adadelta``; every setting when nothing differs). The full settings are
    the record's ``swept``."""
    differ = [k for k in settings if len({repr(p.get(k)) for p in plan}) > 1] or list(settings)
    parts = []
    for k in differ:
        v = _short_value(settings[k])
        if k in VALUE_ALONE:
            parts.append(v)
        elif k.startswith("layers."):  # layers.1.filters -> layer1 filters 8
            _, i, opt = k.split(".", 2)
            parts.append(f"layer{i} {opt} {v}")
        else:
            parts.append(f"{SHORT.get(k, k.rsplit('.', 1)[-1])} {v}")
    return " · ".join(parts)


# -- tasks: plain functions of (state, inputs) ---------------------------------------------------
def find_rate(state, experiment, dataset, snapshot=None):
    """``engine.lrfind.find_learning_rate`` from a copy of the weights (``snapshot``: their
    ConvNetJS JSON; None: fresh weights)."""
    from engine.studies.lrfind import find_learning_rate
    net = Net.from_json(snapshot) if snapshot is not None else None
    return find_learning_rate(experiment, dataset, net=net, progress=state.set_progress,
                              cancelled=lambda: state.cancelled)


def race(state, experiment, dataset, methods, seeds, epochs, points=20, interleave=True):
    """``engine.race.Race``: its summary, and partial summaries as it goes."""
    from engine.studies.race import Race
    r = Race(experiment, dataset, methods, seeds, epochs=epochs, points=points, interleave=interleave)
    every = _Every(PARTIAL_SECONDS)

    def progress(fraction):
        state.set_progress(fraction)
        if every.due(fraction >= 1.0):
            state.set_partial(r.summary())

    return r.run(progress=progress, cancelled=lambda: state.cancelled)


def sweep(state, experiment, plan, dataset, out, epochs):
    """``engine.sweep.run_sweep`` into folder ``out``: each finished run as a partial result
    ``{"tag": "result", "row", "record"}`` (its record read back), reports rate-limited."""
    from engine.studies.sweep import run_sweep
    every = _Every(PARTIAL_SECONDS)

    def progress(event):
        state.set_progress(event["fraction"])
        if event["tag"] == "result":
            recs = list_runs(event["row"]["session"])
            state.set_partial(dict(event, record=recs[-1] if recs else None))
        elif every.due():
            state.set_partial({k: v for k, v in event.items() if k != "report"} |
                              {"examples_seen": event["report"].get("examples_seen")})

    rows = run_sweep(experiment, plan, dataset, out, epochs=epochs, progress=progress,
                     cancelled=lambda: state.cancelled)
    return {"rows": rows, "out": str(out)}


class Studies(QObject):
    """The finder, the race and the sweep of one session, each a background job.

    Signals
    -------
    rateFound(dict), rateFailed(str), rateProgress(float), findingChanged(bool)
    raceProgress(float), racePartial(dict), raceDone(dict), raceFailed(str), racingChanged(bool)
    sweepProgress(float), sweepEvent(dict), sweepDone(dict), sweepFailed(str), sweepingChanged(bool)
    sweepRun(dict) : a sweep's run was added to the session's runs (its record)
    """

    rateFound = Signal(object)
    rateFailed = Signal(str)
    rateProgress = Signal(float)
    findingChanged = Signal(bool)
    raceProgress = Signal(float)
    racePartial = Signal(object)
    raceDone = Signal(object)
    raceFailed = Signal(str)
    racingChanged = Signal(bool)
    sweepProgress = Signal(float)
    sweepEvent = Signal(object)
    sweepDone = Signal(object)
    sweepFailed = Signal(str)
    sweepingChanged = Signal(bool)
    sweepRun = Signal(object)

    def __init__(self, session, keeper=None, parent=None):
        super().__init__(parent if parent is not None else session)
        self.session = session
        self.keeper = keeper
        self.jobs = {name: Job(name, self) for name in ("lrfind", "race", "sweep")}
        j = self.jobs["lrfind"]
        j.done.connect(self.rateFound)
        j.failed.connect(self.rateFailed)
        j.progress.connect(self.rateProgress)
        j.busyChanged.connect(self.findingChanged)
        j = self.jobs["race"]
        j.done.connect(self._race_done)
        j.failed.connect(self.raceFailed)
        j.progress.connect(self.raceProgress)
        j.partial.connect(self.racePartial)
        j.busyChanged.connect(self.racingChanged)
        j = self.jobs["sweep"]
        j.done.connect(self.sweepDone)
        j.failed.connect(self.sweepFailed)
        j.progress.connect(self.sweepProgress)
        j.partial.connect(self._sweep_event)
        j.busyChanged.connect(self.sweepingChanged)
        self.last_race = None
        self.sweep_name = None
        self._sweep_plan = None

    def busy(self, name):
        return self.jobs[name].busy

    def cancel(self, name):
        self.jobs[name].cancel()

    def shutdown(self):
        for job in self.jobs.values():
            job.shutdown(timeout=10.0)

    def not_ready(self):
        """Why nothing can be trained now (the network is not valid, or the data is loading)."""
        if self.session.data.busy:
            return ("The dataset is still loading: wait for it (or cancel it), then start again; "
                    "these runs would train on the data in use until it has loaded.")
        return "The network is not valid: fix it in Build first."

    # -- the learning-rate finder ---------------------------------------------------------------
    def find_rate(self):
        """Sweep the learning rate from a copy of the latest weights (``rateFound`` brings the
        engine's answer: ``suggested_learning_rate``, ``reason``, ``rates``, ``losses``)."""
        s = self.session
        if not s.doc.valid or s.data.busy:
            self.rateFailed.emit(self.not_ready())
            return False
        w = s.weights
        same = w is not None and s.untrained is False and w.run_id == s.run_id
        snapshot = w.to_json() if same else None
        self.jobs["lrfind"].start(find_rate, s.experiment(), s.data.dataset, snapshot)
        return True

    # -- the race ------------------------------------------------------------------------------------
    def race(self, methods, seeds=3, epochs=0.2, points=20, interleave=True):
        """Race ``methods`` (names of ``engine.race.DEMO_TRAINERS``) on the session's network,
        each over ``seeds`` seeds for ``epochs``; ``raceDone`` brings the summary."""
        s = self.session
        if not s.doc.valid or s.data.busy:
            self.raceFailed.emit(self.not_ready())
            return False
        try:
            exp = s.experiment()
            from engine.studies.race import Race
            Race(exp, s.data.dataset, methods, seeds, epochs=epochs, points=points)  # checked now
        except EngineError as e:
            self.raceFailed.emit(str(e))
            return False
        self.last_race = None
        self.jobs["race"].start(race, exp, s.data.dataset, list(methods), seeds, epochs, points, interleave)
        return True

    def _race_done(self, summary):
        self.last_race = summary
        self.raceDone.emit(summary)

    # -- sweeps -----------------------------------------------------------------------------------------
    def sweep(self, plan, epochs):
        """Train the session's experiment once per settings dict of ``plan`` for ``epochs`` each,
        in a folder of the session (``sweeps/sweep-NNN``); each run joins the session's runs
        as it ends. EngineError (nothing started) when a setting does not fit."""
        from engine.studies.sweep import check_plan
        s = self.session
        if s.data.busy:
            raise EngineError(self.not_ready())
        exp = s.experiment().replace(epochs=epochs)
        check_plan(exp, plan)  # raises before anything starts
        base = self.keeper.path if self.keeper is not None and self.keeper.path is not None else None
        if base is None:
            base = pathlib.Path(tempfile.mkdtemp(prefix="convnet-workbench-sweeps-"))
        folder = base / "sweeps"
        n = 1
        while (folder / f"sweep-{n:03d}").exists():
            n += 1
        out = folder / f"sweep-{n:03d}"
        self.sweep_name = out.name
        self._sweep_plan = plan
        self.jobs["sweep"].start(sweep, exp, plan, s.data.dataset, out, epochs)
        return out

    def _sweep_event(self, event):
        if event.get("tag") == "result" and event.get("record") is not None and self.keeper is not None:
            row = event["row"]
            name = sweep_run_name(row["settings"], self._sweep_plan or [row["settings"]])
            rec = self.keeper.add_record(event["record"], sweep=self.sweep_name,
                                         swept=row["settings"], sweep_run=row["run"],
                                         **({"name": name} if name else {}))
            if rec is not None:
                self.keeper.set_checked(rec["id"], True)
                self.sweepRun.emit(rec)
        self.sweepEvent.emit(event)
