"""The dataset's dialogs: choosing a dataset file or folder, and what went wrong, in plain text.

Paths and names from files are shown as plain text (never rich text). The functions here
are module attributes so that tests replace them.
"""
import os
import pathlib

from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QLineEdit, QMessageBox, QPushButton

from workbench.views import dialogs as common

DATASET_FILTER = ("Datasets (*.npz *.csv *.csv.gz *ubyte *ubyte.gz *.idx *.idx.gz *idx3* *idx1*);;"
                  "All files (*)")


class DatasetFileDialog(QFileDialog):
    """Pick a dataset: a file (Open), or a folder ("Open folder": the selected one, else the
    one shown), since one dialog of the platform's kind takes either files or folders, not both."""

    def __init__(self, parent=None, folder=""):
        super().__init__(parent, "Open dataset", folder, DATASET_FILTER)
        self.setObjectName("datasetFileDialog")
        self.setOption(QFileDialog.DontUseNativeDialog, True)
        self.setFileMode(QFileDialog.ExistingFile)
        self.chosen = None
        self.folder_button = QPushButton("Open folder")
        self.folder_button.setObjectName("openDatasetFolderButton")
        self.folder_button.setToolTip("Open the selected folder (or, with none selected, the one shown) as "
                                      "a dataset: IDX or CSV files, an .npz, or one folder of images per class.")
        self.folder_button.setAutoDefault(False)
        self.folder_button.clicked.connect(self.open_folder)
        # beside Open and Cancel, where a path typed into the file name's box never puts its
        # completer's list over it (at the bottom of the dialog, it was covered after Enter)
        box = self.findChild(QDialogButtonBox)
        lay = self.layout()
        if box is not None:
            box.addButton(self.folder_button, QDialogButtonBox.ActionRole)
        elif lay is not None and hasattr(lay, "rowCount"):
            lay.addWidget(self.folder_button, lay.rowCount(), 0, 1, -1)
        edit = self.findChild(QLineEdit, "fileNameEdit")
        self._completer_popup = None
        if edit is not None and edit.completer() is not None:
            self._name_edit = edit
            self._completer_popup = edit.completer().popup()
            self._completer_popup.installEventFilter(self)
            edit.textChanged.connect(self._name_changed)

    def _name_changed(self, text):
        if not text and self._completer_popup.isVisible():
            QTimer.singleShot(0, self._hide_empty_completer)

    def _hide_empty_completer(self):
        if not self._name_edit.text():
            self._completer_popup.hide()

    def eventFilter(self, obj, e):
        """A folder typed and entered: the dialog shows it, and clears the name; the completer's
        list of that folder, for an empty name, only covered the dialog's lower part: not shown."""
        if obj is self._completer_popup and e.type() == QEvent.Show and not self._name_edit.text():
            QTimer.singleShot(0, self._hide_empty_completer)
        return super().eventFilter(obj, e)

    def open_folder(self):
        """Accept the selected folder, or the folder shown when no folder is selected."""
        selected = [p for p in self.selectedFiles() if os.path.isdir(p)]
        self.chosen = selected[0] if selected else self.directory().absolutePath()
        self.done(QFileDialog.Accepted)

    def path(self):
        if self.chosen:
            return self.chosen
        files = self.selectedFiles()
        return files[0] if files else None


def existing_folder(path):
    """The nearest folder of ``path`` that exists (for a dialog to start in)."""
    if not path:
        return ""
    p = pathlib.Path(str(path).split(",")[0])
    for q in [p] + list(p.parents):
        if q.is_dir():
            return str(q)
    return ""


def ask_dataset_path(parent, folder=""):
    """A dataset file or folder from the user, or None. The dialog starts in ``folder``,
    else in the last folder the user opened from or saved to."""
    dialog = DatasetFileDialog(parent, folder or common.last_folder())
    if dialog.exec() != QFileDialog.Accepted:
        return None
    path = dialog.path()
    common.remember(path)
    return path


def warn(parent, title, text):
    """A warning whose text is shown literally (file names are never read as markup)."""
    common.warn(parent, title, text)


def ask_locate(parent, text, keep):
    """The experiment's data has moved: True to locate it, False to keep the dataset in use."""
    box = QMessageBox(QMessageBox.Warning, "Dataset not found", text, QMessageBox.NoButton, parent)
    box.setTextFormat(_plain())
    locate = box.addButton("Locate…", QMessageBox.AcceptRole)
    box.addButton(keep, QMessageBox.RejectRole)
    box.setDefaultButton(locate)
    box.exec()
    return box.clickedButton() is locate


def _plain():
    from PySide6.QtCore import Qt
    return Qt.PlainText
