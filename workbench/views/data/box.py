"""The Train tab's dataset box: the bundled MNIST, recent datasets and "Open dataset…".

A chosen dataset loads in the background (the session's dataset job): a progress bar with
Cancel shows while it does, and the box goes on showing the dataset in use until the new
one has loaded. A failed load says why in a dialog that names the file; the dataset in use
stays. The loader's notes (skipped files, resized images, the tool's split, the validation
size chosen for a small dataset) are shown under the box.
"""
import pathlib

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from engine.data.formats import describe

from . import dialogs

MAX_RECENT = 8
BUNDLED = "\0bundled"
OPEN = "\0open"


def dataset_title(path):
    """What the box calls a dataset at ``path`` (None: the bundled MNIST)."""
    if path is None:
        return "MNIST (bundled)"
    parts = str(path).split(",")
    return pathlib.Path(parts[0]).name + (" + labels" if len(parts) > 1 else "")


class _Memory:
    """QSettings' value/setValue in memory (a box on its own, without the window's settings)."""

    def __init__(self):
        self.values = {}

    def value(self, key, default=None):
        return self.values.get(key, default)

    def setValue(self, key, value):
        self.values[key] = value


class RecentDatasets:
    """Recently loaded datasets (absolute paths, newest first), kept in ``settings`` (a
    QSettings; None: in memory only)."""

    def __init__(self, settings=None):
        self.settings = settings if settings is not None else _Memory()

    def _store(self):
        return self.settings

    def paths(self):
        v = self._store().value("recentDatasets", [])
        return [v] if isinstance(v, str) else [str(p) for p in (v or [])]

    def add(self, path):
        if path is None:
            return
        paths = [path] + [p for p in self.paths() if p != path]
        self._store().setValue("recentDatasets", paths[:MAX_RECENT])

    def remove(self, path):
        self._store().setValue("recentDatasets", [p for p in self.paths() if p != path])

    def folder(self):
        return str(self._store().value("lastDatasetFolder", "") or "")

    def set_folder(self, path):
        folder = dialogs.existing_folder(path)
        if folder:
            self._store().setValue("lastDatasetFolder", folder)


class DatasetBox(QWidget):
    """The dataset chooser (``datasetBox``), its progress and Cancel, and the dataset's notes.

    Signals
    -------
    showRequested : the user wants the dataset view
    """

    showRequested = Signal()

    def __init__(self, session, settings=None, parent=None):
        super().__init__(parent)
        self.setObjectName("datasetPanel")
        self.session = session
        self.recent = RecentDatasets(settings)
        self.combo = QComboBox()
        self.combo.setObjectName("datasetBox")
        self.combo.setToolTip("The dataset the network trains on: the bundled MNIST, a recent one, or "
                              "your own (IDX files, .npz, CSV, or a folder of images per class).")
        self.combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(12)
        self.combo.activated.connect(self._activated)
        self.show_button = QPushButton("View")
        self.show_button.setObjectName("showDatasetButton")
        self.show_button.setToolTip("The dataset: counts per class, samples, the mean image, pixel statistics.")
        self.show_button.setAutoDefault(False)
        self.show_button.clicked.connect(self.showRequested)
        self.progress = QProgressBar()
        self.progress.setObjectName("datasetProgress")
        self.progress.setRange(0, 1000)
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("cancelDatasetButton")
        self.cancel.setToolTip("Stop loading; the dataset in use stays.")
        self.cancel.setAutoDefault(False)
        self.cancel.clicked.connect(session.data.cancel)
        self.info = QLabel()
        self.info.setObjectName("datasetInfo")
        self.info.setTextFormat(Qt.PlainText)
        self.info.setWordWrap(True)
        self.notes = QLabel()
        self.notes.setObjectName("datasetNotes")
        self.notes.setTextFormat(Qt.PlainText)
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: palette(placeholder-text)")
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.combo, 1)
        top.addWidget(self.show_button)
        loading = QHBoxLayout()
        loading.setContentsMargins(0, 0, 0, 0)
        loading.addWidget(self.progress, 1)
        loading.addWidget(self.cancel)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addLayout(top)
        lay.addLayout(loading)
        lay.addWidget(self.info)
        lay.addWidget(self.notes)
        self._loading_title = None
        self._set_loading(False)
        session.data.changed.connect(self._dataset_changed)
        session.settingsChanged.connect(self._show_notes)
        session.data.loading.connect(self._set_loading)
        session.data.progress.connect(self._progress)
        session.data.failed.connect(self._failed)
        session.data.missing.connect(self._missing)
        session.data.cancelled.connect(self._cancelled)
        self._dataset_changed()

    # -- the list ---------------------------------------------------------------------------
    def _fill(self):
        c = self.combo
        c.blockSignals(True)
        c.clear()
        in_use = self.session.data.path
        c.addItem(dataset_title(None), BUNDLED)
        c.setItemData(0, "The MNIST digits that come with the app (60,000 + 10,000, 28x28 grey).",
                      Qt.ToolTipRole)
        current = 0
        paths = self.recent.paths()
        if in_use is not None and in_use not in paths:
            paths = [in_use] + paths
        for p in paths:
            c.addItem(dataset_title(p), p)
            c.setItemData(c.count() - 1, p, Qt.ToolTipRole)
            if p == in_use:
                current = c.count() - 1
        c.insertSeparator(c.count())
        c.addItem("Open dataset…", OPEN)
        c.setItemData(c.count() - 1, "A file (IDX, .npz, .csv) or a folder (of those, or of images per "
                      "class).", Qt.ToolTipRole)
        c.setCurrentIndex(current)
        c.blockSignals(False)

    def _activated(self, index):
        data = self.combo.itemData(index)
        self._fill()  # the box shows the dataset in use until another one has loaded
        if data == OPEN:
            self.open_dialog()
        elif data == BUNDLED:
            if self.session.data.path is not None:
                self.open(None)
        elif data != self.session.data.path:
            self.open(data)

    def open_dialog(self):
        """Ask for a dataset file or folder and load it."""
        start = self.recent.folder() or dialogs.existing_folder(self.session.data.path)
        path = dialogs.ask_dataset_path(self.window(), start)
        if path:
            self.recent.set_folder(path)
            return self.open(path)
        return False

    def open(self, path):
        """Load the dataset at ``path`` (None: the bundled MNIST) in the background."""
        self._loading_title = dataset_title(path)
        return self.session.open_dataset(path)

    # -- loading --------------------------------------------------------------------------
    def _set_loading(self, busy):
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)
        if busy:
            self.progress.setValue(0)
            title = self._loading_title or dataset_title(self.session.data.loading_path)
            self.progress.setFormat(f"loading {title}: %p%")

    def _progress(self, fraction):
        self.progress.setValue(int(1000 * fraction))

    def _cancelled(self, _request):
        self._loading_title = None
        self._show_status(f"Loading cancelled; the dataset in use is still {self.session.data.dataset.name}.")

    def _failed(self, info):
        self._loading_title = None
        ds = self.session.data.dataset.name
        if info.get("experiment"):
            text = (f"The data of \u201c{info['experiment']}\u201d could not be loaded:\n\n{info['message']}"
                    f"\n\nThe network is open; it trains on {ds} until you choose another dataset.")
        else:
            text = f"{info['message']}\n\nThe dataset in use is still {ds}."
        dialogs.warn(self.window(), "Cannot open dataset", text)

    def _missing(self, info):
        # asked once the opening that found it missing has finished
        QTimer.singleShot(0, lambda: self._ask_locate(info))

    def _ask_locate(self, info):
        ds = self.session.data.dataset.name
        text = (f"\u201c{info['experiment']}\u201d trains on the data at\n\n{info['path']}\n\nwhich is not "
                f"there any more (moved, renamed or deleted). The network is open; it trains on {ds} "
                f"until you locate the data.")
        if not dialogs.ask_locate(self.window(), text, f"Keep {ds}"):
            return
        path = dialogs.ask_dataset_path(self.window(), dialogs.existing_folder(info["path"]))
        if path:
            self.recent.set_folder(path)
            self.open(path)

    # -- the dataset in use ------------------------------------------------------------------
    def _dataset_changed(self):
        s = self.session
        self._loading_title = None
        self.recent.add(s.data.path)
        self._fill()
        ds = s.data.dataset
        self.info.setText(f"{describe(ds)}: {len(ds.train):,} training + {len(ds.test):,} test images")
        self.info.setToolTip(str(ds.source or ""))
        self._show_notes()

    def _show_notes(self):
        notes = self.session.dataset_notes
        self.notes.setText("\n".join(f"\u2022 {n}" for n in notes))
        self.notes.setVisible(bool(notes))

    def _show_status(self, text):
        self.notes.setText(text + ("\n" + "\n".join(f"\u2022 {n}" for n in self.session.dataset_notes)
                                   if self.session.dataset_notes else ""))
        self.notes.setVisible(True)
