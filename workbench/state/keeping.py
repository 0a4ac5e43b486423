"""Keeping the work: the session folder the window trains in, autosaved, restored after a crash.

The window always works in a session folder (``engine.session``'s: ``session.json``, the
checkpoint, ``runs/``), the same folders the CLI's ``train --session`` makes and
``train --resume`` goes on with. Every run is recorded there as it trains; the runs
table lists them (``runs``, ``rename``, ``annotate``, ``delete``, ``export_csv``).

Where: the folder last worked in (remembered in the settings), else a folder of its own
in the per-user data folder (``QStandardPaths.AppDataLocation``/session; on Linux
``~/.local/share/convnet-workbench/convnet-workbench/session``). Not next to the opened
experiment: the work often has no file (a preset, a new network), a preset's folder may
be read-only, and two experiments in one folder would share (and fight over) one
session. A window given settings in a file of their own (tests, the bench) keeps its
session beside that file, so that it never touches the user's.

When: a running run saves itself every ``autosave_seconds`` (a minute) on its training
thread, between batches, and when it ends; while idle the keeper saves what changed
(the network, the settings, new weights) as often; and on close. A killed app loses at
most about ``autosave_seconds`` of training.

One writer per folder: a window holds the folder's lock (``engine.session.SessionLock``,
the one ``train --session``/``--resume`` take) while it works there. A folder locked by
another window or process is left to it: this window starts a new session folder of its
own beside it (``session-YYYYmmdd-HHMMSS-xxxxxxxx``, a unique name made at once); so does
a folder that cannot be read as a session, left as it was (``notice`` says so).

After a crash: the folder holds a marker (``.app-open.json``: the process that works in
it) while a window works there, removed on close. A marker in a folder whose lock could
be taken means the app did not close (the system drops a dead process's lock);
``offer_restore`` then offers the work as it was last saved: the network, its settings,
the weights and the trainer's state, so that Train goes on exactly where the saved run was.

The extra state the app needs (the network as being edited, its name and file, every
setting) goes under ``"app"`` in ``session.json``; the engine ignores it.
"""
import json
import os
import pathlib
import socket
import threading
import time

from PySide6.QtCore import QObject, QSettings, QStandardPaths, QTimer, Signal
from PySide6.QtWidgets import QWidget

from engine.core.errors import EngineError
from engine.core.io import atomic_write_text, read_json
from engine.runs import checkpoint, records
from engine.runs.session_folder import INFO, SessionError, SessionInUse
from engine.runs.session_folder import Session as Folder
from workbench.state import runs_kept
from workbench.state.runs_kept import KeptFolder
from workbench.tasks import data as datatasks

MARKER = ".app-open.json"
FOLDER_KEY = "session/folder"
AUTOSAVE_SECONDS = 60.0

#: Run colours (Tableau 10, which stays apart in light and dark themes): a run keeps its
#: colour everywhere it appears (the table, the Train plots, the Runs plots, the sweep plots).
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")


def run_color(run_id):
    """The colour (``#rrggbb``) of a run, from its id (``run-0007``: the 7th colour, cycling)."""
    digits = "".join(c for c in str(run_id) if c.isdigit())
    k = int(digits) - 1 if digits else sum(map(ord, str(run_id)))
    return PALETTE[k % len(PALETTE)]


def default_folder(settings):
    """Where a window keeps its session when none was worked in before (see the module)."""
    if settings is not None and settings.format() == QSettings.IniFormat:
        return pathlib.Path(settings.fileName()).resolve().parent / "convnet-workbench-session"
    return pathlib.Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation)) / "session"


def own_folder(parent):
    """A new session folder in ``parent`` that no other window can be given:
    ``session-YYYYmmdd-HHMMSS-xxxxxxxx`` (made at once, its name unique: ``mkdtemp``)."""
    import tempfile
    return pathlib.Path(tempfile.mkdtemp(prefix=time.strftime("session-%Y%m%d-%H%M%S-"), dir=parent))


def _reason(error):
    """One line for what went wrong reading a session folder (whose files a user may edit)."""
    if isinstance(error, (EngineError, OSError)):
        return str(error)
    return f"its session.json is not as convnet-workbench writes it ({type(error).__name__}: {error})"


def _read_marker(folder):
    try:
        return read_json(pathlib.Path(folder) / MARKER)  # a FIFO: refused at once
    except (EngineError, OSError, ValueError):
        return None


def local_time(iso):
    """``2024-05-01T12:00:00Z`` as local ``2024-05-01 14:00`` (the text itself if it is not one)."""
    try:
        t = time.mktime(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))
    except (TypeError, ValueError, OverflowError):
        return str(iso or "")


class SessionKeeper(QObject):
    """The session folder of one window's ``Session``: autosave, crash restore, run records.

    Parameters
    ----------
    session : workbench.session.Session
    settings : QSettings
        Remembers the folder worked in (and tells where a test's session goes).
    folder : path, optional
        Work in this session folder (made if missing) instead of the remembered one.
    autosave_seconds : float

    Signals
    -------
    runsChanged : a run was added, renamed, annotated, deleted, or ended
    checkedChanged : the runs checked in the table (their curves shown) changed
    folderChanged(str) : another session folder is worked in
    saveFailed(str) : a save did not succeed (the text says why); work goes on
    """

    runsChanged = Signal()
    checkedChanged = Signal()
    folderChanged = Signal(str)
    saveFailed = Signal(str)

    def __init__(self, session, settings=None, folder=None, autosave_seconds=AUTOSAVE_SECONDS, parent=None):
        super().__init__(parent if parent is not None else session)
        self.session = s = session
        self.settings = settings
        self.autosave_seconds = float(autosave_seconds)
        s.training.save_every_seconds = self.autosave_seconds
        self.folder = None          # a KeptFolder, or None when no folder could be had
        self.crashed = None         # the marker left by a window that did not close
        self.checked = set()        # run ids whose curves are shown
        self.problem = None         # why there is no folder, or the last save failed
        self.notice = None          # what the window says once it shows (a folder left aside)
        self._cache = {}            # run id -> (mtime_ns, record)
        self._saved_key = None      # the weights last committed
        self._dirty = True
        s.training.before_start = self._before_training
        self._restoring = False     # a restore is loading its data: nothing is saved meanwhile
        for signal in (s.settingsChanged, s.doc.changed, s.runStarted):
            signal.connect(self._mark_dirty)
        s.training.finished.connect(self._run_finished)
        s.training.runningChanged.connect(lambda _: self.runsChanged.emit())
        if folder is None and settings is not None:
            folder = settings.value(FOLDER_KEY) or None
            if folder and not (pathlib.Path(folder) / INFO).exists():
                folder = None  # gone since
        self._start_in(pathlib.Path(folder) if folder else default_folder(settings))
        self._timer = QTimer(self)
        self._timer.setInterval(int(self.autosave_seconds * 1000))
        self._timer.timeout.connect(self.autosave)
        self._timer.start()

    # -- the folder ----------------------------------------------------------------------------
    @property
    def path(self):
        return None if self.folder is None else self.folder.path

    def _start_in(self, path):
        """Work in ``path``, locked (``engine.session.SessionLock``): when another window or
        process holds it, or it cannot be read as a session, in a new folder of this
        window's own beside it (a unique name), the folder left as it was."""
        exp = self.session.experiment()
        folder = None
        try:
            folder = Folder.open_or_create(path, exp, lock=True)
        except SessionInUse:
            pass  # another window works there: this one starts a folder of its own
        except SessionError as e:
            if (path / INFO).exists() or path.is_dir():
                self.notice = (f"The session folder {path} cannot be used: {e}\n\nIt is left as it "
                               f"was; this window keeps its work in a new session folder beside it.")
            else:
                self.problem = f"Runs are kept in memory only: the session folder {path} cannot be used ({e})."
                return
        except OSError as e:
            self.problem = f"Runs are kept in memory only: the session folder {path} cannot be used ({e})."
            return
        marker = None
        if folder is not None:
            marker = _read_marker(path)  # the lock is ours: a marker is a window that did not close
        else:
            try:
                folder = Folder.create(own_folder(path.parent), exp, lock=True)
            except (EngineError, OSError) as e:
                self.problem = (f"Runs are kept in memory only: no session folder could be made "
                                f"beside {path} ({e}).")
                return
            if self.notice:
                self.notice += f"\n\nThe new folder: {folder.path}"
        if marker is not None:
            self.crashed = marker
        self._claim(folder)

    def _claim(self, folder):
        self.folder = KeptFolder(folder)
        self.session.training.folder = self.folder
        teaching = getattr(self.session, "teaching", None)
        if teaching is not None:  # the learner's examples (issue #25): a file of their own there
            teaching.use_folder(folder.path)
        self._cache = {}
        self._saved_key = None
        try:
            atomic_write_text(folder.path / MARKER, json.dumps(
                {"pid": os.getpid(), "host": socket.gethostname(), "started": records.now_iso()}))
        except OSError:
            pass
        if self.settings is not None:
            self.settings.setValue(FOLDER_KEY, str(folder.path))

    def _release(self):
        if self.folder is not None:
            try:
                (self.folder.path / MARKER).unlink()
            except OSError:
                pass
            self.folder.folder.release()  # another window (or train --resume) may write there now

    def close(self):
        """The window closes (after its session stopped training): save, and say it closed."""
        self._timer.stop()
        self.save_now()
        self._release()

    # -- saving ----------------------------------------------------------------------------------
    def _mark_dirty(self, *_):
        self._dirty = True

    def _write_info(self):
        f = self.folder
        atomic_write_text(f.path / INFO, json.dumps(f.info, indent=1, allow_nan=False))

    def _failed(self, text):
        self.problem = text
        self.saveFailed.emit(text)

    def autosave(self):
        """The timer: a running run saves itself; while idle, save what changed."""
        if self.folder is not None and self.folder.error:
            self._failed(f"Could not save the session: {self.folder.error}")
        if not self.session.training.running and self._dirty:
            self.save_now()

    def save_now(self):
        """Save the work now (not while a run trains: it saves itself). True when saved."""
        s, f = self.session, self.folder
        if f is None or s.training.running or self.crashed is not None or self._restoring:
            return False  # (the saved work of a crash is not overwritten before the user chose)
        try:
            f.info["app"] = s.training.app_state()
            key = s.training.weights_key()
            if key is not None and key != self._saved_key:
                ck, record, exp = s.training.capture_idle()
                f.commit(ck, record, exp, checkpoint.data_fingerprint(s.data.dataset))
                if f.error:
                    raise OSError(f.error)
                self._saved_key = key
            else:
                self._write_info()
        except (OSError, EngineError, ValueError) as e:
            self._failed(f"Could not save the session in {f.path}: {e}")
            return False
        self._dirty = False
        return True

    def _before_training(self, training):
        """A ``Training`` is about to start (its thread not yet): its record goes in now."""
        f = self.folder
        if f is None:
            return
        f.info["app"] = self.session.training.app_state()
        f.save_record(training.record)

    def _run_finished(self, how):
        # the Training saved itself as it ended; the settings may have changed since it began
        f = self.folder
        if f is not None and f.error:  # it could not: the weights are in memory only
            self._dirty = True  # (the next autosave tries again)
            self.runsChanged.emit()
            self._failed(f"Could not save the session in {f.path}: {f.error}")
            return
        self._saved_key = self.session.training.weights_key()
        self._dirty = True
        self.save_now()
        self.runsChanged.emit()

    # -- after a crash -----------------------------------------------------------------------------
    def saved_summary(self):
        """A sentence on what the folder holds (for the restore question), or None."""
        f = self.folder
        if f is None or not f.has_checkpoint:
            return None
        info = f.info
        app = info.get("app") if isinstance(info.get("app"), dict) else {}
        exp = info.get("experiment") if isinstance(info.get("experiment"), dict) else {}
        name = app.get("name") or exp.get("name") or "the network"
        seen = info.get("examples_seen") or 0
        trained = f", trained on {seen:,} examples" if seen else ""
        return f"{name}{trained}, saved {local_time(info.get('saved'))}"

    def offer_restore(self, parent=None, ask=None):
        """After a crash, ask whether to restore the saved work (``ask(title, text) -> bool``;
        default: a question dialog); restore it if so. True when restored."""
        if self.crashed is None:
            return False
        crashed, self.crashed = self.crashed, None
        summary = self.saved_summary()
        if summary is None:
            return False
        text = (f"convnet-workbench did not close properly last time (started "
                f"{local_time(crashed.get('started'))}). Its work was saved: {summary}.\n\n"
                f"Restore it? {self._after_restore()}")
        if ask is None:
            from PySide6.QtWidgets import QMessageBox
            ask = lambda title, t: QMessageBox.question(  # noqa: E731
                parent, title, t, QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes) == QMessageBox.Yes
        if not ask("Restore the last session?", text):
            return False
        return self.restore_saved()

    def _after_restore(self):
        """What a restore does, said as it is: the work comes back and nothing trains until Train
        (which goes on from the saved point of a run that had not finished)."""
        try:
            saved = runs_kept.read_saved(self.folder.folder)
        except Exception:  # noqa: BLE001 - the restore itself says what is wrong with the file
            saved = None
        status = ((saved or {}).get("record") or {}).get("status")
        if status in ("done", "early stopped"):
            return ("Its run had finished: the network comes back with the weights it ended with, and "
                    "its curves. Nothing trains until you press Train.")
        if status is not None:
            return ("The network, its settings and the weights come back, with the run's curves; nothing "
                    "trains until you press Train, which goes on from where the run was saved.")
        return "The network, its settings and its weights come back."

    def restore_saved(self):
        """Put the folder's saved work back into the session (the network, the settings, the
        weights, where the run was). Its data, when it is not the data in use, is loaded
        first, behind a progress dialog that can be cancelled (modal: nothing else may change
        the session, or save over the folder, while it loads). True when restored; a problem
        dialog and False if it cannot be (the folder is left as it was)."""
        s, f = self.session, self.folder
        if f is None:
            return False
        try:
            saved = runs_kept.read_saved(f.folder)
        except Exception as e:  # noqa: BLE001 - a file a user may have edited: a dialog, never a crash
            s.problem.emit("Cannot restore the session", _reason(e))
            return False
        if saved is None:
            return False
        dataset = s.data.dataset
        if saved["data_path"] != s.data.path:
            missing = datatasks.missing_part(saved["data_path"])
            if missing is not None:
                s.problem.emit("Cannot restore the session", f"Its data, {missing}, is not there: the "
                               f"runs are kept, the network and weights are not restored.")
                return False
            from workbench.state import background
            from workbench.state.jobs import Cancelled
            parent = s.parent() if isinstance(s.parent(), QWidget) else None
            self._restoring = True
            try:
                dataset = background.wait_for(parent, "Loading the session's data…", datatasks.load_dataset,
                                              saved["data_path"])
            except Cancelled:
                return False
            except Exception as e:  # noqa: BLE001 - a dialog, and the folder kept as it was
                s.problem.emit("Cannot restore the session", f"Its data could not be loaded: {_reason(e)}")
                return False
            finally:
                self._restoring = False
        return self._finish_restore(saved, dataset)

    def _finish_restore(self, saved, dataset):
        s = self.session
        try:
            k, last = runs_kept.saved_work(saved, dataset)
        except Exception as e:  # noqa: BLE001 - a file a user may have edited: a dialog, never a crash
            s.problem.emit("Cannot restore the session", _reason(e))
            return False
        s.restore(k)
        if last is not None and s.weights is not None:
            s.training.go_on_from(last)  # its curves and numbers, shown again
        self._saved_key = s.training.weights_key()
        self._dirty = False
        self.runsChanged.emit()
        return True

    # -- open, save as -----------------------------------------------------------------------------
    def set_autosave_seconds(self, seconds):
        """Save at least this often (a run that starts from now on, and while idle)."""
        self.autosave_seconds = float(seconds)
        self.session.training.save_every_seconds = self.autosave_seconds
        self._timer.setInterval(int(self.autosave_seconds * 1000))

    def open_folder(self, path, create=False):
        """Work in the session folder ``path`` (one the CLI or a sweep made, or a copy): its
        runs, and its saved work restored; with ``create``, a missing or empty folder becomes
        a new session. False (nothing changed) when it cannot be."""
        s = self.session
        path = pathlib.Path(path)
        if self.folder is not None and path.resolve() == self.folder.path.resolve():
            return True
        try:
            if create and not (path / INFO).exists():
                folder = Folder.create(path, s.experiment(), lock=True)
            else:
                folder = Folder.open(path, lock=True)
        except SessionInUse as e:
            s.problem.emit("Cannot open the session", f"{e}: another convnet-workbench window or a "
                           f"'train --resume' works there.")
            return False
        except (EngineError, OSError) as e:
            s.problem.emit("Cannot open the session", str(e))
            return False
        if not s.training.may_stop():
            folder.release()
            return False
        self.save_now()
        self._release()
        self._claim(folder)
        self.checked.clear()
        self.folderChanged.emit(str(folder.path))
        if folder.has_checkpoint:
            self.restore_saved()
        self.runsChanged.emit()
        self.checkedChanged.emit()
        return True

    def save_as(self, path):
        """Copy the session to the new folder ``path`` and work there from now on (a run that
        is training goes on, saving there). False (and a dialog) when it cannot be."""
        s = self.session
        if self.folder is None:
            s.problem.emit("Cannot save the session", self.problem or "There is no session folder.")
            return False

        def copy(training):
            if training is not None:
                training.save()
            else:
                self.save_now()
            return self.folder.folder.save_as(path, lock=True)

        return self._move(copy, "Cannot save the session")

    def save_elsewhere(self, path):
        """After a save failed (a full disk, a folder made read-only ...): keep the work in
        the new session folder ``path`` from now on: the runs' records that can be read,
        and the live weights and trainer saved there (a run that is training goes on,
        saving there). False (and a dialog) when it cannot be."""
        s = self.session
        old = self.folder

        def make(training):
            new = Folder.create(path, s.experiment(), lock=True)
            try:
                try:
                    kept_runs = old.runs() if old is not None else []
                except (EngineError, OSError):
                    kept_runs = []
                for rec in kept_runs:  # (the training one is saved with its checkpoint below)
                    if training is None or rec["id"] != training.run_id:
                        try:
                            records.save_run(new.path, rec)
                        except (EngineError, OSError):
                            pass
                if training is not None:
                    kept = KeptFolder(new)
                    kept.folder.info["app"] = s.training.app_state()
                    training.session = kept
                    training.save()
                    if kept.error:
                        raise OSError(kept.error)
            except BaseException:
                new.release()
                raise
            return new

        if not self._move(make, "Cannot save the session elsewhere"):
            return False
        if not s.training.running:
            self._saved_key = None  # the live weights go into the new folder now
            self._dirty = True
            if not self.save_now():
                return False
        self.problem = None
        return True

    def _move(self, make, title):
        """Work in the folder ``make(training)`` returns (a locked engine Session), made
        between two chunks of a run that trains (its Training saves there from then on)."""
        s = self.session
        out = {}

        def move(training=None):
            try:
                out["folder"] = make(training)
                if training is not None:
                    if not isinstance(training.session, KeptFolder) or training.session.folder is not out["folder"]:
                        training.session = KeptFolder(out["folder"])
                    out["kept"] = training.session
            except (EngineError, OSError) as e:
                out["error"] = str(e)

        tr = s.training.current
        if s.training.running and tr is not None:
            done = threading.Event()
            tr.run.call_between_chunks(lambda: (move(tr), done.set()))
            deadline = time.monotonic() + 30
            while not done.wait(0.05) and s.training.running and time.monotonic() < deadline:
                pass
            if not done.is_set():
                move()
        else:
            move()
        if "error" in out:
            s.problem.emit(title, out["error"])
            return False
        self._release()
        self._claim(out["folder"])
        if "kept" in out:  # the running Training saves there now
            self.folder = s.training.folder = out["kept"]
        self.folderChanged.emit(str(self.folder.path))
        self.runsChanged.emit()
        return True

    # -- the runs -----------------------------------------------------------------------------------
    def _load(self, run_id, path):
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return None
        hit = self._cache.get(run_id)
        if hit is not None and hit[0] == mtime:
            return hit[1]
        try:
            rec = records.load_run(self.folder.path, run_id)
        except EngineError:
            return None
        self._cache[run_id] = (mtime, rec)
        return rec

    def runs(self):
        """Every run's record, oldest first; the one training now as it stands now."""
        s = self.session
        out = []
        if self.folder is not None:
            folder = self.folder.path / records.RUNS_DIR
            paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
            for p in paths:
                rec = self._load(p.stem, p)
                if rec is not None:
                    out.append(rec)
        live = s.training.current if s.training.running else None
        ids = {r["id"]: i for i, r in enumerate(out)}
        for rec in filter(None, (live and live.record, s.training.last and s.training.last.get("record"))):
            view = runs_kept.record_view(rec)
            if rec["id"] in ids:
                out[ids[rec["id"]]] = view
            else:
                ids[rec["id"]] = len(out)
                out.append(view)
        live_id = live.run_id if live is not None else None
        for r in out:
            if r.get("status") == "running" and r["id"] != live_id:
                r["status"] = "interrupted" if r.get("process", {}).get("pid") != os.getpid() else "stopped"
        return sorted(out, key=lambda r: (r.get("created", ""), r["id"]))

    def record(self, run_id):
        for r in self.runs():
            if r["id"] == run_id:
                return r
        return None

    def _edit(self, run_id, fn, key, value):
        s = self.session
        if self.folder is not None:
            try:
                fn(self.folder.path, run_id, value)
            except EngineError as e:
                s.problem.emit("Cannot change the run", str(e))
                return False
        for rec in filter(None, (s.training.current and s.training.current.record,
                                 s.training.last and s.training.last.get("record"))):
            if rec["id"] == run_id:  # the live record is saved again later: it must agree
                rec[key] = value.strip() if key == "name" else value
        self.runsChanged.emit()
        return True

    def rename(self, run_id, name):
        """Give a run a new name (kept in the session folder)."""
        if not isinstance(name, str) or not name.strip():
            self.session.problem.emit("Cannot rename the run", "A run's name must be some text.")
            return False
        return self._edit(run_id, records.rename_run, "name", name)

    def annotate(self, run_id, note):
        """Set a run's note (kept in the session folder)."""
        return self._edit(run_id, records.annotate_run, "note", note)

    def delete(self, run_ids):
        """Remove runs (their records: settings, curves, note). Not the one training now."""
        s = self.session
        live = s.training.current.run_id if s.training.running and s.training.current is not None else None
        if live in run_ids:
            s.problem.emit("Cannot delete the run", "That run is training: stop it first.")
            return False
        for run_id in run_ids:
            if self.folder is not None:
                try:
                    records.delete_run(self.folder.path, run_id)
                except EngineError:
                    pass
            self._cache.pop(run_id, None)
            self.checked.discard(run_id)
            last = s.training.last
            if last is not None and last.get("record") and last["record"]["id"] == run_id:
                s.training.forget_last()  # Train starts a new run on these weights
        self.runsChanged.emit()
        self.checkedChanged.emit()
        return True

    def export_csv(self, run_ids, path):
        """Write the runs (all when ``run_ids`` is None) as CSV: one row per run, the settings
        that differ between them after the metrics."""
        recs = [r for r in self.runs() if run_ids is None or r["id"] in run_ids]
        try:
            records.export_csv(recs, path)
        except (OSError, EngineError) as e:
            self.session.problem.emit("Cannot export the runs", str(e))
            return False
        return True

    def set_checked(self, run_id, on):
        """Show (or hide) a run's curves in the plots."""
        if on == (run_id in self.checked):
            return
        (self.checked.add if on else self.checked.discard)(run_id)
        self.checkedChanged.emit()

    def checked_runs(self):
        """The checked runs' records, oldest first."""
        return [r for r in self.runs() if r["id"] in self.checked]

    # -- records made elsewhere (a sweep's runs) ------------------------------------------------
    def add_record(self, record, **extra):
        """Keep a record made in another folder (a sweep's run) among this session's runs,
        under a new id; returns it."""
        if self.folder is None:
            return None
        rec = dict(record, id=records.new_run_id(self.folder.path), **extra)
        records.save_run(self.folder.path, rec)
        self.runsChanged.emit()
        return rec


def install(window, folder=None, autosave_seconds=AUTOSAVE_SECONDS):
    """Give a main window's session a keeper (``window.keeper``)."""
    window.keeper = SessionKeeper(window.session, window.settings, folder, autosave_seconds, window)
    return window.keeper
