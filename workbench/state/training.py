"""Training: Train, Pause, Step and Stop, the run going on and its thread, where the last run
stopped, and where runs are kept.

The session owns one ``TrainingModel``: ``session.training`` (the one name for training in the
app). It holds

- the run going on: ``run`` (the engine's ``Run``; after a run ends, the last one until new
  weights or data come), ``running``, ``paused``, and the ``TrainingJob`` thread that trains it;
- ``current``: the ``engine.session.Training`` going on (it records the run, saves it to the
  session folder every ``save_every_seconds`` and at its end, carries the coach), or None;
- ``last``: where the last run stopped (``{"run_id", "experiment", "record", "checkpoint",
  "examples_seen"}``: weights, the trainer's accumulators, the random generators, the
  position in the epoch), so that Train goes on from exactly there, as ``train --resume``
  does: stopping and going on gives the weights of one run without a stop;
- ``folder``: the session folder runs are kept in (``runs_kept.KeptFolder`` or None: in memory);
- ``before_start``: told of each new ``Training`` before its thread starts (``keeping``);
- ``confirm_stop``: asked before a run is stopped for an edit or a load (the window sets a
  dialog; None: yes), through ``may_stop``.

The weights stay the session's: the model reads them through the session's public properties
(``network``, ``network_layers``, ``weights_loaded``, ``trainer``, ``run_id``, ``examples_seen``,
``data.dataset``, ``settings``, ``experiment()``) and tells the session what happened to them through
its public methods (``ready_to_train``, ``apply_trainer``, ``saw_examples``, ``run_ended``,
``publish_weights``, ``leave_network_to_thread``); the session tells it of new weights or data through
``runStarted`` and ``drop_run``.

Settings changed between runs, or while one trains (``forward_live_changes``), go through
``Training.change_settings``, which notes each change in the run's record (the markers on
its curves). A change a running network cannot take (the validation split, the data, the
seed) starts the data order over on the same weights, in the same record.

Signals
-------
report(dict) : the run's reports (progress, eval, done, stopped, diverged)
runningChanged(bool), pausedChanged(bool)
finished(str) : the run ended: "done", "stopped", "diverged", "not learning" (a run at
    chance: the engine's ``done`` report with ``not_learning``) or "error: ..."
historyRestored(dict) : the record of the run whose weights were restored from a session
    folder (its curves and metrics, to show as if it had just trained here; ``go_on_from``)
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
from workbench.state.jobs import TrainingJob
from workbench.state.runs_kept import RUN_OPTIONS, is_live, setting_changes
from workbench.state.weights import Weights

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
    """Train, Pause, Step, Stop; the run going on, the last one stopped, the folder they are kept in
    (see the module)."""

    report = Signal(dict)
    runningChanged = Signal(bool)
    pausedChanged = Signal(bool)
    finished = Signal(str)
    historyRestored = Signal(dict)

    publish_every = 1.0  # seconds between published weights while training
    #: Stop, an edit or closing waits at most this long for the training thread (a backstop:
    #: the engine abandons a worker process that does not answer within ~5 s a step).
    stop_timeout = 30.0

    def __init__(self, session, parent=None):
        super().__init__(parent if parent is not None else session)
        self._session = session
        self.current = None
        self.last = None
        self.folder = None
        self.save_every_seconds = 60.0
        self.before_start = None
        #: Asked before a run is stopped for an edit or a load (the window sets a dialog); None: yes.
        self.confirm_stop = None
        self.run = None
        self._job = None             # the TrainingJob running, if any
        self._stopped = None         # the one stopped last, whose last reports may still arrive
        self._to_experiment_epochs = True  # the run goes to the experiment's epochs (not "+1 epoch")
        session.runStarted.connect(self._new_weights)

    # -- Train, Pause, Step, Stop ------------------------------------------------------------
    @property
    def running(self):
        return self._job is not None

    @property
    def paused(self):
        return self.running and self.run.paused

    @property
    def to_experiment_epochs(self):
        """The run going on trains to the experiment's epochs (not "+1 epoch"): a change of
        the epochs applies to it."""
        return self._to_experiment_epochs

    def train(self, epochs=None, paused=False):
        """Train on a worker thread: up to the experiment's epochs, or ``epochs`` more.

        When the experiment's epochs are already done, Train goes on for as many
        again. Resumes a paused run.
        """
        if self.running:
            self.resume()
            return True
        s = self._session
        if not s.ready_to_train():
            return False
        exp = s.experiment()
        done = s.examples_seen / max(1, s.n_train(exp.validation))
        if epochs is not None:
            target = done + epochs
        else:
            target = exp.epochs if done < exp.epochs - 1e-9 else done + exp.epochs
        s.apply_trainer()
        try:  # the engine's Training: recorded, autosaved, resumed as the CLI does (issue #15)
            training = self.make(exp, target)
        except EngineError as e:
            s.problem.emit("Cannot train", str(e))
            return False
        run = training.run
        if paused:
            run.pause()
        self.run = run
        self._to_experiment_epochs = epochs is None
        if self.before_start is not None:
            self.before_start(training)
        net, loaded, run_id = s.network, s.weights_loaded, s.run_id
        job = TrainingJob(run, lambda seen: Weights(net, seen, loaded, run_id), self.publish_every, self,
                          reports=training.reports)
        job.report.connect(self._on_report)
        job.weights.connect(self._on_weights)
        job.finished.connect(self._on_finished)
        self._job, self._stopped = job, None
        job.start()
        self.runningChanged.emit(True)
        self.pausedChanged.emit(paused)
        return True

    def pause(self):
        if self.running:
            self.run.pause()
            self.pausedChanged.emit(True)

    def resume(self):
        if self.running:
            self.run.resume()
            self.pausedChanged.emit(False)

    def toggle(self):
        """Train, pause or resume: whichever the Train button would do now."""
        if not self.running:
            self.train()
        elif self.paused:
            self.resume()
        else:
            self.pause()

    def step(self, batches=1):
        """Train one batch (starting a paused run if none is going)."""
        if not self.running:
            if not self.train(paused=True):
                return False
        elif not self.run.paused:
            self.pause()
        self.run.step(batches)
        return True

    def stop(self, wait=True):
        """Stop between batches; with ``wait``, return once the training thread has ended."""
        job = self._job
        if job is None:
            return
        if not wait:
            job.run.stop()
            return
        job.stop(wait=True, timeout=self.stop_timeout)
        training = self.current
        self._end_run()
        if job.alive:  # past every bounded wait of the engine: leave the thread its network
            s = self._session
            if training is not None:
                training.session = None  # should it wake, it no longer saves into the folder
            last = self.last
            s.leave_network_to_thread()  # new weights (runStarted): a copy, as far trained
            if last is not None:
                last["run_id"] = s.run_id
                self.last = last
            s.publish_weights()
            s.problem.emit("Training did not stop", f"The training thread did not stop within "
                           f"{self.stop_timeout:.0f} s; the window goes on with a copy of its weights.")

    def may_stop(self):
        """Before an edit or a load: stop a running run if the user agrees (``confirm_stop``)."""
        if not self.running:
            return True
        if self.confirm_stop is not None and not self.confirm_stop():
            return False
        self.stop(wait=True)
        return True

    def drop_run(self):
        """Another dataset is in use: the next Train makes a run on it (the weights stay)."""
        self.run = None

    def _new_weights(self, _run_id):
        # The session replaced the weights: no run is of them, and the reports still queued
        # from the one stopped last are about weights that are gone.
        self._stopped = None
        self.run = None

    def _end_run(self):
        self._job, self._stopped = None, self._job
        seen = self.run.examples_seen
        self.end()
        self._session.run_ended(seen)
        self.runningChanged.emit(False)
        self.pausedChanged.emit(False)

    def _current(self, job):
        """Reports of the running job count, and the last ones of the job stopped last
        (queued before it ended) unless a new run or new weights came since."""
        return job is not None and (job is self._job or job is self._stopped)

    def _on_report(self, r):
        if self._current(self.sender()):
            self._session.saw_examples(r["examples_seen"])
            self.report.emit(r)

    def _on_weights(self, weights):
        if self.sender() is self._job:
            self._session.publish_weights(weights)

    def _on_finished(self, how):
        job = self.sender()
        if job is self._job:
            job.stop(wait=True)  # the thread is ending: join it
            self._end_run()
        if self._current(job):
            self.finished.emit(how)
        job.deleteLater()

    def shutdown(self):
        """For the window closing: stop training and wait for its thread."""
        self.stop(wait=True)

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
                tr = Training(s.network, s.trainer, last["experiment"], s.data.dataset, session=self.folder,
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
        tr = Training(s.network, s.trainer, exp, s.data.dataset, session=self.folder, recorder=recorder, **opts)
        if s.examples_seen:  # trained weights: the count (and the evaluations) go on from there
            tr.run.examples_seen = s.examples_seen
            tr.run.set_eval_every(tr.run.eval_every)
        log.info("run %s starts: %s on %s, to epoch %g", tr.run_id, exp.name, s.data.dataset.name, target)
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

    def go_on_from(self, last):
        """Where a run of the live weights stopped, restored from a session folder (``keeping``):
        Train goes on from there, and its record is shown as if it had just trained here."""
        last["run_id"] = self._session.run_id
        self.last = last
        if last.get("record"):
            self.historyRestored.emit(last["record"])  # its curves and numbers, shown again

    def forward_live_changes(self, before, after):
        """Settings changed from experiment ``before`` to ``after``: a running ``Training``
        takes the live ones before its next batch and records them."""
        tr = self.current
        if tr is None or not self.running:
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
