"""Sweeps: an experiment trained over a grid, or a random sample, of settings.

Any setting ``engine.settings`` names can be swept: the learning rate, batch size,
method, decay, momentum, schedule, augmentation, and any layer option
(``layers.1.filters``). Each run is a session of its own (``DIR/run-001/`` ...: its
weights, record and curves, resumable), and ``DIR/runs.csv`` gets one row per run as
soon as it ends: the swept settings, ``test_accuracy``, ``val_accuracy``, ``seconds``
(the run's training wall time), then ``examples_per_second``, ``status`` and the run's
folder. ``seconds`` and ``examples_per_second`` are the run record's ``wall_seconds`` and
``examples_per_second`` (``engine.runs``: examples trained over the wall time from the
first batch to the last report), the figures the app's runs table shows.

    plan = grid_settings(parse_settings(["learning_rate=0.003,0.01", "method=adadelta,sgd"]))
    rows = run_sweep(base_experiment, plan, dataset, "sweep/", progress=..., cancelled=...)

``random_settings(parse_ranges([...]), n, seed)`` samples instead: a range ``lo:hi``
is drawn log-uniformly when both ends are above 0 and a decade or more apart (as a
learning rate or a decay should be), uniformly otherwise, and as whole numbers when
both ends are whole numbers; a list ``a,b,c`` is a choice.
"""
import csv
import io
import itertools
import math
import pathlib

import numpy as np

from .errors import EngineError
from .experiment import ExperimentError
from .settings import canonical, parse_value, with_settings

RESULT_COLUMNS = ("test_accuracy", "val_accuracy", "seconds")
EXTRA_COLUMNS = ("examples_per_second", "status", "session")


def _split_setting(text):
    if not isinstance(text, str) or "=" not in text:
        raise ExperimentError(f"sweep: expected SETTING=VALUES, got {text!r}")
    key, values = text.split("=", 1)
    key = key.strip()
    canonical(key)  # a name that is not a setting: said now
    if not values.strip():
        raise ExperimentError(f"sweep: {key} has no values")
    return key, values


def parse_settings(items):
    """``["learning_rate=0.003,0.01", "method=adadelta,sgd"]`` -> ``{key: [values]}``."""
    out = {}
    for item in items:
        key, values = _split_setting(item)
        if key in out:
            raise ExperimentError(f"sweep: {key} is given twice")
        out[key] = [parse_value(v.strip()) for v in values.split(",")]
    return out


def parse_ranges(items):
    """``["learning_rate=1e-4:1e-1", "method=sgd,adam"]`` -> ``{key: spec}`` where a spec is
    ``{"choice": [values]}`` or ``{"low", "high", "log", "whole"}``."""
    out = {}
    for item in items:
        key, values = _split_setting(item)
        if key in out:
            raise ExperimentError(f"sweep: {key} is given twice")
        if ":" in values:
            lo_text, _, hi_text = values.partition(":")
            lo, hi = parse_value(lo_text.strip()), parse_value(hi_text.strip())
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                       for v in (lo, hi)) or not lo < hi:
                raise ExperimentError(f"sweep: the range of {key} must be LOW:HIGH with LOW < HIGH, "
                                      f"got {values!r}")
            whole = isinstance(lo, int) and isinstance(hi, int)
            out[key] = {"low": lo, "high": hi, "log": lo > 0 and hi / lo >= 10, "whole": whole}
        else:
            out[key] = {"choice": [parse_value(v.strip()) for v in values.split(",")]}
    return out


def grid_settings(grid):
    """Every combination of ``{key: [values]}``, in order (the last key varies fastest)."""
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def random_settings(ranges, n, seed=0):
    """``n`` settings drawn from ``parse_ranges``' specs (floats to 3 significant digits)."""
    if n < 1:
        raise ExperimentError(f"sweep: --random needs at least 1 run, got {n}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s = {}
        for key, spec in ranges.items():
            if "choice" in spec:
                s[key] = spec["choice"][int(rng.integers(len(spec["choice"])))]
                continue
            lo, hi = spec["low"], spec["high"]
            if spec["log"]:
                v = math.exp(rng.uniform(math.log(lo), math.log(hi)))
            else:
                v = rng.uniform(lo, hi)
            s[key] = int(round(v)) if spec["whole"] else float(f"{v:.3g}")
        out.append(s)
    return out


def check_plan(experiment, plan):
    """The experiments of a plan (a list of settings dicts), every one checked before any
    training: ExperimentError or SpecError naming the run and the setting at fault."""
    out = []
    for i, s in enumerate(plan):
        try:
            out.append(with_settings(experiment, s))
        except EngineError as e:
            what = ", ".join(f"{k}={v}" for k, v in s.items())
            raise type(e)(f"sweep run {i + 1} ({what}): {e}") from None
    return out


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, str):
        from .io import csv_text
        return csv_text(v)  # a note or a name from a file: never a formula
    return str(v)


def rows_csv(rows, keys):
    """The CSV text of ``runs.csv``: the swept settings, the results, the extras."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["run", *keys, *RESULT_COLUMNS, *EXTRA_COLUMNS])
    for r in rows:
        w.writerow([r["run"], *[_cell(r["settings"].get(k)) for k in keys],
                    *[_cell(r.get(c)) for c in RESULT_COLUMNS + EXTRA_COLUMNS]])
    return buf.getvalue()


#: A run of a sweep reports at least this many times (points of its curves), however short.
POINTS = 30


def run_sweep(experiment, plan, dataset, out, epochs=None, progress=None, cancelled=None,
              threads=None, save_every_seconds=60.0, points=POINTS):
    """Train ``experiment`` once per settings dict of ``plan``, one after another.

    Parameters
    ----------
    experiment : engine.experiment.Experiment
        Every run starts from the same weights and data order: its seed, else 0 (the
        CLI's and the app's sweeps alike; unseeded runs would differ by their start).
    plan : list of dict
        Settings per run (``grid_settings``, ``random_settings``, or any list).
    dataset : engine.data.Dataset
    out : path
        A new (or empty) folder: ``runs.csv`` and one session folder per run.
    epochs : float, optional
        Each run's length (default: the experiment's).
    progress : callable(event), optional
        Called on this thread with plain dicts: ``{"tag": "report", "index", "runs",
        "settings", "report", "fraction"}`` for each of a run's reports, and ``{"tag":
        "result", "index", "runs", "row", "fraction"}`` when a run ends (``fraction``: of
        the whole sweep, for a progress bar).
    points : int
        Each run reports (a point of its record's curves) at every ``1/points`` of its
        length, and at least every ``Run.chunk_seconds`` (0.2 s) as any run does.
    cancelled : callable() -> bool, optional
        Checked between chunks; the run going on is stopped (its row says ``stopped``)
        and no other starts. Unlike ``engine.tasks`` computations a cancelled sweep
        returns (its rows and sessions are results already written).

    Returns
    -------
    list of dict
        One row per run: ``run`` (its folder's name), ``settings``, ``test_accuracy``,
        ``val_accuracy``, ``seconds``, ``examples_per_second``, ``status``, ``session``.
    """
    from .data import accuracy
    from .io import atomic_write_text
    from .session import Session
    if epochs is not None:
        experiment = experiment.replace(epochs=epochs)
    if experiment.seed is None:
        experiment = experiment.replace(seed=0)
    exps = check_plan(experiment, plan)
    out = pathlib.Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExperimentError(f"{out}: the folder exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    keys = []
    for s in plan:
        keys.extend(k for k in s if k not in keys)
    rows = []
    for i, (settings, exp) in enumerate(zip(plan, exps)):
        if cancelled is not None and cancelled():
            break
        name = f"run-{i + 1:03d}"
        label = " ".join(f"{k}={v}" for k, v in settings.items())
        session = Session.create(out / name, exp)
        n_train = len(exp.splits(dataset)[0])
        training = session.start(dataset, exp, name=label or name, test=False, eval_examples=None,
                                 eval_every=max(1, n_train), threads=threads,
                                 report_every=max(1, math.ceil(exp.epochs * n_train / max(1, points))),
                                 save_every_seconds=save_every_seconds)
        last = None
        for r in training.reports():
            last = r
            if progress is not None:
                frac = (i + min(1.0, r["epoch"] / max(exp.epochs, 1e-12))) / len(plan)
                progress({"tag": "report", "index": i, "runs": len(plan), "settings": settings,
                          "report": r, "fraction": frac})
            if cancelled is not None and cancelled():
                training.run.stop()
        run = training.run
        test_acc = accuracy(training.net, dataset.test) if len(dataset.test) else None
        val_acc = accuracy(training.net, run.validation) if run.validation is not None else None
        record = training.finish(test_accuracy=test_acc, validation_accuracy=val_acc)
        speed = record.get("examples_per_second")
        row = {"run": name, "settings": settings, "test_accuracy": test_acc, "val_accuracy": val_acc,
               "seconds": round(record.get("wall_seconds") or 0.0, 3),
               "examples_per_second": None if speed is None else round(speed, 1),
               "status": training.record["status"] if last is not None else "stopped",
               "session": str(out / name)}
        rows.append(row)
        atomic_write_text(out / "runs.csv", rows_csv(rows, keys))
        if progress is not None:
            progress({"tag": "result", "index": i, "runs": len(plan), "row": row,
                      "fraction": (i + 1) / len(plan)})
    if not rows:
        atomic_write_text(out / "runs.csv", rows_csv(rows, keys))
    return rows
