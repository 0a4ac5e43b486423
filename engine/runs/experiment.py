"""An experiment: everything that defines a training run, as one object that round-trips through JSON.

The network (``layer_defs``), the trainer's options, the learning-rate schedule,
augmentation, the data, the validation split, the number of epochs and the seed.
Presets are files of it; the CLI, the app and the exports read and write it, so a
setting is never dropped on the way (``Experiment.from_json(e.to_json()) == e``).

    exp = Experiment.load("resources/presets/convnetjs-demo.json")
    net = exp.build_net()
    run = make_run(exp, net, exp.build_trainer(net), exp.load_data())  # engine.training
    for report in run.reports(): ...
"""
import copy
import inspect
import json
import math
import numbers
import os
import pathlib
from dataclasses import dataclass, field

import numpy as np

from engine.core.errors import OptionError, SpecError
from engine.core.schedules import KINDS, Schedule
from engine.core.trainer import Trainer, check_options

FORMAT = "convnet-workbench experiment"

#: Trainer options with their defaults, from ``Trainer``'s signature (the one place they are set).
TRAINER_DEFAULTS = {k: p.default for k, p in inspect.signature(Trainer.__init__).parameters.items()
                    if p.default is not inspect.Parameter.empty}

#: Schedule settings with their defaults (``base`` and ``total`` are filled in when a run starts).
SCHEDULE_DEFAULTS = {"kind": "constant", "base": None, "factor": 0.1, "every": 60000, "total": None,
                     "minimum": 0.0}

AUGMENT_DEFAULTS = {"crop": None, "shift": 0, "flip": False}


class ExperimentError(SpecError):
    """An experiment file or setting that is malformed or out of range."""


def _number(value, what, minimum=None, maximum=None, integer=False, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ExperimentError(f"{what} must be a {'whole ' if integer else ''}number, got {value!r}")
    if integer:
        if value != int(value):
            raise ExperimentError(f"{what} must be a whole number, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    if minimum is not None and value < minimum:
        raise ExperimentError(f"{what} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ExperimentError(f"{what} must be at most {maximum}, got {value}")
    return value


def _check_trainer(opts):
    if not isinstance(opts, dict):
        raise ExperimentError(f"'trainer' must be an object of trainer options, got {type(opts).__name__}")
    unknown = sorted(set(opts) - set(TRAINER_DEFAULTS))
    if unknown:
        raise ExperimentError(f"trainer: unknown option {unknown[0]!r} "
                              f"(known: {', '.join(TRAINER_DEFAULTS)})")
    out = dict(TRAINER_DEFAULTS)
    out.update(opts)
    try:  # the trainer's own rules, said once (engine.trainer.check_options)
        check_options(out)
    except OptionError as e:
        raise ExperimentError(str(e)) from None
    out["batch_size"] = int(out["batch_size"])
    for key in TRAINER_DEFAULTS:
        if key not in ("method", "batch_size"):
            out[key] = float(out[key])
    return out


def _check_schedule(opts):
    if opts is None:
        return None
    if not isinstance(opts, dict):
        raise ExperimentError(f"'schedule' must be an object (kind and settings) or null, "
                              f"got {type(opts).__name__}")
    unknown = sorted(set(opts) - set(SCHEDULE_DEFAULTS))
    if unknown:
        raise ExperimentError(f"schedule: unknown setting {unknown[0]!r} "
                              f"(known: {', '.join(SCHEDULE_DEFAULTS)})")
    out = dict(SCHEDULE_DEFAULTS)
    out.update(opts)
    if out["kind"] not in KINDS:
        raise ExperimentError(f"schedule: unknown kind {out['kind']!r} (known: {', '.join(KINDS)})")
    if out["kind"] == "constant":
        return None
    out["base"] = _number(out["base"], "schedule: 'base'", 0, allow_none=True)
    out["factor"] = _number(out["factor"], "schedule: 'factor'", 0)
    out["every"] = _number(out["every"], "schedule: 'every'", 1, integer=True)
    out["total"] = _number(out["total"], "schedule: 'total'", 1, integer=True, allow_none=True)
    out["minimum"] = _number(out["minimum"], "schedule: 'minimum'", 0)
    try:  # the schedule's own checks (factor in (0, 1], ...)
        Schedule(out["kind"], base=out["base"] or 0.0, factor=out["factor"], every=out["every"],
                 total=out["total"] or 1, minimum=out["minimum"])
    except ValueError as e:
        raise ExperimentError(str(e)) from None
    return out


def _check_augment(opts):
    if opts is None:
        opts = {}
    if not isinstance(opts, dict):
        raise ExperimentError(f"'augment' must be an object, got {type(opts).__name__}")
    unknown = sorted(set(opts) - set(AUGMENT_DEFAULTS))
    if unknown:
        raise ExperimentError(f"augment: unknown setting {unknown[0]!r} "
                              f"(known: {', '.join(AUGMENT_DEFAULTS)})")
    out = dict(AUGMENT_DEFAULTS)
    out.update(opts)
    out["crop"] = _number(out["crop"], "augment: 'crop'", 1, 4096, integer=True, allow_none=True)
    out["shift"] = _number(out["shift"], "augment: 'shift'", 0, 64, integer=True)
    if not isinstance(out["flip"], bool):
        raise ExperimentError(f"augment: 'flip' must be true or false, got {out['flip']!r}")
    return out


@dataclass
class Experiment:
    """A network and how to train it.

    Attributes
    ----------
    layer_defs : list of dict
        ConvNetJS ``layer_defs`` (an input layer first, a loss layer last).
    name, description : str
    trainer : dict
        Every ``engine.Trainer`` option (defaults filled in).
    schedule : dict or None
        None for a constant learning rate; else ``kind`` (step, exponential, cosine)
        and its settings. ``base`` None means the trainer's learning rate, ``total``
        None means the whole run (epochs times the training images).
    augment : dict
        ``crop`` (pixels; None: the network's input size when the images are
        larger), ``shift`` (pixels), ``flip``.
    data : str or None
        Where the images come from: None for the bundled MNIST, else a path in any format
        ``engine.datasets.load`` reads. Files hold it relative to their own folder when the
        data lies inside it (``load``/``save``; see ``data_for_file``).
    validation : int
        Training images held out to measure validation accuracy.
    epochs : float
        Passes over the training images.
    seed : int or None
        Seed of the initial weights, the data order and augmentation (None: random).
    """

    layer_defs: list
    name: str = "Untitled"
    description: str = ""
    trainer: dict = field(default_factory=lambda: dict(TRAINER_DEFAULTS))
    schedule: dict = None
    augment: dict = field(default_factory=lambda: dict(AUGMENT_DEFAULTS))
    data: str = None
    validation: int = 5000
    epochs: float = 1.0
    seed: int = None

    def __post_init__(self):
        self.check()

    def check(self):
        """Validate and normalise every field in place (defaults filled in); raises ExperimentError."""
        if not isinstance(self.layer_defs, list):
            raise ExperimentError("'layer_defs' must be a list of layer definitions")
        if not all(isinstance(d, dict) for d in self.layer_defs):
            raise ExperimentError("every layer definition must be a JSON object")
        self.layer_defs = copy.deepcopy(self.layer_defs)
        if not isinstance(self.name, str):
            raise ExperimentError(f"'name' must be text, got {type(self.name).__name__}")
        if not isinstance(self.description, str):
            raise ExperimentError(f"'description' must be text, got {type(self.description).__name__}")
        self.trainer = _check_trainer(self.trainer)
        self.schedule = _check_schedule(self.schedule)
        self.augment = _check_augment(self.augment)
        if self.data is not None and not isinstance(self.data, str):
            raise ExperimentError(f"'data' must be a path or null, got {type(self.data).__name__}")
        self.validation = _number(self.validation, "'validation'", 0, 10 ** 9, integer=True)
        self.epochs = _number(self.epochs, "'epochs'", 0, 10 ** 6)
        if self.epochs <= 0:
            raise ExperimentError(f"'epochs' must be above 0, got {self.epochs:g}")
        self.seed = _number(self.seed, "'seed'", 0, 2 ** 63 - 1, integer=True, allow_none=True)
        return self

    # -- JSON ------------------------------------------------------------------------
    def to_json(self):
        """A plain dict (the file format); ``from_json`` gives back an equal Experiment."""
        return {"format": FORMAT, "name": self.name, "description": self.description,
                "layer_defs": copy.deepcopy(self.layer_defs), "trainer": dict(self.trainer),
                "schedule": None if self.schedule is None else dict(self.schedule),
                "augment": dict(self.augment), "data": self.data, "validation": self.validation,
                "epochs": self.epochs, "seed": self.seed}

    @classmethod
    def from_json(cls, obj, name=None):
        """From a dict (an experiment or preset file), or a bare list of layer definitions.

        ``format`` and ``weights`` (see ``load_experiment``) may be present; any other key
        that is not a field is an error, so that a misspelt setting is never ignored.
        """
        if isinstance(obj, list):
            obj = {"layer_defs": obj}
        if isinstance(obj, dict) and "layer_defs" not in obj and isinstance(obj.get("layers"), list):
            raise ExperimentError("this is a snapshot (trained weights), not an experiment: "
                                  "it has 'layers' but no 'layer_defs'")
        if not isinstance(obj, dict) or not isinstance(obj.get("layer_defs"), list):
            raise ExperimentError("expected a list of layer definitions or an object with 'layer_defs'")
        if obj.get("format", FORMAT) != FORMAT:
            raise ExperimentError(f"'format' is {obj['format']!r}, not {FORMAT!r}")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(obj) - known - {"format", "weights"})
        if unknown:
            raise ExperimentError(f"unknown setting {unknown[0]!r} (known: {', '.join(known)})")
        kwargs = {k: v for k, v in obj.items() if k in known}
        if name is not None and "name" not in kwargs:
            kwargs["name"] = name
        return cls(**kwargs)

    def to_text(self, weights=None):
        """The JSON text of a file, one layer definition per line; ``weights`` (a ConvNetJS
        snapshot object, ``net.to_json()``) goes last, on one line, under ``"weights"``."""
        j = self.to_json()
        layers = j.pop("layer_defs")
        body = json.dumps(j, indent=1)
        defs = ",\n".join("  " + json.dumps(d) for d in layers)
        tail = "" if weights is None else ',\n "weights": ' + json.dumps(weights)
        return body[:-2] + ',\n "layer_defs": [\n' + defs + "\n ]" + tail + "\n}\n"

    @classmethod
    def load(cls, path):
        """Read an experiment, preset or spec file."""
        from engine.core.io import read_json
        path = pathlib.Path(path)
        obj = read_json(path, ExperimentError)
        try:
            exp = cls.from_json(obj, name=path.stem)
        except ExperimentError as e:
            raise ExperimentError(f"{path.name}: {e}", e.layer_index) from None
        exp.data = data_from_file(exp.data, path.parent)
        return exp

    def save(self, path):
        """Write atomically (a temporary file renamed into place); ``data`` inside the file's
        folder is written relative to it (see ``data_for_file``)."""
        from engine.core.io import atomic_write_text
        atomic_write_text(path, self.for_file(path).to_text())

    def for_file(self, path):
        """This experiment as a file at ``path`` stores it: ``data`` relative to the file's
        folder when it lies inside it (see ``data_for_file``)."""
        data = data_for_file(self.data, pathlib.Path(path).parent)
        return self if data == self.data else self.replace(data=data)

    def replace(self, **changes):
        """A copy with some fields changed (checked)."""
        j = self.to_json()
        j.update(changes)
        return Experiment.from_json(j)

    @property
    def data_name(self):
        """The dataset in a word, for people: "MNIST" (bundled), else the path's name."""
        return "MNIST" if self.data is None else (pathlib.Path(self.data).name or str(self.data))

    def misfit(self, net):
        """Why ``net``'s layers are not this experiment's network (a sentence), or None.

        Compares type, output volume and parameter count of every expanded layer.
        """
        from engine.core.spec import infer_shapes
        try:
            want = infer_shapes(self.layer_defs)
        except SpecError as e:
            return f"the experiment's network is invalid ({e})"
        have = net.layers
        if len(want) != len(have):
            return f"the experiment's network has {len(want)} layers, the weights {len(have)}"
        for i, (w, h) in enumerate(zip(want, have)):
            if (w["type"], w["out_sx"], w["out_sy"], w["out_depth"], w["params"]) != \
                    (h.layer_type, h.out_sx, h.out_sy, h.out_depth, h.n_params):
                return (f"layer {i}: the experiment has {w['description']} giving "
                        f"{w['out_sx']}x{w['out_sy']}x{w['out_depth']}, the weights {h.describe()} "
                        f"giving {h.out_sx}x{h.out_sy}x{h.out_depth}")
        return None

    # -- what a run is made of (the one place that assembles it) ------------------------
    def build_net(self, dtype=np.float32, seed=None, **kwargs):
        from engine.core.net import Net
        return Net(self.layer_defs, dtype=dtype, seed=self.seed if seed is None else seed, **kwargs)

    def build_trainer(self, net):
        return Trainer(net, **self.trainer)

    def build_schedule(self, n_train):
        """The learning-rate Schedule for ``n_train`` training images, or None."""
        if self.schedule is None:
            return None
        s = dict(self.schedule)
        if s["base"] is None:
            s["base"] = self.trainer["learning_rate"]
        if s["total"] is None:
            s["total"] = max(1, int(round(self.epochs * n_train)))
        return Schedule.from_dict(s)

    def build_augment(self, net, image_shape):
        """Augmentation for images of ``image_shape`` (H, W, C) feeding ``net``."""
        from engine.data.containers import Augment
        sy = net.input_shape[0]
        crop = self.augment["crop"]
        if crop is None:
            crop = sy if image_shape[0] > sy else None
        return Augment(crop=crop, shift=self.augment["shift"], flip=self.augment["flip"])

    def load_data(self, progress=None, cancelled=None):
        """The dataset this experiment trains on, in any format ``engine.datasets.load`` reads.

        ``progress(done, total)`` and ``cancelled()`` are passed on (see ``engine.datasets.load``).
        """
        from engine.data.formats import load
        return load(self.data, progress=progress, cancelled=cancelled)

    def splits(self, dataset):
        """``(train, validation)`` ImageSets (validation None when ``validation`` is 0)."""
        from engine.data.containers import split_validation
        if not self.validation:
            return dataset.train, None
        return split_validation(dataset.train, self.validation, seed=0)

    def validation_for(self, n_train):
        """``(validation, note)``: the experiment's validation size, or a fifth of a dataset
        too small for it (the default of 5,000 would leave a small dataset nothing to train
        on) with a note that says so."""
        if self.validation < n_train // 2 or self.validation == 0:
            return self.validation, None
        v = n_train // 5
        return v, (f"holding out {v:,} of the {n_train:,} training images for validation "
                   f"(a fifth; {self.validation:,} would leave too few to train on)")


def save_experiment(exp, path, net=None):
    """Write ``exp`` to ``path`` (atomically), with ``net``'s trained weights if given.

    The weights are a ConvNetJS snapshot object under ``"weights"``; ``load_experiment``
    reads them back, and so do ``engine.snapshots.load_trained`` and the CLI's ``eval``.
    """
    from engine.core.io import atomic_write_text
    if net is not None:
        reason = exp.misfit(net)
        if reason:
            raise ExperimentError(f"the weights do not fit the experiment: {reason}")
    atomic_write_text(path, exp.for_file(path).to_text(None if net is None else net.to_json()))


def load_experiment(path, dtype=np.float32):
    """``(experiment, net or None)`` from an experiment file (``net``: its ``"weights"``).

    Raises ExperimentError (a SpecError) for a bad file, SnapshotError for bad weights or
    weights that do not fit the experiment's network; each message names the file.
    """
    from engine.core.io import read_json
    path = pathlib.Path(path)
    return experiment_from_file_object(read_json(path, ExperimentError), path, dtype)


def experiment_from_file_object(obj, path, dtype=np.float32):
    """``load_experiment`` for the parsed JSON ``obj`` of the file at ``path``."""
    from engine.core.errors import SnapshotError
    from engine.core.net import Net
    path = pathlib.Path(path)
    try:
        exp = Experiment.from_json(obj, name=path.stem)
    except ExperimentError as e:
        raise ExperimentError(f"{path.name}: {e}", e.layer_index) from None
    exp.data = data_from_file(exp.data, path.parent)
    weights = obj.get("weights")
    if weights is None:
        return exp, None
    try:
        net = Net.from_json(weights, dtype=dtype)
    except SnapshotError as e:
        raise SnapshotError(f"{path.name}: weights: {e}") from None
    reason = exp.misfit(net)
    if reason:
        raise SnapshotError(f"{path.name}: the weights do not fit the experiment: {reason}")
    return exp, net


# -- where the data is, for a file ------------------------------------------------------------
# An experiment file (or a snapshot carrying its experiment) may name its data relative to
# the file's own folder, so that a folder holding both can be moved or shared as a whole.
# In memory ``data`` is a path as the process sees it (absolute, or relative to the working
# directory, as ``--data`` gives it); files hold a relative path when the data lies inside
# the file's folder, else the absolute path.

def _data_parts(data, folder=None):
    """``data`` as its paths: one, or an IDX pair written "images,labels"."""
    whole = pathlib.Path(os.path.expanduser(data))
    if folder is not None and not whole.is_absolute():
        whole = pathlib.Path(folder) / whole
    if "," in data and not whole.exists():
        return [p.strip() for p in data.split(",", 1)]
    return [data]


def data_from_file(data, folder):
    """A file's ``data`` as an absolute path: a relative one is taken relative to the file's
    ``folder`` (None is kept)."""
    if data is None:
        return None
    out = []
    for part in _data_parts(data, folder):
        p = pathlib.Path(os.path.expanduser(part))
        out.append(os.path.abspath(p if p.is_absolute() else pathlib.Path(folder) / p))
    return ",".join(out)


def data_for_file(data, folder):
    """``data`` as a file in ``folder`` stores it: relative to ``folder`` (with "/") when it
    lies inside it, else absolute. None is kept."""
    if data is None:
        return None
    base = os.path.abspath(folder)
    out = []
    for part in _data_parts(data):
        p = os.path.abspath(os.path.expanduser(part))
        try:
            inside = os.path.commonpath([p, base]) == base
        except ValueError:  # another drive
            inside = False
        out.append(pathlib.Path(os.path.relpath(p, base)).as_posix() if inside else p)
    return ",".join(out)


def preset_names():
    """The bundled presets' names (file stems, e.g. ``convnetjs-demo``)."""
    from engine.runs.presets import list_presets
    return list(list_presets())


def preset(name):
    """A bundled preset as an Experiment (or any experiment file, by path)."""
    from engine.runs.presets import list_presets
    presets = list_presets()
    if name in presets:
        return Experiment.load(presets[name])
    path = pathlib.Path(name)
    if path.exists():
        return Experiment.load(path)
    raise ExperimentError(f"unknown preset '{name}' (bundled: {', '.join(presets)})")
