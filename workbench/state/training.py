"""Training: the engine's ``Training`` going on, where the last one stopped, and where runs are kept.

The session owns one ``TrainingModel`` (``session.training_model``); Train, Pause, Step and
Stop are the session's (they replace and publish the weights it holds), and everything about
the run itself is here, in one set of names:

- ``current``: the ``engine.session.Training`` going on (it records the run, saves it to the
  session folder every ``save_every_seconds`` and at its end, carries the coach), or None;
- ``last``: where the last run stopped (``{"run_id", "experiment", "record", "checkpoint",
  "examples_seen"}``: weights, the trainer's accumulators, the random generators, the
  position in the epoch), so that Train goes on from exactly there, as ``train --resume``
  does: stopping and going on gives the weights of one run without a stop;
- ``folder``: the session folder runs are kept in (``runs_kept.KeptFolder`` or None: in memory);
- ``before_start``: told of each new ``Training`` before its thread starts (``keeping``).

Settings changed between runs, or while one trains (``forward_live_changes``), go through
``Training.change_settings``, which notes each change in the run's record (the markers on
its curves). A change a running network cannot take (the validation split, the data, the
seed) starts the data order over on the same weights, in the same record.

It reads the session through its public properties only (``network``, ``network_layers``,
``weights_loaded``, ``trainer``, ``run_id``, ``examples_seen``, ``dataset``, ``settings``).

Signals
-------
report(dict) : the run's reports (progress, eval, done, stopped, diverged)
runningChanged(bool), pausedChanged(bool)
finished(str) : the run ended: "done", "stopped", "diverged" or "error: ..."
"""
import copy
import logging

from PySide6.QtCore import QObject, Signal

from engine.core.errors import EngineError
from engine.runs import checkpoint
from engine.runs.coach import Coach
from engine.runs.records import RunRecorder, new_run_id
from engine.runs.session_folder import Training
from engine.runs.settings import flat_settings
from workbench.state.runs_kept import RUN_OPTIONS, is_live, setting_changes

log = logging.getLogger(__name__)


class _Ids:
    """Run ids for runs kept in memory only (no session folder)."""
    n = 0


def _new_id(folder):
    if folder is not None:
        return new_run_id(folder.path)
    _Ids.n += 1
    return f"run-{_Ids.n:04d}"


class TrainingModel(QObject):
    """The run going on, the last one stopped, the folder they are kept in (see the module)."""

    report = Signal(dict)
    runningChanged = Signal(bool)
    pausedChanged = Signal(bool)
    finished = Signal(str)

    def __init__(self, session, parent=None):
        super().__init__(parent if parent is not None else session)
        self._session = session
        self.current = None
        self.last = None
        self.folder = None
        self.save_every_seconds = 60.0
        self.before_start = None

    # -- a run starts and ends ---------------------------------------------------------------
    def make(self, exp, target):
        """The ``Training`` that Train starts: experiment ``exp``, up to ``target`` epochs. Goes
        on from where the last run of these weights stopped when it can; else a new stretch
        of data order on the same weights (the same record when the weights are that run's).
        Raises EngineError when the run cannot be made. It becomes ``current``."""
        s = self._session
        opts = dict(RUN_OPTIONS, epochs=target, coach=Coach(), save_every_seconds=self.save_every_seconds)
        last = self.last
        if last is not None and last["run_id"] != s.run_id:
            last = None  # other weights now
        if last is not None and last["checkpoint"] is not None:
            changes = setting_changes(last["experiment"], exp)
            if all(is_live(k) for k in changes):
                record = last["record"]
                recorder = RunRecorder(record["id"] if record else _new_id(self.folder), last["experiment"],
                                       record=record, examples_seen=last["examples_seen"])
                tr = Training(s.network, s.trainer, last["experiment"], s.dataset, session=self.folder,
                              recorder=recorder, checkpoint_=last["checkpoint"], **opts)
                tr.run.epochs = target
                if changes:
                    tr.change_settings(changes, now=True)
                log.info("run %s goes on to epoch %g", tr.run_id, target)
                self.current = tr
                return tr
        record = last["record"] if last is not None else None
        last = last if record is not None else None
        recorder = RunRecorder(record["id"] if record else _new_id(self.folder), exp, record=record,
                               examples_seen=s.examples_seen)
        if record is not None:  # what made the data order start over
            for key, value in setting_changes(last["experiment"], exp).items():
                recorder.note_change(key, flat_settings(last["experiment"]).get(key), value, s.examples_seen)
        tr = Training(s.network, s.trainer, exp, s.dataset, session=self.folder, recorder=recorder, **opts)
        if s.examples_seen:  # trained weights: the count (and the evaluations) go on from there
            tr.run.examples_seen = s.examples_seen
            tr.run.set_eval_every(tr.run.eval_every)
        log.info("run %s starts: %s on %s, to epoch %g", tr.run_id, exp.name, s.dataset.name, target)
        self.current = tr
        return tr

    def end(self):
        """The ``current`` run has ended (its thread joined): where it stopped becomes ``last``
        (None when there was no run), to go on from there (``make``)."""
        s = self._session
        tr, self.current = self.current, None
        if tr is None:
            self.last = None
            return None
        ck = checkpoint.capture(s.network, s.trainer, tr.run, tr.experiment,
                                extra={"run": tr.run_id, "data": tr.fingerprint})
        self.last = {"run_id": s.run_id, "experiment": tr.experiment, "record": tr.record,
                     "checkpoint": ck, "examples_seen": tr.run.examples_seen}
        log.info("run %s stopped at %d examples", tr.run_id, tr.run.examples_seen)
        return self.last

    def forget_last(self):
        """Train starts a new run on these weights (the last one is not gone on with)."""
        self.last = None

    def forward_live_changes(self, before, after):
        """Settings changed from experiment ``before`` to ``after``: a running ``Training``
        takes the live ones before its next batch and records them."""
        tr = self.current
        if tr is None or not self._session.running:
            return
        changes = {k: v for k, v in setting_changes(before, after).items() if is_live(k)}
        if changes:
            log.info("run %s: %s", tr.run_id, ", ".join(f"{k} = {v!r}" for k, v in changes.items()))
            try:
                tr.change_settings(changes)
            except EngineError as e:
                self._session.problem.emit("Cannot change the running trainer", str(e))

    # -- what the session folder keeps (workbench.keeping) ---------------------------------------
    def app_state(self):
        """What the app keeps beside the engine's state in ``session.json`` (under ``"app"``): the
        network as being edited, its name and file, every setting, and about the weights."""
        s = self._session
        state = {"layers": copy.deepcopy(s.doc.layers), "name": s.doc.name, "path": s.doc.path,
                 "loaded": bool(s.weights_loaded), "examples_seen": int(s.examples_seen),
                 "modified": s.modified}
        try:
            state["experiment"] = s.experiment().to_json()
        except EngineError:  # layers that are not even a list of objects: the settings alone
            state["experiment"] = s.settings.replace(layer_defs=[]).to_json()
        return state

    def weights_key(self):
        """Tells one state of the live weights from another (None: no network)."""
        s = self._session
        return None if s.network is None else (id(s.network), s.run_id, int(s.examples_seen))

    def capture_idle(self):
        """``(checkpoint, record, experiment)`` of the live weights while idle: where the last run
        stopped when these are its weights, else the weights and the trainer alone."""
        s = self._session
        last = self.last
        if last is not None and last["run_id"] == s.run_id and last["checkpoint"] is not None:
            return last["checkpoint"], last["record"], last["experiment"]
        exp = s.settings.replace(layer_defs=copy.deepcopy(s.network_layers), name=s.doc.name)
        return checkpoint.capture(s.network, s.trainer, None, exp), None, exp
