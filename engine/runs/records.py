"""Run records: every training run kept as plain data, and what a runs table does with them.

A record is one JSON file, ``runs/<id>.json`` in a session folder (see
``engine.session``), written atomically. It is a plain dict:

- ``id`` ("run-0003", the file's name), ``name`` (the user's; "run 3" to start with),
  ``note`` (free text the user edits), ``created`` and ``updated`` (ISO 8601, UTC);
- ``status``: ``running``, ``done``, ``early stopped``, ``not learning``, ``stopped``, ``diverged``
  (a process killed while training leaves ``running``: ``SessionFolder.runs()`` reports such a
  run as ``interrupted`` when the process it names, ``process: {"pid", "host"}``, is
  gone); ``message``: the last word of the run (why it diverged ...);
- ``experiment``: the settings it started with (``Experiment.to_json()``);
  ``changes``: settings changed while it ran, each ``{"examples_seen", "setting",
  "from", "to"}`` (where to put markers on the curves);
- ``curves``: ``progress`` and ``eval``, each a dict of equal-length columns:
  ``examples_seen``, ``seconds`` (training wall time since the run began), and the report
  fields (``cost_loss``, ``train_accuracy``, ``learning_rate``, ``examples_per_second`` /
  ``validation_accuracy``, ``test_accuracy``); a missing value is None;
- ``metrics``: the final ``test_accuracy``, ``validation_accuracy``, ``train_loss``,
  ``train_accuracy``, ``best_validation_accuracy`` (when kept), ``examples_seen``,
  ``epochs``; ``wall_seconds``: the run's training wall time, from its first batch to its
  last report (evaluations and saves while it trains included; the final metrics measured
  after it, and the time before it starts, not); ``examples_per_second``: the examples it
  trained divided by ``wall_seconds`` (one figure: the runs table and a sweep's
  ``runs.csv`` both show it);
- ``segments``: one entry per stretch of training (a resumed run has several):
  ``{"started", "examples_from", "examples_to", "seconds"}``.

Functions over plain data for the app's runs table: ``list_runs``, ``load_run``,
``rename_run``, ``annotate_run``, ``delete_run``, ``runs_csv`` / ``export_csv`` and
``diff_settings``. ``RunRecorder`` turns a run's reports into a record.
"""
import datetime
import json
import math
import pathlib
import re

from engine.core import fields
from engine.core.errors import EngineError
from engine.core.io import csv_text

FORMAT = "convnet-workbench run"
RUNS_DIR = "runs"
PROGRESS_FIELDS = ("cost_loss", "train_accuracy", "learning_rate", "examples_per_second")
EVAL_FIELDS = ("validation_accuracy", "test_accuracy")
#: The columns of ``runs_csv`` before the settings.
CSV_COLUMNS = ("id", "name", "created", "status", "test_accuracy", "validation_accuracy",
               "train_loss", "examples_seen", "epochs", "examples_per_second", "wall_seconds", "note")


class RunError(EngineError):
    """A run record that does not exist or cannot be read."""


def now_iso():
    """The time now, ISO 8601 in UTC to the second (``2024-05-01T12:00:00Z``)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def clean(value):
    """``value`` with NaN and infinities as None and numpy numbers as Python ones (strict JSON)."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- the records in a folder -------------------------------------------------------------
def _folder(session_dir):
    return pathlib.Path(session_dir) / RUNS_DIR


def _path(session_dir, run_id):
    if not isinstance(run_id, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", run_id) or \
            run_id.startswith("."):
        raise RunError(f"{run_id!r} is not a run id")
    return _folder(session_dir) / f"{run_id}.json"


def new_run_id(session_dir):
    """The next free id: ``run-0001``, ``run-0002``, ..."""
    taken = [int(m.group(1)) for p in _folder(session_dir).glob("run-*.json")
             if (m := re.fullmatch(r"run-(\d+)\.json", p.name))]
    return f"run-{max(taken, default=0) + 1:04d}"


def save_run(session_dir, record):
    """Write a record (atomically) to its file in ``session_dir``."""
    from engine.core.io import atomic_write_text
    record = dict(record, updated=now_iso())
    path = _path(session_dir, record["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(clean(record), allow_nan=False, separators=(",", ":")))
    return record


def load_run(session_dir, run_id):
    """One record (a dict), checked (``check_record``); RunError if there is none or it
    cannot be read."""
    from engine.core.io import read_json
    path = _path(session_dir, run_id)
    if not path.exists():
        raise RunError(f"no run {run_id!r} in {session_dir}")
    obj = read_json(path, RunError)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise RunError(f"{path.name}: not a run record")
    return check_record(obj, path.name, run_id)


def _scalar(value):
    return value is None or isinstance(value, (str, bool, int, float))


def check_record(rec, where, run_id=None):
    """Check a record's fields (types and ranges) before any is used; RunError naming the
    first that is wrong. Fields a record may lack get their empty value; ``run_id``: the
    id its file name says (the record's ``id`` must be it)."""
    E = RunError
    if not isinstance(rec, dict) or rec.get("format") != FORMAT:
        raise E(f"{where}: not a run record")
    fields.run_id(rec.get("id"), E, where, "id")
    if run_id is not None and rec["id"] != run_id:
        raise E(f"{where}: its id {rec['id']!r} is not its file's name")
    for key in ("name", "note", "created", "updated", "status", "message"):
        fields.text(rec.get(key), E, where, key, none=True)
    rec.setdefault("name", rec["id"])
    rec.setdefault("note", "")
    rec.setdefault("status", "done")
    fields.mapping(rec.get("experiment"), E, where, "experiment")
    for c in fields.listing(rec.setdefault("changes", []), E, where, "changes"):
        fields.mapping(c, E, where, "a change")
        fields.whole(c.get("examples_seen"), E, where, "a change's examples_seen")
        fields.text(c.get("setting"), E, where, "a change's setting", max_len=200)
        if not (_scalar(c.get("from")) and _scalar(c.get("to"))):
            raise E(f"{where}: a change's from and to must be numbers, text or null")
    curves = fields.mapping(rec.setdefault("curves", {}), E, where, "curves")
    for name in ("progress", "eval"):
        curves.setdefault(name, {})
    for name, curve in curves.items():
        fields.mapping(curve, E, where, f"curves.{name}")
        for key in ("examples_seen", "seconds") + {"progress": PROGRESS_FIELDS,
                                                   "eval": EVAL_FIELDS}.get(name, ()):
            curve.setdefault(key, [])
        lengths = set()
        for key, col in curve.items():
            fields.listing(col, E, where, f"curves.{name}.{key}")
            if not all(v is None or fields.is_number(v) for v in col):
                raise E(f"{where}: curves.{name}.{key} must hold numbers (or null)")
            lengths.add(len(col))
        if len(lengths) > 1:
            raise E(f"{where}: the columns of curves.{name} are not of one length")
        for v in curve["examples_seen"]:
            fields.whole(v, E, where, f"curves.{name}.examples_seen")
    metrics = fields.mapping(rec.setdefault("metrics", {}), E, where, "metrics")
    for key, v in metrics.items():
        if v is not None:
            fields.number(v, E, where, f"metrics.{key}")
    fields.number(rec.get("examples_per_second"), E, where, "examples_per_second", 0.0, none=True)
    fields.number(rec.setdefault("wall_seconds", 0.0), E, where, "wall_seconds", 0.0)
    for seg in fields.listing(rec.setdefault("segments", []), E, where, "segments"):
        fields.mapping(seg, E, where, "a segment")
        fields.text(seg.get("started"), E, where, "a segment's start", none=True, max_len=100)
        a = fields.whole(seg.get("examples_from"), E, where, "a segment's examples_from")
        fields.whole(seg.get("examples_to"), E, where, "a segment's examples_to", lo=a)
        fields.number(seg.get("seconds"), E, where, "a segment's seconds", 0.0)
    process = fields.mapping(rec.get("process"), E, where, "process", none=True)
    if process is not None:
        fields.whole(process.get("pid"), E, where, "process.pid", none=True, hi=2 ** 31)
        fields.text(process.get("host"), E, where, "process.host", none=True, max_len=300)
    return rec


def list_runs(session_dir):
    """Every record in ``session_dir``, oldest first (unreadable files are skipped)."""
    out = []
    for path in sorted(_folder(session_dir).glob("*.json")):
        try:
            out.append(load_run(session_dir, path.stem))
        except RunError:
            continue
    return sorted(out, key=lambda r: (r.get("created", ""), r["id"]))


def rename_run(session_dir, run_id, name):
    """Give a run a new name; returns the record."""
    if not isinstance(name, str) or not name.strip():
        raise RunError("a run's name must be some text")
    return save_run(session_dir, dict(load_run(session_dir, run_id), name=name.strip()))


def annotate_run(session_dir, run_id, note):
    """Set a run's note (free text; "" clears it); returns the record."""
    if not isinstance(note, str):
        raise RunError("a note must be text")
    return save_run(session_dir, dict(load_run(session_dir, run_id), note=note))


def delete_run(session_dir, run_id):
    """Remove a run's record (its curves and settings)."""
    path = _path(session_dir, run_id)
    if not path.exists():
        raise RunError(f"no run {run_id!r} in {session_dir}")
    path.unlink()


# -- tables -------------------------------------------------------------------------------
def run_settings(record):
    """A record's settings as ``{name: value}`` (``engine.settings.flat_settings``), the
    changes made while it ran applied."""
    from engine.runs.experiment import Experiment
    from engine.runs.settings import flat_settings
    flat = flat_settings(Experiment.from_json(record["experiment"]))
    for ch in record.get("changes", []):
        flat[ch["setting"]] = ch["to"]
    return flat


def diff_settings(records, only_different=False):
    """The settings of several runs side by side: a list of rows
    ``{"setting", "values" (one per record, None where a run has no such setting),
    "differs"}``, in the settings' order; ``only_different`` keeps the rows that differ."""
    flats = [run_settings(r) for r in records]
    keys = []
    for f in flats:
        keys.extend(k for k in f if k not in keys)
    rows = []
    for k in keys:
        values = [f.get(k) for f in flats]
        differs = any(v != values[0] for v in values[1:])
        if differs or not only_different:
            rows.append({"setting": k, "values": values, "differs": differs})
    return rows




def runs_csv(records, settings=None):
    """The records as CSV text: one row per run, ``CSV_COLUMNS`` then the settings that
    differ between the runs (or the ``settings`` named)."""
    if settings is None:
        settings = [row["setting"] for row in diff_settings(records, only_different=True)]
    rows = []
    for r in records:
        f = run_settings(r)
        m = r.get("metrics", {})
        row = {"id": r["id"], "name": r.get("name"), "created": r.get("created"),
               "status": r.get("status"), "examples_per_second": r.get("examples_per_second"),
               "wall_seconds": r.get("wall_seconds"), "note": r.get("note")}
        for k in ("test_accuracy", "validation_accuracy", "train_loss", "examples_seen", "epochs"):
            row[k] = m.get(k)
        rows.append([row[c] for c in CSV_COLUMNS] + [f.get(s) for s in settings])
    return csv_text(list(CSV_COLUMNS) + list(settings), rows)


def export_csv(records, path, settings=None):
    """Write ``runs_csv(records)`` to ``path`` (atomically)."""
    from engine.core.io import atomic_write_text
    atomic_write_text(path, runs_csv(records, settings))


# -- making a record ----------------------------------------------------------------------
class RunRecorder:
    """Builds a run's record from its reports (``observe``), plain data throughout.

    Parameters
    ----------
    run_id : str
    experiment : engine.experiment.Experiment
        The settings the run starts with.
    name : str, optional
    record : dict, optional
        An earlier record of the same run to go on with (a resumed run): its curves
        past ``examples_seen`` are dropped (they were trained after the checkpoint).
    examples_seen : int
        Where this stretch of training starts.
    """

    def __init__(self, run_id, experiment, name=None, record=None, examples_seen=0):
        if record is None:
            number = int(m.group(1)) if (m := re.fullmatch(r"run-(\d+)", run_id)) else None
            record = {"format": FORMAT, "id": run_id,
                      "name": name or (f"run {number}" if number else run_id), "note": "",
                      "created": now_iso(), "updated": now_iso(), "status": "running",
                      "message": None, "experiment": experiment.to_json(), "changes": [],
                      "curves": {"progress": {k: [] for k in ("examples_seen", "seconds")
                                              + PROGRESS_FIELDS},
                                 "eval": {k: [] for k in ("examples_seen", "seconds") + EVAL_FIELDS}},
                      "metrics": {}, "examples_per_second": None, "wall_seconds": 0.0,
                      "segments": []}
        else:
            record = json.loads(json.dumps(record))
            self._truncate(record, examples_seen)
            record["status"] = "running"
            record["message"] = None
            if name:
                record["name"] = name
        self.record = record
        self._seconds0 = float(record.get("wall_seconds") or 0.0)
        self._start = None
        self.record["segments"].append({"started": now_iso(), "examples_from": examples_seen,
                                        "examples_to": examples_seen, "seconds": 0.0})

    @staticmethod
    def _truncate(record, examples_seen):
        for curve in record["curves"].values():
            keep = sum(1 for e in curve["examples_seen"] if e <= examples_seen)
            for k in curve:
                del curve[k][keep:]
        record["changes"] = [c for c in record.get("changes", []) if c["examples_seen"] <= examples_seen]
        segs = [s for s in record.get("segments", []) if s["examples_from"] < examples_seen]
        if segs:
            last = segs[-1]
            if last["examples_to"] > examples_seen:
                # the time of the lost stretch is not known: keep it pro rata
                span = max(1, last["examples_to"] - last["examples_from"])
                last["seconds"] *= (examples_seen - last["examples_from"]) / span
                last["examples_to"] = examples_seen
        record["segments"] = segs
        record["wall_seconds"] = sum(s["seconds"] for s in segs)

    @property
    def id(self):
        return self.record["id"]

    def start(self):
        """The clock starts: call it just before the first batch (``Training.reports`` does;
        else it starts at the first report, and the first chunk's time is lost)."""
        import time
        if self._start is None:
            self._start = time.perf_counter()

    def seconds(self):
        """Training wall time of the whole run so far."""
        import time
        if self._start is None:
            return self._seconds0
        return self._seconds0 + time.perf_counter() - self._start

    def observe(self, report):
        """Add one of a ``Run``'s reports (progress and eval become curve points; done,
        stopped, diverged set the status)."""
        self.start()
        tag = report.get("tag")
        seen = int(report.get("examples_seen", 0))
        secs = self.seconds()
        rec = self.record
        seg = rec["segments"][-1]
        seg["examples_to"] = seen
        seg["seconds"] = secs - self._seconds0
        rec["wall_seconds"] = secs
        if secs > 0:
            done = sum(s["examples_to"] - s["examples_from"] for s in rec["segments"])
            rec["examples_per_second"] = done / secs if secs else None
        if tag == "progress":
            c = rec["curves"]["progress"]
            c["examples_seen"].append(seen)
            c["seconds"].append(round(secs, 3))
            for k in PROGRESS_FIELDS:
                c[k].append(clean(report.get(k)))
        elif tag == "eval":
            c = rec["curves"]["eval"]
            c["examples_seen"].append(seen)
            c["seconds"].append(round(secs, 3))
            for k in EVAL_FIELDS:
                c[k].append(clean(report.get(k)))
            if report.get("best"):
                rec["metrics"]["best_validation_accuracy"] = clean(report.get("validation_accuracy"))
                rec["metrics"]["best_examples_seen"] = seen
        elif tag in ("done", "stopped", "diverged"):
            rec["status"] = ("early stopped" if report.get("early_stopped")
                             else "not learning" if report.get("not_learning") else tag)
            rec["message"] = report.get("message")
        m = rec["metrics"]
        m["examples_seen"] = seen
        if "epoch" in report:
            m["epochs"] = clean(report["epoch"])
        if tag == "progress":
            m["train_loss"] = clean(report.get("cost_loss"))
            m["train_accuracy"] = clean(report.get("train_accuracy"))
        if tag == "eval":
            for k in EVAL_FIELDS:
                if report.get(k) is not None:
                    m[k] = clean(report[k])

    def note_change(self, setting, old, new, examples_seen):
        """A setting changed while the run went on (a marker on its curves)."""
        self.record["changes"].append({"examples_seen": int(examples_seen), "setting": setting,
                                       "from": clean(old), "to": clean(new)})

    def finish(self, status=None, **metrics):
        """Final metrics measured after the run (e.g. the whole test set's accuracy)."""
        self.record["metrics"].update(clean(metrics))
        if status is not None:
            self.record["status"] = status
        return self.record
