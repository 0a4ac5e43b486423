"""Runs kept: the app trains through the engine's ``Training``, as the CLI does (issue #15).

The run itself lives in ``workbench.state.training.TrainingModel`` (``session.training``): it
asks for an ``engine.session.Training`` around the live network and trainer, which records
the run (``engine.runs``), saves it to the session folder every ``save_every_seconds`` and
when it ends, and carries the coach (``engine.coach``). When a run stops, the model captures
where it is (``engine.checkpoint``: weights, the trainer's accumulators, the random
generators, the position in the epoch); Train goes on from exactly there, as ``train
--resume`` does, so that stopping and going on gives the weights of one run without a stop.
Settings changed in the meantime (or while it trains: ``forward_live_changes``) go through
``Training.change_settings``, which notes each change in the run's record (the markers on
its curves). A change that a running network cannot take (the validation split, the
data, the seed) starts the data order over on the same weights, in the same record.

What is here is plain data: the run options, what changed between two experiments, the
coach's fixes through the session's setters, reading a session folder's saved work, the
folder whose saves never end a run. They need no window and are tested through the session.
"""
import copy

import numpy as np

from engine.core.errors import EngineError
from engine.runs import checkpoint
from engine.runs.experiment import TRAINER_DEFAULTS, Experiment
from engine.runs.records import RunError, load_run
from engine.runs.settings import LIVE, flat_settings

#: How the app's runs report: a chunk about every 0.2 s, an evaluation on 1,000 validation
#: and test images every 10,000 examples (and on all of them at the end).
RUN_OPTIONS = {"chunk_seconds": 0.2, "eval_every": 10000, "eval_examples": 1000}

_MISSING = object()


def is_live(key):
    """Whether a running trainer takes setting ``key`` (``engine.settings`` names)."""
    return key in LIVE or key.startswith("schedule.")


def setting_changes(before, after):
    """``{setting: value}`` of experiment ``after`` that differ from ``before`` (the epochs,
    which each stretch of a run sets for itself, aside)."""
    a, b = flat_settings(before), flat_settings(after)
    return {k: v for k, v in b.items() if k != "epochs" and a.get(k, _MISSING) != v}


def apply_fix(s, fix):
    """One of the coach's fixes, through the session's setters (see ``Session.apply_fix``).
    True when every change was made."""
    done = True
    for key, value in fix["changes"].items():
        if isinstance(value, float):  # what the fix's label says (0.1 * 0.1 is not quite 0.01)
            value = float(f"{value:.6g}")
        if key == "learning_rate":
            s.set_learning_rate(value)
        elif key in TRAINER_DEFAULTS:
            s.set_trainer_option(key, value)
        elif key in ("augment.shift", "augment.flip"):
            s.set_augment(**{key.split(".", 1)[1]: value})
        elif key.startswith("layers.") and key.count(".") == 2:
            _, index, option = key.split(".")
            before = s.doc.layers
            s.doc.set_property(int(index), option, value)  # an edit: a running run stops first
            done &= s.doc.layers != before
        else:
            done = False
    return done


def read_saved(folder):
    """What an engine session folder saved, read and checked (nothing built yet): a dict with
    ``app`` (the app's state, or {}), ``checkpoint`` (or None), ``net_experiment`` (the
    weights'), ``experiment`` (the settings to show), ``data_path`` (normalised; None: the
    bundled MNIST) and ``record`` (the run the checkpoint is of, or None); None when the
    folder holds nothing to restore. Raises EngineError when it cannot be read."""
    from workbench.tasks.data import normalize_path
    info = folder.info
    app = info.get("app") if isinstance(info.get("app"), dict) else {}
    ck = folder.checkpoint()
    if ck is None and not app.get("experiment"):
        return None
    ck_exp = checkpoint.experiment_of(ck) if ck is not None else Experiment.from_json(app["experiment"])
    exp = Experiment.from_json(app["experiment"]) if app.get("experiment") else ck_exp
    record = None
    run_id = (ck["info"].get("extra") or {}).get("run") if ck is not None else None
    if run_id:
        try:
            record = load_run(folder.path, run_id)
        except RunError:
            record = None
    return {"app": app, "checkpoint": ck, "net_experiment": ck_exp, "experiment": exp,
            "data_path": normalize_path(exp.data), "record": record, "path": str(folder.path),
            "fingerprint": ((ck["info"].get("extra") or {}).get("data") if ck is not None else None)
            or info.get("data")}


def saved_work(saved, dataset):
    """``(keepsake, last)`` of ``read_saved``'s dict on ``dataset`` (its data, loaded), for
    ``AppSession.restore`` and ``TrainingModel.go_on_from`` (None when there is no run to go on
    with). Raises EngineError when the weights were trained on other images."""
    app, ck, ck_exp, exp = saved["app"], saved["checkpoint"], saved["net_experiment"], saved["experiment"]
    net = run = None
    if ck is not None:
        fp = saved["fingerprint"]
        if fp and fp != checkpoint.data_fingerprint(dataset):
            raise EngineError(f"{saved['path']}: its weights were trained on other images than "
                              f"{dataset.name} (its data's fingerprint {fp})")
        net = ck_exp.build_net(dtype=np.dtype(ck["info"].get("dtype", "float32")))
        checkpoint.apply(ck, net)
        run = ck["info"].get("run")
    seen = run["examples_seen"] if run else int(app.get("examples_seen") or 0)
    layers = app.get("layers")
    if not (isinstance(layers, list) and layers and all(isinstance(d, dict) for d in layers)):
        layers = copy.deepcopy(ck_exp.layer_defs)  # the app's part of the file is not usable
    path = app.get("path") if isinstance(app.get("path"), str) else None
    keepsake = {"experiment": exp, "layers": layers,
                "name": str(app.get("name") or ck_exp.name), "path": path, "dataset": dataset,
                "net": net, "loaded": bool(app.get("loaded", False)),
                "net_layers": copy.deepcopy(ck_exp.layer_defs), "examples_seen": seen,
                "modified": bool(app.get("modified", True)), "data_path": saved["data_path"],
                "validation_wanted": exp.validation, "validation_note": None}
    last = None
    if run is not None:
        last = {"run_id": None, "experiment": ck_exp, "record": saved["record"], "checkpoint": ck,
                "examples_seen": seen}
    return keepsake, last


def record_view(rec):
    """A copy of a record that a training thread may be adding to, its curves' columns of one
    length (for the table and the plots)."""
    for _ in range(5):
        try:
            out = dict(rec)
            out["metrics"] = dict(rec.get("metrics") or {})
            out["changes"] = [dict(c) for c in rec.get("changes") or []]
            out["segments"] = [dict(x) for x in rec.get("segments") or []]
            curves = {}
            for name, cols in list((rec.get("curves") or {}).items()):
                cols = {k: list(v) for k, v in list(cols.items())}
                n = min(map(len, cols.values()), default=0)
                curves[name] = {k: v[:n] for k, v in cols.items()}
            out["curves"] = curves
            return out
        except RuntimeError:  # a dict grew while copied: again
            continue
    return dict(rec)


class KeptFolder:
    """An engine session folder as a ``Training`` uses it, whose saves never end a run: a
    save that fails (a full disk, a folder removed) is kept in ``error`` and training goes
    on. Everything else is the folder's (``engine.session.Session``)."""

    def __init__(self, folder):
        self.folder = folder
        self.error = None

    def __getattr__(self, name):
        return getattr(self.folder, name)

    def _safely(self, fn, *args):
        try:
            fn(*args)
            self.error = None
        except (OSError, EngineError, ValueError) as e:
            self.error = f"{type(e).__name__}: {e}" if isinstance(e, ValueError) else str(e)

    def commit(self, *args):
        self._safely(self.folder.commit, *args)

    def save_record(self, record):
        self._safely(self.folder.save_record, record)

    def save_best(self, *args):
        self._safely(self.folder.save_best, *args)
