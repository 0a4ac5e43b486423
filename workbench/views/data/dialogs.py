"""The dataset's dialogs: choosing a dataset file or folder, and what went wrong, in plain text.

Paths and names from files are shown as plain text (never rich text). The functions here
are module attributes so that tests replace them.
"""
import os
import pathlib

from PySide6.QtWidgets import QFileDialog, QMessageBox, QPushButton

from ... import dialogs as common

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
        lay = self.layout()
        if lay is not None and hasattr(lay, "rowCount"):
            lay.addWidget(self.folder_button, lay.rowCount(), 0, 1, -1)

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
