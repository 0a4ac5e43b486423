"""Sessions: a folder that keeps the work, so that a run can be stopped, killed and resumed.

The folder::

    DIR/session.json              what the session is: its experiment now, which checkpoint
                                  is current, the run it belongs to, the data's fingerprint,
                                  the best validation accuracy kept
    DIR/checkpoint-000012.npz     the whole training state (``engine.checkpoint``): weights,
                                  trainer accumulators, random generators, position in the
                                  epoch, evaluation schedule
    DIR/best.json                 with keep-best: the weights at the best validation accuracy,
                                  a ConvNetJS snapshot with its experiment (``engine eval``
                                  and the app open it)
    DIR/runs/run-0001.json ...    every run's record (``engine.runs``): settings, curves,
                                  metrics, note

Every file is written to a temporary file and renamed into place, and a save writes a new
checkpoint file before ``session.json`` points to it, removing the previous one only
then: a crash at any moment leaves the last complete save (a killed process loses what it
trained since; ``Training`` saves every ``save_every_seconds``, a minute by default).

In Python (the app drives the same objects from its training thread)::

    session = SessionFolder.create("work/", experiment)          # or SessionFolder.open("work/")
    training = session.start(dataset)                      # a new run, recorded
    training = session.resume(dataset, epochs=1)           # or: go on with the last one
    for report in training.reports():                      # Run's reports, saved as it goes
        ...
    training.change_settings({"learning_rate": 0.003})     # any thread; recorded
    training.finish(test_accuracy=0.99)                    # final metrics into the record

``Training`` also works without a session (``session=None``): the same loop, kept in
memory. ``SessionFolder.save_as(path)`` copies a session; ``session.runs()`` lists its records.
"""
import errno
import json
import logging
import math
import os
import pathlib
import re
import shutil
import socket
import stat
import time

from engine.core import fields
from engine.core.errors import DataError, EngineError
from engine.core.io import atomic_write_text, fsync_folder, open_regular, read_json
from engine.core.pids import holder_alive
from engine.runs import checkpoint
from engine.runs.records import RunError, RunRecorder, list_runs, load_run, new_run_id, now_iso, save_run
from engine.runs.run import make_run
from engine.runs.settings import LIVE, canonical, get_setting, with_settings

log = logging.getLogger(__name__)

FORMAT = "convnet-workbench session"
VERSION = 1
INFO = "session.json"
BEST = "best.json"
#: The lock file of a session folder: locked (``flock`` / ``msvcrt.locking``) by the one
#: process that writes in the folder, the pid and host inside for the message.
LOCK = ".session.lock"
#: Where the lock's byte is on Windows (after the pid and host, which others may read).
_WIN_LOCK_OFFSET = 4096
#: The name a checkpoint of the folder has (``session.json``'s "checkpoint" must be one).
CHECKPOINT_NAME = re.compile(r"checkpoint-[0-9]{6,16}\.npz")
#: The Draw place's examples (the workbench's ``teaching``), kept with the session.
EXAMPLES = "examples.npz"


def _process_alive(process):
    """Whether the process a record names (``{"pid", "host"}``) may still be training it."""
    return holder_alive(process)


class SessionError(EngineError):
    """A folder that is not a session, or a session that cannot go on as asked."""


def check_info(info, where):
    """Check ``session.json``'s fields (types and ranges) before any is used; SessionError
    naming the first that is wrong. ``where``: the file, for the message."""
    E = SessionError
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise E(f"{where}: not a {FORMAT}")
    version = fields.whole(info.get("version", 1), E, where, "version", lo=1)
    if version > VERSION:
        raise E(f"{where}: made by a newer version of the engine (session version {version})")
    fields.mapping(info.get("experiment"), E, where, "experiment")
    generation = fields.whole(info.get("generation", 0), E, where, "generation")
    name = info.get("checkpoint")
    if name is not None:
        fields.file_name(name, E, where, "checkpoint", CHECKPOINT_NAME)
        if int(name[len("checkpoint-"):-len(".npz")]) > generation:
            raise E(f"{where}: checkpoint {name} is past the generation {generation}")
    fields.run_id(info.get("run"), E, where, "run", none=True)
    fields.text(info.get("data"), E, where, "data", none=True, max_len=1000)
    fields.whole(info.get("examples_seen", 0), E, where, "examples_seen")
    for key in ("created", "saved"):
        fields.text(info.get(key), E, where, key, none=True, max_len=100)
    best = fields.mapping(info.get("best"), E, where, "best", none=True)
    if best is not None:
        fields.number(best.get("validation_accuracy"), E, where, "best.validation_accuracy",
                      0.0, 1.0, none=True)
        fields.whole(best.get("examples_seen", 0), E, where, "best.examples_seen")
        fields.run_id(best.get("run"), E, where, "best.run", none=True)
        fields.text(best.get("saved"), E, where, "best.saved", none=True, max_len=100)
        if best.get("file", BEST) != BEST:
            raise E(f"{where}: best.file must be {BEST!r}, got {best.get('file')!r}")
    return info  # ("app": the app's own part, which it checks itself)


class SessionInUse(SessionError):
    """A session folder another process (or another window) is writing in: its lock is held."""


def _holder(path):
    """``"process N on HOST"`` from a lock file (what its writer wrote), or a vaguer text."""
    try:
        with open_regular(path, SessionError) as f:  # a FIFO planted there never hangs us
            info = json.loads(f.read(2000).split(b"\0", 1)[0].decode("utf-8"))
        return f"process {int(info['pid'])} on {str(info['host'])[:100]}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


class SessionLock:
    """The lock of one session folder, held while a process writes there (``take``).

    A file lock on ``LOCK`` in the folder: ``fcntl.flock`` on POSIX, ``msvcrt.locking``
    on Windows. The system drops it when the process ends, however it ends, so a lock is
    never stale: a folder whose writer was killed can be taken at once. Two ``take`` in
    one process (two windows) exclude each other too (each opens the file anew). The
    lock file stays in the folder (removing it would let two writers lock two files).
    """

    def __init__(self, path, fd):
        self.path = pathlib.Path(path)
        self._fd = fd

    @classmethod
    def take(cls, folder, create=False):
        """Lock the session folder ``folder`` (made first with ``create``); SessionError
        "... is in use by process N on HOST" when another writer holds it, or when the
        folder cannot be written in."""
        folder = pathlib.Path(folder)
        if create and not folder.is_dir():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise SessionError(f"{folder}: cannot make the folder ({e.strerror or e})") from None
        path = folder / LOCK
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
            | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as e:
            if not folder.is_dir():
                raise SessionError(f"{folder}: no such session folder") from None
            raise SessionError(f"{folder}: cannot write in the session folder ({e.strerror or e}); "
                               f"a session keeps its work there") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SessionError(f"{path}: not a regular file (a session's lock file must be one)")
            try:
                if os.name == "nt":
                    import msvcrt
                    os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
                    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                else:
                    import fcntl
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EACCES, errno.EAGAIN, errno.EWOULDBLOCK, errno.EDEADLK):
                    raise SessionError(f"{folder}: cannot lock the session folder "
                                       f"({e.strerror or e})") from None
                raise SessionInUse(f"{folder}: the session is in use by {_holder(path)} "
                                   f"(one process at a time writes in a session folder)") from None
            me = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "started": now_iso()}).encode("utf-8")
            try:
                os.ftruncate(fd, 0) if os.name != "nt" else None
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, me + b"\0" * (64 if os.name == "nt" else 0))
            except OSError:
                pass  # the lock holds all the same; only the message would be vaguer
        except BaseException:
            os.close(fd)
            raise
        lock = cls(folder, fd)
        lock._clean(folder)
        return lock

    @staticmethod
    def _clean(folder):
        """Temporary files left by a writer that was killed while it saved: with the lock
        held, no other writer can be writing them."""
        for pattern in (".checkpoint-*.tmp", f".{INFO}.*.tmp", f".{BEST}.*.tmp", "runs/.*.tmp"):
            for tmp in folder.glob(pattern):
                try:
                    tmp.unlink()
                except OSError:
                    pass

    @property
    def held(self):
        return self._fd is not None

    def release(self):
        """Unlock (closing the file drops the lock)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self):
        self.release()


def _empty(path):
    """Whether a folder holds nothing but (perhaps) its lock file."""
    return all(p.name == LOCK for p in path.iterdir())


class SessionFolder:
    """A session folder (see the module's docstring). Open one with ``open`` or ``create``."""

    def __init__(self, path, info, lock=None):
        self.path = pathlib.Path(path)
        self.info = info
        self.lock = lock  # a SessionLock when this object may write in the folder

    @staticmethod
    def _take(path, lock, create=False):
        """The SessionLock to hold: ``lock`` itself when it is one, a new one when True."""
        if lock is True:
            return SessionLock.take(path, create=create)
        return lock or None

    def release(self):
        """Stop writing in the folder: its lock is let go (another process may take it)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    # -- opening ---------------------------------------------------------------------
    @classmethod
    def create(cls, path, experiment, lock=False):
        """A new session in ``path`` (made if missing; an existing folder must be empty).
        ``lock``: True to take the folder's lock (SessionError when another process holds
        it), or a SessionLock already taken on it."""
        path = pathlib.Path(path)
        if path.exists() or path.is_symlink():
            if not path.is_dir():
                raise SessionError(f"{path}: not a folder")
            if not _empty(path):
                raise SessionError(f"{path}: the folder is not empty and not a session")
        else:
            try:
                path.mkdir(parents=True)
            except FileExistsError:
                pass  # made by another process just now: the lock and the check below say
            except OSError as e:
                raise SessionError(f"{path}: cannot make the folder ({e.strerror or e})") from None
        held = cls._take(path, lock)
        try:
            if not _empty(path):  # another writer started a session here meanwhile
                raise SessionError(f"{path}: the folder is not empty and not a session")
            s = cls(path, {"format": FORMAT, "version": VERSION, "created": now_iso(),
                           "experiment": experiment.to_json(), "checkpoint": None, "generation": 0,
                           "run": None, "data": None, "best": None, "examples_seen": 0}, held)
            s._write_info()
        except BaseException:
            if held is not None and held is not lock:
                held.release()
            raise
        return s

    @classmethod
    def open(cls, path, lock=False):
        """An existing session; SessionError when ``path`` is not one. ``lock``: as
        ``create``'s (to write in it; reading needs no lock)."""
        path = pathlib.Path(path)
        if not path.is_dir():
            raise SessionError(f"{path}: no such session folder")
        if not (path / INFO).exists():
            raise SessionError(f"{path}: not a session (no {INFO})")
        held = cls._take(path, lock)
        try:
            s = cls._open(path)
        except BaseException:
            if held is not None and held is not lock:
                held.release()
            raise
        s.lock = held
        return s

    @classmethod
    def _open(cls, path):
        info = check_info(read_json(path / INFO, SessionError), path / INFO)
        runs = path / "runs"
        if (runs.exists() or runs.is_symlink()) and not runs.is_dir():
            raise SessionError(f"{runs}: not a folder (a session keeps its run records there)")
        s = cls(path, info)
        _ = s.experiment  # checked now
        if info.get("checkpoint") and not (path / info["checkpoint"]).is_file():
            raise SessionError(f"{path}: its checkpoint {info['checkpoint']} is missing")
        return s

    @classmethod
    def open_or_create(cls, path, experiment, lock=False):
        path = pathlib.Path(path)
        held = cls._take(path, lock, create=True)
        try:
            if (path / INFO).exists():
                return cls.open(path, lock=held)
            return cls.create(path, experiment, lock=held)
        except BaseException:
            if held is not None and held is not lock:
                held.release()
            raise

    # -- what it holds -----------------------------------------------------------------
    @property
    def experiment(self):
        """The session's experiment as it stands now (changes made while training included)."""
        from engine.runs.experiment import Experiment
        try:
            return Experiment.from_json(self.info["experiment"])
        except (EngineError, KeyError, TypeError) as e:
            raise SessionError(f"{self.path / INFO}: its experiment: {e}") from None

    @property
    def has_checkpoint(self):
        return bool(self.info.get("checkpoint"))

    def checkpoint(self):
        """The last saved training state (``engine.checkpoint``), or None."""
        if not self.has_checkpoint:
            return None
        try:
            return checkpoint.read(self.path / self.info["checkpoint"])
        except checkpoint.CheckpointError as e:
            raise SessionError(f"{self.path}: {e}") from None

    def runs(self):
        """Every run's record, oldest first (``engine.runs.list_runs``)."""
        runs = list_runs(self.path)
        for r in runs:  # a run whose process died while it trained
            if r.get("status") == "running" and not _process_alive(r.get("process")):
                r["status"] = "interrupted"
        return runs

    def save_as(self, path, lock=False):
        """Copy this session to a new folder ``path`` (which must not exist or be empty);
        returns the copy (``lock``: as ``open``'s). The copy is made in a temporary folder
        renamed into place."""
        path = pathlib.Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise SessionError(f"{path}: the folder exists and is not empty")
        parent = path.parent
        if not parent.is_dir():
            raise SessionError(f"{path}: the folder {parent} does not exist")
        import tempfile
        try:  # a folder of this copy's own (another window may copy beside it)
            tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
        except OSError as e:
            raise SessionError(f"{path}: cannot write in {parent} ({e.strerror or e})") from None
        try:
            keep = [INFO, BEST, EXAMPLES, self.info.get("checkpoint")]
            for name in keep:
                if name and (self.path / name).exists():
                    shutil.copy2(self.path / name, tmp / name)
            if (self.path / "runs").is_dir():
                shutil.copytree(self.path / "runs", tmp / "runs",
                                ignore=shutil.ignore_patterns(".*"))
            if path.exists():
                path.rmdir()
            os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return SessionFolder.open(path, lock=lock)

    # -- training ------------------------------------------------------------------------
    def start(self, dataset, experiment=None, name=None, **options):
        """A new run of ``experiment`` (default: the session's) from fresh weights, recorded
        as a new run; ``options`` go to ``Training`` and on to ``engine.training.make_run``."""
        exp = experiment if experiment is not None else self.experiment
        self.info["experiment"] = exp.to_json()
        threads = options.pop("threads", None)
        net = exp.build_net(threads=threads)
        trainer = exp.build_trainer(net)
        recorder = RunRecorder(new_run_id(self.path), exp, name=name)
        return Training(net, trainer, exp, dataset, session=self, recorder=recorder, **options)

    def resume(self, dataset, epochs=None, changes=None, **options):
        """Go on with the run of the last checkpoint: ``epochs`` more epochs (None: to the
        end its experiment planned). ``changes`` ({setting: value}) are made at the
        resume point and recorded. DataError if ``dataset`` is not the data it trained on."""
        ck = self.checkpoint()
        if ck is None:
            raise SessionError(f"{self.path}: nothing to resume (the session has not trained yet)")
        fp = self.info.get("data")
        if fp and fp != checkpoint.data_fingerprint(dataset):
            raise DataError(f"{self.path}: the session trained on other data than "
                            f"{getattr(dataset, 'name', 'these images')} (its fingerprint "
                            f"{fp}, these images' {checkpoint.data_fingerprint(dataset)})")
        exp = checkpoint.experiment_of(ck)
        threads = options.pop("threads", None)
        net = exp.build_net(threads=threads)
        trainer = exp.build_trainer(net)
        run_id = (ck["info"].get("extra") or {}).get("run")
        record = None
        if run_id:
            try:
                record = load_run(self.path, run_id)
            except RunError:  # a damaged record is left as it is: the run goes on in a new one
                record = None
                if (self.path / "runs" / f"{run_id}.json").exists():
                    run_id = None
        seen = ck["info"]["run"]["examples_seen"] if ck["info"].get("run") else 0
        recorder = RunRecorder(run_id or new_run_id(self.path), exp, record=record,
                               examples_seen=seen)
        tr = Training(net, trainer, exp, dataset, session=self, recorder=recorder,
                      checkpoint_=ck, **options)
        run = tr.run
        n = len(run.train_set)
        if epochs is not None:
            if not (isinstance(epochs, (int, float)) and math.isfinite(epochs) and epochs > 0):
                raise SessionError(f"epochs to go on for must be above 0, got {epochs!r}")
            end = run.examples_seen / n + epochs
        else:
            end = run.epochs if run.epochs is not None else exp.epochs
            if int(round(end * n)) <= run.examples_seen:
                raise SessionError(
                    f"{self.path}: the run is complete ({run.examples_seen / n:g} of {end:g} "
                    f"epochs): say how many epochs more (--epochs E)")
        tr.change_settings(dict(changes or {}, epochs=end), now=True)
        return tr

    # -- saving (Training calls these) -------------------------------------------------------
    def _write_info(self):
        atomic_write_text(self.path / INFO, json.dumps(self.info, indent=1, allow_nan=False))

    def commit(self, ck, record, experiment, fingerprint):
        """Save a checkpoint and a run record; ``session.json`` points to the checkpoint only
        once it is complete, and the previous checkpoint goes only after that."""
        gen = int(self.info.get("generation", 0)) + 1
        name = f"checkpoint-{gen:06d}.npz"
        before = dict(self.info)
        checkpoint.write(self.path / name, ck)  # (its temporary file is its own: mkstemp)
        try:
            if record is not None:
                save_run(self.path, record)
            run = ck["info"].get("run") or {}
            best = dict(self.info.get("best") or {}) or None
            self.info.update(generation=gen, checkpoint=name, experiment=experiment.to_json(),
                             run=None if record is None else record["id"], data=fingerprint,
                             saved=now_iso(), examples_seen=run.get("examples_seen", 0), best=best)
            self._write_info()
        except BaseException:
            # session.json still names the previous checkpoint: this one would be an orphan
            self.info.clear()
            self.info.update(before)
            try:
                (self.path / name).unlink()
            except OSError:
                pass
            raise
        fsync_folder(self.path)
        log.info("saved %s in %s (%s examples seen)", name, self.path, run.get("examples_seen", 0))
        for old in self.path.glob("checkpoint-*.npz"):
            if old.name != name:
                try:
                    old.unlink()
                except OSError:
                    pass

    def save_record(self, record):
        save_run(self.path, record)

    def save_best(self, net, experiment, validation_accuracy, examples_seen, run_id):
        """Write ``best.json`` (a snapshot with its experiment) and note it in the session."""
        from engine.runs.snapshots import save_snapshot
        meta = {"validation_accuracy": validation_accuracy, "examples_seen": examples_seen,
                "run": run_id, "saved": now_iso()}
        save_snapshot(net, self.path / BEST, meta=meta, experiment=experiment)
        self.info["best"] = dict(meta, file=BEST)
        self._write_info()


class Training:
    """A run being trained and kept: the ``Run``'s reports, recorded and saved as they go.

    Parameters
    ----------
    net, trainer, experiment, dataset
        What to train (``SessionFolder.start``/``resume`` make them).
    session : SessionFolder, optional
        Where to keep it (None: nothing is written; the record is still made).
    recorder : engine.runs.RunRecorder, optional
    save_every_seconds : float
        Save the session at least this often while training (default 60).
    save_every_examples : int, optional
        ... and after this many examples.
    keep_best : bool
        Keep the weights with the best validation accuracy (``best.json`` in the session).
    early_stop : int, optional
        Stop after this many evaluations without a better validation accuracy.
    run_options
        Go to ``engine.training.make_run`` (``test``, ``chunk_seconds``, ``eval_every``,
        ``eval_examples``, ``coach`` ...).

    Call ``reports()`` and every other method but ``change_settings`` and the run's
    ``pause``/``resume``/``stop`` on one thread, the one that trains.
    """

    def __init__(self, net, trainer, experiment, dataset, session=None, recorder=None,
                 save_every_seconds=60.0, save_every_examples=None, keep_best=False,
                 early_stop=None, checkpoint_=None, **run_options):
        self.net, self.trainer, self.experiment = net, trainer, experiment
        self.dataset = dataset
        self.session = session
        self.recorder = recorder or RunRecorder("run", experiment)
        self.save_every_seconds = save_every_seconds
        self.save_every_examples = save_every_examples
        self.fingerprint = checkpoint.data_fingerprint(dataset)
        eval_every = None
        if checkpoint_ is not None:  # the checkpoint's evaluation schedule, unless one is given
            eval_every = run_options.pop("eval_every", None)
        self.run = make_run(experiment, net, trainer, dataset, keep_best=keep_best,
                                       early_stop=early_stop, **run_options)
        if checkpoint_ is not None:
            try:
                checkpoint.apply(checkpoint_, net, trainer, self.run)
            except DataError as e:
                raise SessionError(f"cannot go on with the saved run: {e}") from None
            if eval_every is not None:
                self.run.set_eval_every(eval_every)
            # keep-best and early stopping are this stretch's options
            self.run.early_stop = early_stop
            self.run.keep_best = bool(keep_best) or early_stop is not None
        self._last_save = time.monotonic()
        self._last_save_examples = self.run.examples_seen
        self.saves = 0
        self.save_seconds = 0.0   # time spent saving, in total
        #: why the last save while training failed (None: saved); see ``rescue``
        self.save_error = None

    @property
    def run_id(self):
        return self.recorder.id

    @property
    def record(self):
        return self.recorder.record

    # -- settings while training --------------------------------------------------------
    def change_settings(self, changes, now=False):
        """Change settings of the run (``engine.settings`` names) from any thread; they take
        effect before the next chunk of batches, and the record notes each change where it
        happened. Settings that a running network cannot take (``layers.*``, ``data``,
        ``validation``, ``seed``) are refused with SessionError; bad values with
        ExperimentError, before anything changes."""
        changes = {canonical(k): v for k, v in changes.items()}
        bad = [k for k in changes if k not in LIVE and k != "epochs"
               and not k.startswith("schedule.")]
        if bad:
            raise SessionError(f"{bad[0]} cannot change while a network trains: start a new run")
        new_exp = with_settings(self.experiment, changes)  # checked before anything changes

        def apply():
            run, t = self.run, self.trainer
            for key, _value in changes.items():
                old = get_setting(self.experiment, key)
                new = get_setting(new_exp, key)
                if key == "epochs":
                    run.epochs = new
                elif key.startswith("augment."):
                    setattr(run.augment, key.split(".", 1)[1], new)
                elif not key.startswith("schedule."):
                    setattr(t, key, new)
                if old != new:
                    self.recorder.note_change(key, old, new, run.examples_seen)
            if any(k.startswith("schedule.") for k in changes):
                run.schedule = new_exp.build_schedule(len(run.train_set))
                if run.schedule is None:
                    t.learning_rate = new_exp.trainer["learning_rate"]
            self.experiment = new_exp
            if self.session is not None:
                self.session.info["experiment"] = new_exp.to_json()

        if now:
            apply()
        else:
            self.run.call_between_chunks(apply)

    # -- the loop ------------------------------------------------------------------------------
    def reports(self):
        """The run's reports, each recorded; saves the session on schedule and at the end."""
        self.record["process"] = {"pid": os.getpid(), "host": socket.gethostname()}
        self.recorder.start()  # the first chunk's time is the run's too
        for r in self.run.reports():
            self.observe(r)
            yield r

    def observe(self, r):
        """Record one report, keep the best weights, and save when it is time."""
        self.recorder.observe(r)
        tag = r["tag"]
        if tag == "eval" and r.get("best") and self.session is not None:
            self._safely(self.session.save_best, self.net, self.experiment,
                         r["validation_accuracy"], r["examples_seen"], self.run_id)
        if tag in ("done", "stopped", "diverged"):
            self._safely(self.save)
        elif self.session is not None and not self.run.eval_due:
            due = time.monotonic() - self._last_save >= self.save_every_seconds
            if self.save_every_examples:
                due |= self.run.examples_seen - self._last_save_examples >= self.save_every_examples
            if due:
                self._safely(self.save)

    def _safely(self, save, *args):
        """A save while training: one that fails is kept in ``save_error`` (the training
        goes on, in memory; the next save tries again), never ends the run."""
        try:
            save(*args)
        except (OSError, EngineError, ValueError) as e:
            self.save_error = save_error_text(e, self.session.path if self.session else None)
            self._last_save = time.monotonic()  # the next try a save period later
            self._last_save_examples = self.run.examples_seen
        else:
            if save == self.save:
                self.save_error = None

    def save(self):
        """Save the session now (between chunks, on the training thread)."""
        if self.session is None:
            return
        t0 = time.perf_counter()
        ck = checkpoint.capture(self.net, self.trainer, self.run, self.experiment,
                                extra={"run": self.run_id, "data": self.fingerprint})
        self.session.commit(ck, self.record, self.experiment, self.fingerprint)
        self._last_save = time.monotonic()
        self._last_save_examples = self.run.examples_seen
        self.saves += 1
        self.save_seconds += time.perf_counter() - t0

    def finish(self, **metrics):
        """Add final metrics (measured after the run, e.g. the whole test set) to the record
        and save it; returns the record."""
        rec = self.recorder.finish(**metrics)
        if self.session is not None:
            self._safely(self.session.save_record, rec)
        return rec

    def rescue(self, near=()):
        """Save the run (its checkpoint, its record, the session's other records) in a new
        session folder of its own, when its folder could not be saved in (``save_error``):
        named ``<session>-rescued-XXXXXXXX`` (unique, ``mkdtemp``) in the first folder of
        ``near``, the session folder's parent or the temporary folder that takes it.
        Returns the new folder's path; SessionError when none could be written."""
        import tempfile

        from engine.runs.records import RUNS_DIR
        base = self.session.path if self.session is not None else pathlib.Path("run")
        tried = []
        for parent in [*near, base.parent, tempfile.gettempdir()]:
            path = None
            try:
                path = pathlib.Path(tempfile.mkdtemp(prefix=f"{base.name}-rescued-", dir=parent))
                s = SessionFolder.create(path, self.experiment, lock=True)
                try:
                    old = base / RUNS_DIR
                    if old.is_dir():  # the session's other runs, as far as they can be read
                        for rec in old.glob("*.json"):
                            if rec.name != f"{self.run_id}.json":
                                try:
                                    save_run(path, load_run(base, rec.stem))
                                except (RunError, OSError):
                                    pass
                    ck = checkpoint.capture(self.net, self.trainer, self.run, self.experiment,
                                            extra={"run": self.run_id, "data": self.fingerprint})
                    s.commit(ck, self.record, self.experiment, self.fingerprint)
                finally:
                    s.release()
                return path
            except (OSError, EngineError, ValueError) as e:
                tried.append(f"{parent}: {save_error_text(e, path)}")
                if path is not None:
                    shutil.rmtree(path, ignore_errors=True)
        raise SessionError("the run could not be saved anywhere (" + "; ".join(tried) + ")")


def save_error_text(error, folder):
    """One line for a save that failed, naming the folder when the error names no file
    (a full disk's ``[Errno 28] No space left on device``)."""
    text = str(error)
    if isinstance(error, OSError) and not error.filename and folder is not None:
        text = f"{folder}: {error.strerror or error}"
    return text


#: The old name of ``SessionFolder`` (the app's state is ``workbench``'s ``AppSession``), kept for one release.
Session = SessionFolder
