"""The dataset in use, loads of another in the background, and the dataset view's overview.

The session owns one ``Data`` (``session.data``). A load runs as a background job; the
dataset in use stays until the new one has loaded, and a load that fails, is cancelled or
asks for data that is not there leaves it as it was. What a load was for (a dataset the user
opened, or an opened experiment's data) travels with it as its ``request``:
``{"path", "experiment"}`` (``experiment``: the name of the experiment whose data it is, or
None).

The session listens to these signals before any place or other model does (it connects
first): when another dataset is in use it fits the experiment's settings to it
(``settingsChanged``), and after a failed, missing or cancelled load for an opened experiment
it keeps training on the dataset in use; then the places connected to ``changed``,
``failed``, ``missing`` and ``cancelled`` hear of it. The session re-emits none of these
signals: places connect them on ``session.data`` themselves.
"""
import logging

from PySide6.QtCore import QObject, Signal

from workbench.state.jobs import Job
from workbench.tasks import data as datatasks

log = logging.getLogger(__name__)


class Data(QObject):
    """The dataset in use and the loading of another.

    Parameters
    ----------
    dataset : engine.data.Dataset
        The dataset in use at the start.
    before_change : callable, optional
        Called just before a loaded dataset replaces the one in use (the session stops a run).

    Signals
    -------
    changed : another dataset is in use (``dataset``, ``path``, ``version``)
    loading(bool) : a load started or ended (however it ended)
    progress(float) : how far it is, 0..1
    failed(object) : ``dict(request, message=...)``: it could not be loaded (or is not there,
        for a dataset the user opened)
    missing(object) : the request of an opened experiment whose data is not there
    cancelled(object) : the request of a load that was cancelled
    overview(object) : the dataset view's numbers and pictures (``datatasks.dataset_overview``)
    """

    changed = Signal()
    loading = Signal(bool)
    progress = Signal(float)
    failed = Signal(object)
    missing = Signal(object)
    cancelled = Signal(object)
    overview = Signal(object)

    def __init__(self, dataset, before_change=None, parent=None):
        super().__init__(parent)
        self.dataset = dataset
        self.path = datatasks.dataset_path(dataset)  # absolute path (None: the bundled MNIST)
        self.version = 0                               # one more for each dataset put in use
        self.before_change = before_change
        self.last_request = None  # what the dataset in use was loaded for (None: not loaded here)
        self._request = None
        self._load = Job("dataset", self)
        self._load.done.connect(self._loaded)
        self._load.failed.connect(self._failed)
        self._load.progress.connect(self.progress)
        self._load.busyChanged.connect(self._busy)
        self._overview = Job("overview", self)
        self._overview.done.connect(self.overview)

    @property
    def busy(self):
        """A load is going on."""
        return self._load.busy

    @property
    def loading_path(self):
        """The path of the dataset loading now (None when none is, or the bundled MNIST is)."""
        return self._request["path"] if self._request else None

    def load(self, path, experiment=None):
        """Load the dataset at ``path`` (normalised; None: the bundled MNIST) in the background;
        ``experiment``: the name of the opened experiment it is for, or None."""
        self._load.cancel()
        request = {"path": path, "experiment": experiment}
        missing = datatasks.missing_part(path)
        if missing is not None:
            self._request = None
            log.info("dataset %s: %s is not there", path, missing)
            if experiment is not None:
                self.missing.emit(request)
            else:
                self.failed.emit(dict(request, message=f"{missing}: no such file or folder"))
            return
        self._request = request
        log.info("loading the dataset %s", path or "MNIST (bundled)")
        self._load.start(datatasks.load_dataset, path)

    def cancel(self):
        """Cancel a load going on (``cancelled`` says so when it has ended)."""
        self._load.cancel()

    def drop_load(self):
        """Forget a load going on without a word (the work it was for is gone)."""
        self._request = None
        self._load.cancel()

    def put(self, dataset, path):
        """Use ``dataset`` (at ``path``) now, without loading it (a restore of work put aside)."""
        if dataset is self.dataset:
            return
        self.dataset, self.path = dataset, path
        self.version += 1
        self.last_request = None
        self.changed.emit()

    def describe(self):
        """The dataset view's numbers and pictures of the dataset in use (``overview`` brings them)."""
        self._overview.start(datatasks.dataset_overview, self.dataset, self.version)

    def shutdown(self):
        self._load.shutdown()
        self._overview.shutdown()

    # -- the load's end ---------------------------------------------------------------------------
    def _loaded(self, dataset):
        request, self._request = self._request, None
        if request is None:
            return
        if self.before_change is not None:
            self.before_change()
        self.dataset, self.path = dataset, request["path"]
        self.version += 1
        self.last_request = request
        log.info("dataset in use: %s (%s)", dataset.name, request["path"] or "bundled")
        self.changed.emit()

    def _failed(self, message):
        request, self._request = self._request, None
        if request is None:
            return
        log.warning("the dataset %s could not be loaded: %s", request["path"], message)
        self.failed.emit(dict(request, message=message))

    def _busy(self, busy):
        if not busy and self._request is not None:  # ended without a result: cancelled
            request, self._request = self._request, None
            self.cancelled.emit(request)
        self.loading.emit(busy)
