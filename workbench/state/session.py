"""The session: one owner for everything the app works on.

It holds the experiment's settings (``engine.experiment.Experiment``), the document
being edited (``NetworkDocument``, with its undo stack), the one live network and
its trainer, and the ``Weights`` it publishes; and it owns the models for the rest,
each with its own signals and public methods: ``data`` (the dataset in use and loads of
another), ``training`` (Train, Pause, Step, Stop, the run and its thread, where the last
run stopped, the folder runs are kept in), ``predictions`` (Inspect, Draw, the gallery,
Evaluate), ``understanding`` and ``teaching``.

Views take the session in their constructors, connect its signals and its models' to their
own update methods, and change things only by calling public methods. Background work
never touches the live network: it reads ``Weights``, an immutable copy the
session publishes (``weightsChanged``) when the network is replaced, about once a
second while training, and when a run ends.
"""
import copy
import logging

from PySide6.QtCore import QObject, Signal

import engine
from engine.data import formats as datasets
from engine.runs.experiment import Experiment
from workbench.state import runs_kept
from workbench.state.data import Data
from workbench.state.document import NetworkDocument
from workbench.state.predictions import Predictions
from workbench.state.training import TrainingModel
from workbench.state.understanding import Understanding
from workbench.state.weights import Weights
from workbench.tasks import data as datatasks

log = logging.getLogger(__name__)

#: What "New network" starts from.
NEW_NETWORK = [{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1},
               {"type": "softmax", "num_classes": 10}]


class AppSession(QObject):
    """The experiment, the document and the weights, and the models of the rest (see the module).

    Parameters
    ----------
    dataset : engine.data.Dataset
        The images to train on (the experiment's ``data``; None there means this one).
    experiment : Experiment, optional
        The settings to start with (its layers are loaded into the document).

    Signals
    -------
    settingsChanged : a setting of the experiment other than the layers changed
    weightsChanged(object) : new ``Weights`` were published
    runStarted(int) : the weights were replaced (a new network, a snapshot, a reset)
    problem(str, str) : title and text of something the user must be told

    Each model has its own signals: ``data`` (another dataset in use, a load's progress and
    end), ``training`` (reports, running, paused, finished), ``predictions``,
    ``understanding``, ``teaching``. The session hears ``data``'s before any place does (it
    connects first), so a place told of another dataset finds the settings fitted to it.
    """

    settingsChanged = Signal()
    weightsChanged = Signal(object)
    runStarted = Signal(int)
    problem = Signal(str, str)

    def __init__(self, dataset, experiment=None, parent=None):
        super().__init__(parent)
        self.doc = NetworkDocument(parent=self)
        self._exp = Experiment([])
        self._settings_modified = False
        self._net = None             # the live network, of the structure _net_layers
        self._net_layers = None
        self._loaded = False         # its weights came trained (a snapshot)
        self._kept = None            # trained weights of another structure, back on undo
        self._weights_unsaved = False  # the live weights were trained since they were opened or saved
        self.trainer = None
        self.run_id = 0
        self.examples_seen = 0
        self.weights = None
        #: Train, Pause, Step, Stop; the run going on and its thread, where the last one
        #: stopped, the folder runs are kept in (``workbench.state.training``).
        self.training = TrainingModel(self)
        self.doc.edit_guard = self.training.may_stop
        self._init_dataset(dataset)
        #: Inspect, Draw, the gallery and Evaluate: questions asked of the latest weights.
        self.predictions = Predictions(self)
        #: Explanations, unit images and the embedding map (issue #14), in their own jobs.
        self.understanding = Understanding(self)
        #: The learner's own examples and teaching with them (issue #25).
        from workbench.state.teaching import Teaching
        self.teaching = Teaching(self)
        self.doc.changed.connect(self._sync_network)
        self.problem.connect(lambda title, text: log.warning("%s: %s", title, text))  # what the user was told
        if experiment is not None:
            self.load_experiment(experiment)

    # -- the live network, for the session's models (read it; only the training thread trains it) ----
    @property
    def network(self):
        """The live ``engine.Net`` (None before there is one)."""
        return self._net

    @property
    def network_layers(self):
        """The layer definitions the live network was built from."""
        return self._net_layers

    @property
    def weights_loaded(self):
        """The live weights came trained (a snapshot, a restore), not freshly initialised."""
        return self._loaded

    # -- the experiment ---------------------------------------------------------------
    def experiment(self):
        """The experiment as it stands: the document's layers and name with every setting."""
        augment = dict(self._exp.augment)
        rows = self.doc.rows
        if augment["crop"] is not None and rows and rows[0] and rows[0]["out_sy"] != augment["crop"]:
            augment["crop"] = None  # the input size was edited: crop to whatever it is now
        return self._exp.replace(layer_defs=copy.deepcopy(self.doc.layers), name=self.doc.name,
                                 augment=augment)

    @property
    def settings(self):
        """The current settings (an Experiment whose layers may be stale: use ``experiment()`` for those)."""
        return self._exp

    @property
    def settings_modified(self):
        """A setting (not the layers) changed since the last open or save."""
        return self._settings_modified

    @property
    def modified(self):
        """Anything changed since the last open or save (layers or settings)."""
        return self._settings_modified or not self.doc.undo_stack.isClean()

    def _change(self, **changes):
        before = self._exp
        self._exp = self._exp.replace(**changes)
        self._settings_modified = True
        self.training.forward_live_changes(before, self._exp)  # recorded in the run (issue #15)
        self.settingsChanged.emit()

    @property
    def learning_rate(self):
        """The learning rate the run starts from (the schedule's base when it has its own)."""
        s = self._exp.schedule
        return s["base"] if s and s["base"] is not None else self._exp.trainer["learning_rate"]

    def set_learning_rate(self, value):
        s = self._exp.schedule
        if s and s["base"] is not None:
            self.set_schedule(s["kind"], base=value)
        else:
            self.set_trainer_option("learning_rate", value)

    def set_trainer_option(self, key, value):
        """Change one trainer option; a running run uses it from its next batch."""
        self._change(trainer=dict(self._exp.trainer, **{key: value}))
        if self.trainer is not None:
            setattr(self.trainer, key, self._exp.trainer[key])
        if key == "learning_rate":
            self._apply_schedule()

    def set_schedule(self, kind, **settings):
        """``kind`` "constant" (no schedule), "step", "exponential" or "cosine", with its settings."""
        if kind == "constant":
            self._change(schedule=None)
        else:
            self._change(schedule=dict(self._exp.schedule or {}, kind=kind, **settings))
        self._apply_schedule()

    def set_augment(self, **settings):
        """``shift`` (pixels) and ``flip``; a running run uses them from its next batch."""
        self._change(augment=dict(self._exp.augment, **settings))
        run = self.training.run
        if run is not None:
            run.augment = self.experiment().build_augment(self._net, run.train_set.shape)

    def set_validation(self, count):
        """Training images held out for validation (from the next run)."""
        self._validation_wanted = count
        self.validation_note = None
        self._change(validation=count)

    def set_epochs(self, epochs):
        """Passes over the training images that Train runs to (a running run too)."""
        self._change(epochs=epochs)
        run = self.training.run
        if run is not None and self.training.to_experiment_epochs:
            run.epochs = max(epochs, run.epoch)
            self._apply_schedule()

    def _apply_schedule(self):
        run = self.training.run
        if run is None:
            return
        exp = self.experiment()
        run.schedule = exp.build_schedule(len(run.train_set))
        if run.schedule is None and self.trainer is not None:
            self.trainer.learning_rate = exp.trainer["learning_rate"]

    def n_train(self, validation=None):
        """Training images left after the validation split."""
        v = self._exp.validation if validation is None else validation
        return len(self.data.dataset.train) - min(v, len(self.data.dataset.train))

    # -- opening and saving -------------------------------------------------------------
    def load_experiment(self, exp, path=None):
        """Start over with ``exp``: its layers, trainer, schedule, augmentation, data, validation, epochs.

        Its data, when it is not the dataset in use, loads in the background (``data.loading``);
        data that is not there or cannot be read is said (``data.missing``, ``data.failed``)
        and the dataset in use stays, with the network open. False if the user would not stop
        the run.
        """
        if not self.training.may_stop():
            return False
        self._exp = Experiment.from_json(exp.to_json())
        self._kept = None
        self.doc.load(exp.layer_defs, exp.name, path)
        self._kept = None
        self.apply_trainer()
        self._settings_modified = False
        self.settingsChanged.emit()
        self._use_data(exp)
        return True

    def load_snapshot(self, net, name, experiment=None, layers=None):
        """Open trained weights: ``net``, shown as ``layers`` (default: its own layer definitions).

        ``experiment`` brings its settings too (its layers are ignored), its data as
        ``load_experiment`` does.
        """
        if not self.training.may_stop():
            return False
        layers = copy.deepcopy(net.layer_defs if layers is None else layers)
        if experiment is not None:
            self._exp = Experiment.from_json(experiment.to_json())
        self._kept = {"layers": layers, "net": net}
        self.doc.load(layers, name, None)
        if self._net is not net:  # the same layers as before: the sync kept the old weights
            self._kept = None
            self._set_net(net, trained=True)
        self._kept = None
        self._weights_unsaved = False  # they are in the file just opened
        self.apply_trainer()
        self._settings_modified = False
        self.settingsChanged.emit()
        if experiment is not None:
            self._use_data(experiment)
        return True

    def new_network(self):
        """Start from an input layer and a softmax (the settings stay)."""
        if not self.training.may_stop():
            return False
        self._kept = None
        self.doc.load(NEW_NETWORK, "Untitled")
        self._kept = None
        return True

    def mark_saved(self, path, name=None):
        """The experiment was saved to ``path`` (and the network is now called ``name``)."""
        self.doc.path = path
        if name is not None and name != self.doc.name:
            self.doc.rename(name)
        self.doc.undo_stack.setClean()
        self._settings_modified = False
        self.settingsChanged.emit()

    # -- trained weights that are in no file ----------------------------------------------
    @property
    def weights_unsaved(self):
        """Trained weights that would be lost: the live weights were trained since they were
        opened or last saved, or such weights are kept aside for an undo."""
        kept = self._kept
        return self._weights_unsaved or bool(kept and kept.get("unsaved"))

    def would_lose_weights(self, layer_defs=None):
        """Whether taking ``layer_defs`` (an experiment's; None: other weights altogether)
        would drop trained weights that are in no file (an experiment with the very
        same layers keeps the weights)."""
        if self._kept and self._kept.get("unsaved"):
            return True
        return self._weights_unsaved and (layer_defs is None or layer_defs != self._net_layers)

    def mark_weights_saved(self, weights):
        """``weights`` (published ``Weights``) were written to a file."""
        if weights.run_id == self.run_id and weights.examples_seen >= self.examples_seen:
            self._weights_unsaved = False

    # -- the weights ----------------------------------------------------------------------
    @property
    def trained(self):
        """The live weights were loaded trained or have been trained."""
        return self._net is not None and (self._loaded or self.examples_seen > 0)

    @property
    def untrained(self):
        return self._net is not None and not self.trained

    def _sync_network(self):
        """While idle, the live network has the document's structure.

        Trained weights are kept while the structure is the same, and come back when
        an edit is undone back to it; a new structure gets fresh weights.
        """
        if self.training.running or not self.doc.valid:
            return
        if self._net is not None and self._net_layers == self.doc.layers:
            return
        kept = self._kept
        if kept is not None and kept["layers"] == self.doc.layers:
            self._kept = None
            self._set_net(kept["net"], trained=True, unsaved=kept.get("unsaved", False))
            return
        try:
            net = engine.Net(self.doc.layers, seed=self._exp.seed)
        except engine.EngineError as e:
            self.problem.emit("Cannot build the network", str(e))
            return
        self._set_net(net, trained=False)

    def _set_net(self, net, trained, keep_displaced=True, unsaved=False):
        if keep_displaced and self._net is not None and self._net is not net and self.trained:
            self._kept = {"layers": self._net_layers, "net": self._net, "unsaved": self._weights_unsaved}
        self._weights_unsaved = unsaved
        self._net = net
        self._net_layers = copy.deepcopy(self.doc.layers)
        self._loaded = trained
        self.trainer = engine.Trainer(net, **self._exp.trainer)
        self.examples_seen = 0
        self.run_id += 1
        self.runStarted.emit(self.run_id)  # the training model drops the run of the old weights
        self._publish(Weights(net, 0, trained, self.run_id))

    def discard_weights(self):
        """The user chose to drop the trained weights (live or set aside by an edit): the live
        network gets fresh weights of the same structure, so that nothing trained is left to
        be counted, shown, asked about or saved under the next experiment's name."""
        self._kept = None
        self._weights_unsaved = False
        if self.training.running or not self.trained:
            return
        layers = copy.deepcopy(self._net_layers)
        try:
            net = engine.Net(layers, seed=self._exp.seed)
        except engine.EngineError:
            return  # cannot happen for layers that were built; the weights are at least not asked about
        self._set_net(net, trained=False, keep_displaced=False)
        self._net_layers = layers

    def take_weights(self, net):
        """Make ``net`` (of the live network's structure) the live weights, trained and not in a
        file: a teach's result, or the weights before it on Undo (not while training)."""
        if self.training.running or net is None:
            return False
        if self._net_layers is not None and self.doc.layers != self._net_layers:
            return False  # the network was edited since: these weights are not of it
        layers = copy.deepcopy(self._net_layers)
        self._set_net(net, trained=True, keep_displaced=False, unsaved=True)
        self._net_layers = layers
        return True

    def apply_trainer(self):
        """The trainer takes the experiment's trainer options (before a run, after a load)."""
        if self.trainer is not None:
            for key, value in self._exp.trainer.items():
                setattr(self.trainer, key, value)

    def reset_weights(self):
        """New random weights for the same structure (not while training)."""
        if self.training.running or not self.doc.valid:
            return False
        try:
            net = engine.Net(self.doc.layers, seed=self._exp.seed)
        except engine.EngineError as e:
            self.problem.emit("Cannot build the network", str(e))
            return False
        self._kept = None
        self._set_net(net, trained=False, keep_displaced=False)
        return True

    def _publish(self, weights):
        self.weights = weights
        self.weightsChanged.emit(weights)

    # -- what the training model tells of the weights (``workbench.state.training``) --------------
    def ready_to_train(self):
        """Whether Train may start: a valid network that fits the data (said otherwise), no
        dataset loading; the live network then has the document's structure."""
        if not self.doc.valid or self.data.busy:
            return False
        if not self._fits_for_training():
            return False
        self._sync_network()
        return self._net is not None

    def saw_examples(self, examples_seen):
        """A run's report: the live weights have seen ``examples_seen`` examples (more: trained
        since they were opened or saved)."""
        if examples_seen > self.examples_seen:
            self._weights_unsaved = True
        self.examples_seen = examples_seen

    def run_ended(self, examples_seen):
        """A run ended (its thread joined) at ``examples_seen``: its weights are published."""
        self.examples_seen = examples_seen
        self.publish_weights()

    def publish_weights(self, weights=None):
        """Publish ``weights`` (``Weights`` a run captured), or a copy of the live weights."""
        if weights is None:
            weights = Weights(self._net, self.examples_seen, self._loaded, self.run_id)
        self._publish(weights)

    def leave_network_to_thread(self):
        """A training thread did not stop: it keeps the live network, and the window goes on with
        a copy of it, as far trained (new weights: ``runStarted``; Train goes on from there)."""
        seen = self.examples_seen
        self._set_net(self._net.copy(), trained=self.trained, keep_displaced=False,
                      unsaved=self._weights_unsaved)
        self.examples_seen = seen

    def shutdown(self):
        """For the window closing: stop training and every job, and wait for their threads."""
        self.training.shutdown()
        self.data.shutdown()
        self.predictions.shutdown()
        self.understanding.shutdown()
        self.teaching.shutdown()

    # -- the dataset -----------------------------------------------------------------------------
    # ``data.dataset`` is the one in use; ``settings.data`` names it (None: the bundled MNIST), except
    # while an opened experiment's own data loads. Loads run as a background job; training
    # waits for them (Train is off while one runs), and a load that fails or is cancelled leaves
    # the dataset in use as it was.

    def _init_dataset(self, dataset):
        #: The dataset in use and loads of another (``workbench.state.data``).
        self.data = d = Data(dataset, before_change=self._before_dataset_change, parent=self)
        self._exp = self._exp.replace(data=d.path)
        self._validation_wanted = self._exp.validation
        self.validation_note = None
        d.changed.connect(self._dataset_changed)
        d.failed.connect(self._dataset_failed)
        d.missing.connect(self._dataset_missing)
        d.cancelled.connect(self._dataset_cancelled)

    @property
    def dataset_notes(self):
        """What the user should know about the dataset in use: the loader's notes and the
        validation size chosen for it."""
        return list(self.data.dataset.notes) + ([self.validation_note] if self.validation_note else [])

    def open_dataset(self, path):
        """Load the dataset at ``path`` (a file or folder; None: the bundled MNIST) in the
        background; it replaces the one in use when it has loaded. False if the user would not
        stop the run."""
        if not self.training.may_stop():
            return False
        self.data.load(datatasks.normalize_path(path), None)
        return True

    def _use_data(self, exp):
        """An opened experiment's data: loaded unless it is the dataset in use."""
        want = datatasks.normalize_path(exp.data)
        if want == self.data.path:
            self.data.drop_load()  # a load started for something else is not wanted now
            self._exp = self._exp.replace(data=want)
            self._fit_validation(exp.validation)
            self.settingsChanged.emit()
            return
        self._validation_wanted = exp.validation
        self.data.load(want, exp.name)

    def _keep_data_in_use(self, experiment):
        """After a failed or cancelled load for an opened experiment: it trains on the dataset in use."""
        if experiment is not None and self._exp.data != self.data.path:
            self._exp = self._exp.replace(data=self.data.path)
            self._fit_validation(self._validation_wanted)
            self.settingsChanged.emit()

    def _before_dataset_change(self):
        if self.training.running:  # cannot happen from the app (Train waits for the load): be safe
            self.training.stop(wait=True)

    def _dataset_changed(self):
        request = self.data.last_request
        if request is not None:  # loaded here (not a restore, which sets its own settings)
            self._exp = self._exp.replace(data=self.data.path)
            if request["experiment"] is None:
                self._settings_modified = True
            self.training.drop_run()  # the next Train makes a run on the new data (the weights stay)
            self._fit_validation(self._validation_wanted)
        if request is not None:
            self.settingsChanged.emit()

    def _dataset_failed(self, info):
        self._keep_data_in_use(info["experiment"])

    def _dataset_missing(self, request):
        self._keep_data_in_use(request["experiment"])

    def _dataset_cancelled(self, request):
        self._keep_data_in_use(request["experiment"])

    def _fit_validation(self, wanted):
        """The validation size in use for this dataset: ``wanted``, or a fifth of a dataset
        too small for it (``Experiment.validation_for``), with ``validation_note`` saying so."""
        self._validation_wanted = wanted
        v, self.validation_note = self._exp.replace(validation=wanted).validation_for(len(self.data.dataset.train))
        if v != self._exp.validation:
            self._exp = self._exp.replace(validation=v)

    def _data_keepsake(self):
        """The dataset's part of ``keepsake``."""
        return {"data_path": self.data.path, "validation_wanted": self._validation_wanted,
                "validation_note": self.validation_note}

    def _restore_data(self, k):
        """The dataset's part of ``restore`` (a load going on is dropped)."""
        self.data.drop_load()
        self._validation_wanted = k.get("validation_wanted", k["experiment"].validation)
        self.validation_note = k.get("validation_note")
        self.data.put(k["dataset"], k.get("data_path", datatasks.dataset_path(k["dataset"])))

    # -- does the network fit the data --------------------------------------------------------------
    def data_fit(self):
        """What does not fit between the document's network and the dataset: ``{"input": [...],
        "loss": [...]}`` (phrases; both empty when it fits), or None while the network is invalid."""
        if not self.doc.valid:
            return None
        rows = self.doc.rows
        first, last = rows[0], rows[-1]
        h, w, c = self.data.dataset.image_shape
        classes = last["out_depth"] if self.doc.layers[-1].get("type") in ("softmax", "svm") else None
        return {"input": datasets.fit_problems((first["out_sy"], first["out_sx"], first["out_depth"]),
                                               None, self.data.dataset),
                "loss": datasets.fit_problems((h, w, c), classes, self.data.dataset)}

    def fit_network_to_data(self):
        """Adapt the input layer and the loss layer's class count to the dataset, as one undoable
        edit. Returns what changed (phrases; empty: it fitted). Raises SpecError, changing
        nothing, when the adapted network would not be valid."""
        defs, changes = datasets.fit_layer_defs(self.doc.layers, self.data.dataset)
        if changes:
            self.doc.replace_layers(defs, f"Adapt the network to {self.data.dataset.name}")
        return changes

    def _fits_for_training(self):
        fit = self.data_fit()
        problems = (fit["input"] + fit["loss"]) if fit else []
        if problems:
            self.problem.emit("The network does not fit the data",
                              f"{self.doc.name} does not fit {datasets.describe(self.data.dataset)}: "
                              f"{'; '.join(problems)}.\n\nBuild's \u201cAdapt the network\u201d changes the "
                              f"input layer and the class count to fit, in one step that Undo takes back.")
            return False
        return True

    # -- pictures of the dataset's kind (Draw's "Open image…" for colour data) ------------------------
    def open_picture(self, path):
        """Read a picture as the dataset's images are read (its size and channels) and ask the
        network about it; Inspect shows it as "your picture". Raises DataError naming the file."""
        h, w, c = self.data.dataset.image_shape
        pixels = datasets.read_image(path, (w, h), c)
        self.predictions.set_picture(pixels)
        return pixels

    # -- putting the work aside and back (the guided tour) ----------------------------------------
    def keepsake(self):
        """Everything the user is working on, to come back to with ``restore``: the layers,
        name and file, every setting, the dataset, and a copy of the weights with the
        examples they have seen. Stops a running run first (its weights are kept)."""
        self.training.stop(wait=True)
        return {"experiment": self.experiment(), "layers": copy.deepcopy(self.doc.layers),
                "name": self.doc.name, "path": self.doc.path, "dataset": self.data.dataset,
                "net": None if self._net is None else self._net.copy(), "loaded": self._loaded,
                "net_layers": copy.deepcopy(self._net_layers),
                "examples_seen": self.examples_seen, "modified": self.modified,
                "weights_unsaved": self.weights_unsaved, **self._data_keepsake()}

    def restore(self, keepsake):
        """Back to what ``keepsake`` holds, weights included; the undo history starts anew
        (stops a running run without asking: the work it does is what is being put away)."""
        k = keepsake
        self.training.stop(wait=True)
        self._restore_data(k)
        self._exp = Experiment.from_json(k["experiment"].to_json())
        net = None if k["net"] is None else k["net"].copy()
        self._kept = None if net is None else {"layers": copy.deepcopy(k["net_layers"]), "net": net}
        self.doc.load(k["layers"], k["name"], k["path"])  # the sync takes the kept weights
        if net is not None and self._net is not net and self.doc.valid and self.doc.layers == k["net_layers"]:
            self._set_net(net, trained=k["loaded"], keep_displaced=False)  # the same layers: not synced
        if net is not None and self._net is net:
            self._kept = None
            self._loaded = k["loaded"]
            self.examples_seen = k["examples_seen"]
            self._publish(Weights(net, self.examples_seen, self._loaded, self.run_id))
        # else the layers were invalid: the weights come back when they are valid again
        self.apply_trainer()
        self._settings_modified = k["modified"]
        self._weights_unsaved = k.get("weights_unsaved", False)  # the close prompt asks about them
        self.settingsChanged.emit()
        if datatasks.normalize_path(self._exp.data) != self.data.path:
            self._use_data(self._exp)  # its data was loading when it was put away: load it again

    # -- runs kept, the coach's fixes (issue #15) -----------------------------------------------
    def apply_fix(self, fix):
        """Apply one of the coach's fixes (``{"label", "changes", "live"}``) through the settings'
        own path: a live fix changes the running trainer before its next batch (and the run
        records it); a layer option is an edit of the network, which a new run trains."""
        return runs_kept.apply_fix(self, fix)


#: The name of old (``workbench.session.Session``), kept for one release.
Session = AppSession
