"""File › Export…: the current weights as an ONNX model or a standalone PyTorch folder.

The export runs on a background job (the engine's ``to_onnx``/``to_pytorch``, which
prove the exported model against the engine before writing anything), with progress
and Cancel; when it is done the dialog shows the parity report. Training may go on
meanwhile: the export is of the weights published when it started. When the optional
packages are missing, the dialog says what to install instead of offering the format.
"""
import importlib.util
import pathlib

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.core.io import safe_file_name
from workbench.state.jobs import Job
from workbench.views import dialogs

INSTALL = "pip install -e '.[export]'"

#: format: (title, the packages it needs, what it writes)
FORMATS = {
    "onnx": ("ONNX model (.onnx)", ("onnx", "onnxruntime"),
             "One .onnx file (opset 17) and its parity report beside it (.parity.json)."),
    "pytorch": ("PyTorch folder", ("torch",),
                "A folder: model.py (an nn.Module), weights.pt, train.py (the same experiment, one "
                "process or torchrun), README.md, the dataset and parity.json."),
}


def missing_packages(fmt):
    """The Python packages ``fmt`` needs that are not installed here."""
    return [m for m in FORMATS[fmt][1] if importlib.util.find_spec(m) is None]


def export_task(state, net, experiment, fmt, out, dataset=None):
    """Export ``net`` (a copy nobody else uses) on a worker thread; the parity report.

    ``dataset``: the dataset in use, whose test images the export is checked on when
    they fit the network. ``state`` is told the progress, and a cancel raises out of the
    engine's progress callback: the export stops and writes nothing.
    """
    from engine.export import to_onnx, to_pytorch

    def progress(fraction, message):
        state.message = message
        state.set_progress(fraction)
        state.check()

    state.check()
    if fmt == "onnx":
        return to_onnx(net, out, experiment=experiment, progress=progress, dataset=dataset)
    return to_pytorch(net, experiment, out, progress=progress, dataset=dataset)


def report_text(report, fmt):
    """The parity report in a few plain lines."""
    where = report.get("model") or report.get("folder") or ""
    lines = [f"Wrote {where}" + (" and its parity report beside it" if fmt == "onnx" else "")
             + f" in {report.get('seconds', 0):.1f} s.",
             f"Checked against the engine on {report.get('inputs', 'the test images')}:",
             f"  largest difference in the {report.get('output', 'outputs')}: "
             f"{report['max_abs_difference']:.2g} (allowed: {report['tolerance']:.2g})"]
    if report.get("argmax_agreement") is not None:
        lines.append(f"  same class as the engine: {report['argmax_agreement']:.2%} of "
                     f"{report['examples']:,} examples")
    if report.get("engine_accuracy") is not None:
        lines.append(f"  accuracy on them: engine {report['engine_accuracy']:.2%}, "
                     f"export {report['export_accuracy']:.2%}")
    if fmt == "pytorch" and report.get("roundtrip_max_abs_difference") is not None:
        lines.append(f"  model.to_convnetjs() gives the engine's network back (difference "
                     f"{report['roundtrip_max_abs_difference']:.2g}); train.py writes such a snapshot, "
                     f"which File › Open ConvNetJS snapshot… opens.")
    return "\n".join(lines)


class ExportDialog(QDialog):
    """Format, destination, Export; progress with Cancel; then the parity report."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export")
        self.session = session
        self.weights = session.weights
        self.report = None
        self.error = None
        self._job = Job("export", self)
        self._job.done.connect(self._done)
        self._job.failed.connect(self._failed)
        self._job.progress.connect(self._progress)
        self._job.busyChanged.connect(self._busy_changed)

        self.format = QComboBox()
        self.format.setObjectName("exportFormat")
        for key, (title, _, tip) in FORMATS.items():
            self.format.addItem(title, key)
            self.format.setItemData(self.format.count() - 1, tip, Qt.ToolTipRole)
        self.path = QLineEdit()
        self.path.setObjectName("exportPath")
        self.path.setMinimumWidth(380)
        browse = QPushButton("Browse…")
        browse.setAutoDefault(False)
        browse.clicked.connect(self._browse)
        where = QWidget()
        row = QHBoxLayout(where)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Format", self.format)
        form.addRow("Destination", where)
        w = self.weights
        seen = f"{w.examples_seen:,} examples seen" if w.examples_seen else (
            "trained weights" if w.trained else "untrained weights")
        self.about = QLabel(f"The weights of \u201c{session.doc.name}\u201d as they are now ({seen}).")
        self.about.setTextFormat(Qt.PlainText)
        self.about.setWordWrap(True)
        self.note = QLabel()
        self.note.setObjectName("exportNote")
        self.note.setTextFormat(Qt.PlainText)
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.setObjectName("exportProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.status = QLabel()
        self.status.setObjectName("exportStatus")
        self.status.setTextFormat(Qt.PlainText)
        self.result = QLabel()
        self.result.setObjectName("exportReport")
        self.result.setTextFormat(Qt.PlainText)
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextSelectableByMouse)
        buttons = QDialogButtonBox()
        self.export_button = buttons.addButton("Export", QDialogButtonBox.AcceptRole)
        self.export_button.setObjectName("exportButton")
        self.cancel_button = buttons.addButton("Cancel", QDialogButtonBox.RejectRole)
        self.cancel_button.setObjectName("exportCancel")
        self.export_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._cancel_or_close)

        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.about)
        lay.addWidget(self.note)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addWidget(self.result)
        lay.addStretch(1)
        lay.addWidget(buttons)
        self.format.currentIndexChanged.connect(self._format_changed)
        self._format_changed()
        self.setMinimumWidth(640)
        self.resize(660, 320)

    @property
    def fmt(self):
        return self.format.currentData()

    def _default_path(self, fmt):
        # the name comes from a file: a file name inside the folder, never a path of its own
        name = safe_file_name(self.session.doc.name or "network")
        folder = pathlib.Path(dialogs.last_save_folder())  # not the data's folder, opened last
        return str(folder / (f"{name}.onnx" if fmt == "onnx" else f"{name}-pytorch"))

    def _format_changed(self, *_):
        fmt = self.fmt
        current = self.path.text().strip()
        if not current or current == self._default_path("onnx" if fmt == "pytorch" else "pytorch"):
            self.path.setText(self._default_path(fmt))
        missing = missing_packages(fmt)
        if missing:
            self.note.setText(f"Exporting a {FORMATS[fmt][0]} needs the Python package"
                              f"{'s' if len(missing) > 1 else ''} {' and '.join(missing)}, not installed "
                              f"here. Install them in the project's folder with:  {INSTALL}")
            self.note.setStyleSheet("color: #d64545")
        else:
            self.note.setText(FORMATS[fmt][2] + " Nothing is written unless the exported model's outputs "
                              "equal the engine's.")
            self.note.setStyleSheet("")
        self._busy_changed(self._job.busy)

    def _browse(self):
        if self.fmt == "onnx":
            current = pathlib.Path(self.path.text()).expanduser()
            start = str(current.parent) if current.is_absolute() and current.parent.is_dir() else None
            path = dialogs.ask_save(self, "Export ONNX model", current.name,
                                    "ONNX models (*.onnx);;All files (*)", folder=start)
        else:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export to a folder (made if it does not exist)", self.path.text(), "Folders (*)",
                options=QFileDialog.DontConfirmOverwrite)
            dialogs.remember(path, saved=True)
        if path:
            self.path.setText(path)

    # -- running --------------------------------------------------------------------------
    def start(self):
        """Export to the destination on a background job (False if there is nothing to do)."""
        out = self.path.text().strip()
        if self._job.busy or not out or missing_packages(self.fmt):
            return False
        out = str(pathlib.Path(out).expanduser())
        exp = self.session.experiment()
        net = self.weights.network()
        if exp.misfit(net):  # the layers were edited since: the weights' own
            exp = exp.replace(layer_defs=self.weights.layer_defs)
        self.report = self.error = None
        self.result.setText("")
        self.status.setText("Starting…")
        self.progress.setValue(0)
        self._task_fmt = self.fmt
        self._job.start(self._task, net, exp, self.fmt, out, self.session.data.dataset)
        return True

    def _task(self, state, *inputs):
        self._state = state
        state.message = ""
        return export_task(state, *inputs)

    def _progress(self, fraction):
        self.progress.setValue(int(fraction * 1000))
        state = getattr(self, "_state", None)
        if state is not None and getattr(state, "message", ""):
            self.status.setText(state.message[:1].upper() + state.message[1:] + "…")

    def _done(self, report):
        self.report = report
        self.progress.setValue(1000)
        self.status.setText("Done.")
        self.result.setText(report_text(report, self._task_fmt))
        dialogs.remember(self.path.text(), saved=True)
        self._fit()

    def _failed(self, message):
        self.error = message
        self.progress.setValue(0)
        self.status.setText("")
        self.result.setText(f"Not exported: {message}")
        self.result.setStyleSheet("color: #d64545")
        self._fit()

    def _fit(self):
        """Tall enough for the report (it wraps at the dialog's width)."""
        self.layout().activate()
        self.resize(self.width(), max(self.height(), self.layout().totalHeightForWidth(self.width())))

    def _busy_changed(self, busy):
        self.export_button.setEnabled(not busy and not missing_packages(self.fmt))
        self.format.setEnabled(not busy)
        self.path.setEnabled(not busy)
        self.cancel_button.setText("Cancel" if busy else "Close")
        if not busy and self.report is None and self.error is None and self.status.text() not in ("", "Done."):
            self.status.setText("Cancelled: nothing was written.")
            self.progress.setValue(0)
        if busy:
            self.result.setStyleSheet("")

    def _cancel_or_close(self):
        if self._job.busy:
            self._job.cancel()
        else:
            self.reject()

    def done(self, result):
        self._job.cancel()  # closing: an export still running stops (and writes nothing)
        super().done(result)
