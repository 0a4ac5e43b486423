"""Draw's "Teach" (issue #25): label the drawing, add it to My examples, teach the network.

``TeachBox`` sits under the prediction: "Teach: this is a [class]" with Add, the Teach
button with its progress, Stop and a small live plot, and one line that says what the last
teach did. ``ExamplesStrip`` ("My examples") shows the learner's examples as thumbnails
with their label and the current network's answer (wrong ones marked), to relabel or
remove, with Undo/Redo of every change and teach. Everything goes through the session's
``teaching`` (``workbench.teaching.Teaching``).
"""
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import EngineError
from workbench.views import dialogs
from workbench.views.theme import plain_axes

THUMB = 56


def _button(text, name, tip, slot):
    b = QPushButton(text)
    b.setObjectName(name)
    b.setToolTip(tip)
    b.setAutoDefault(False)
    b.clicked.connect(lambda: slot())
    return b


def thumbnail(pixels, wrong):
    """A 28x28 uint8 digit as an icon, outlined red when the network reads it wrong."""
    a = np.ascontiguousarray(pixels.astype(np.uint8))
    img = QImage(a.data, 28, 28, 28, QImage.Format_Grayscale8).copy()
    pm = QPixmap.fromImage(img.scaled(THUMB, THUMB, Qt.IgnoreAspectRatio, Qt.FastTransformation))
    if wrong:
        p = QPainter(pm)
        p.setPen(QPen(QColor("#e15759"), 4))
        p.drawRect(1, 1, THUMB - 3, THUMB - 3)
        p.end()
    return QIcon(pm)


class TeachBox(QWidget):
    """Label, Add, Teach (with progress, Stop, live curves) and what the last teach did.

    Signals
    -------
    addRequested : the user wants the drawing added (the panel knows the drawing)
    """

    addRequested = Signal()

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("teachBox")
        self.session = session
        self.t = t = session.teaching
        self.label_box = QComboBox()
        self.label_box.setObjectName("teachLabelBox")
        self.label_box.setToolTip("What the drawing is. With the canvas focused, the digit keys choose it.")
        self.add_button = _button("Add", "addExampleButton", "Add the drawing to My examples with this "
                                  "label (Enter, with the canvas focused).", self.addRequested.emit)
        self.teach_button = _button("Teach", "teachButton", "", self._teach)
        self.stop_button = _button("Stop", "teachStopButton", "End the teach now, keeping what it learnt.",
                                   t.stop)
        self.classes_button = _button("New classes…", "newClassesButton",
                                      "Name 2-10 classes of your own (circle, cross, ...), draw examples "
                                      "of each, and train a network on them.", self.ask_new_classes)
        self.progress = QProgressBar()
        self.progress.setObjectName("teachProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.result = QLabel()
        self.result.setObjectName("teachReport")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.PlainText)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("teachPlot")
        self.plot.setMaximumHeight(90)
        self.plot.setMinimumHeight(70)
        self.plot.hideAxis("bottom")
        self.plot.setMouseEnabled(False, False)
        self.plot.setYRange(0, 1)
        self.plot.getPlotItem().setMenuEnabled(False)
        plain_axes(self.plot.getPlotItem())
        self.loss_curve = self.plot.plot(pen=pg.mkPen("#4e79a7", width=2), name="loss")
        self.acc_curve = self.plot.plot(pen=pg.mkPen("#59a14f", width=2), name="your examples")
        self.plot.setToolTip("While teaching: the loss (blue) and how many of your examples in the "
                             "batches are right (green).")
        self.plot.hide()
        self._points = []
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.prompt = QLabel("Teach: this is a")
        row.addWidget(self.prompt)
        row.addWidget(self.label_box, 1)
        row.addWidget(self.add_button)
        row2 = QHBoxLayout()
        row2.setContentsMargins(0, 0, 0, 0)
        row2.addWidget(self.teach_button, 1)
        row2.addWidget(self.stop_button)
        row2.addWidget(self.classes_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        lay.addLayout(row)
        lay.addLayout(row2)
        lay.addWidget(self.progress)
        lay.addWidget(self.plot)
        lay.addWidget(self.result)
        t.changed.connect(self._classes)
        t.changed.connect(self._enable)
        t.teachingChanged.connect(self._teaching)
        t.progress.connect(lambda f: self.progress.setValue(int(1000 * f)))
        t.report.connect(self._report)
        t.taught.connect(lambda r: self.result.setText(r["summary"]))
        t.failed.connect(self.result.setText)
        session.training.runningChanged.connect(lambda _: self._enable())
        session.weightsChanged.connect(lambda _: self._enable())
        self._classes()
        self._teaching(False)

    def _classes(self):
        names = self.t.names
        current = self.label_box.currentIndex()
        if [self.label_box.itemText(i) for i in range(self.label_box.count())] != names:
            self.label_box.blockSignals(True)
            self.label_box.clear()
            self.label_box.addItems(names)
            self.label_box.setCurrentIndex(current if 0 <= current < len(names) else 0)
            self.label_box.blockSignals(False)
        own = self.t.own
        self.prompt.setText("Next drawing is a" if own else "Teach: this is a")
        seconds = self.t.classes_seconds if own else self.t.teach_seconds
        self.teach_button.setText(f"Train on my classes ({seconds:.0f} s)" if own else f"Teach ({seconds:.0f} s)")
        self.teach_button.setToolTip(
            "Train a fresh network on your drawings (a fifth of each class held out to evaluate): "
            "your classes become the dataset, the network's last layer is adapted to them (Undo in "
            "Build takes it back)." if own else
            "Fine-tune the network on your examples mixed with the training data; Undo (under My "
            "examples) puts the weights back.")

    def choose(self, index):
        if 0 <= index < self.label_box.count():
            self.label_box.setCurrentIndex(index)

    @property
    def label(self):
        return self.label_box.currentIndex()

    def _teach(self):
        self.result.setText("")
        self.t.teach()

    def _teaching(self, busy):
        self.stop_button.setEnabled(busy)
        self.progress.setVisible(busy)
        if busy:
            self.progress.setValue(0)
            self._points = []
            self.loss_curve.setData([], [])
            self.acc_curve.setData([], [])
            self.plot.show()
        self._enable()

    def _report(self, r):
        self._points.append((r["steps"], r["cost_loss"], r["examples_accuracy"]))
        a = np.array(self._points, dtype=np.float64)
        top = max(1.0, float(np.nanmax(a[:, 1])))
        self.plot.setYRange(0, top)
        self.loss_curve.setData(a[:, 0], a[:, 1])
        self.acc_curve.setData(a[:, 0], a[:, 2] * top)

    def _enable(self):
        busy = self.t.busy
        self.teach_button.setEnabled(not busy and not self.session.training.running)
        self.classes_button.setEnabled(not busy)
        self.add_button.setEnabled(not busy)

    def ask_new_classes(self):
        dlg = NewClassesDialog(self)
        if dlg.exec() != QDialog.Accepted:
            return False
        try:
            self.t.new_classes(dlg.names())
        except EngineError as e:
            dialogs.warn(self, "Cannot use these classes", str(e))
            return False
        return True


class NewClassesDialog(QDialog):
    """Name 2-10 classes, separated by commas."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("newClassesDialog")
        self.setWindowTitle("New classes")
        self.edit = QLineEdit("circle, cross, triangle")
        self.edit.setObjectName("classNamesEdit")
        self.edit.selectAll()
        text = QLabel("Name 2 to 10 classes of your own, separated by commas (shapes, letters, ...). "
                      "Then draw examples of each (the label chooses which the next drawing is) and "
                      "train a network on them. Your examples so far are put aside (Undo brings them back).")
        text.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(text)
        lay.addWidget(self.edit)
        lay.addWidget(buttons)

    def names(self):
        return [n.strip() for n in self.edit.text().split(",") if n.strip()]


class ExamplesStrip(QWidget):
    """"My examples": thumbnails with label and the network's answer, relabel/remove, undo."""

    def __init__(self, session, teach_box, parent=None):
        super().__init__(parent)
        self.setObjectName("myExamples")
        self.session = session
        self.t = t = session.teaching
        self.box = teach_box
        self.view = QListWidget()
        self.view.setObjectName("myExamplesView")
        self.view.setViewMode(QListView.IconMode)
        self.view.setFlow(QListView.LeftToRight)
        self.view.setWrapping(False)
        self.view.setMovement(QListView.Static)
        self.view.setIconSize(QSize(THUMB, THUMB))
        self.view.setGridSize(QSize(THUMB + 26, THUMB + 36))
        self.view.setFixedHeight(THUMB + 60)
        self.view.setSelectionMode(QListWidget.ExtendedSelection)
        self.view.setContextMenuPolicy(Qt.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        self.view.setToolTip("Your examples: the label, and what the network reads (red: wrong). "
                             "Right-click to relabel or remove.")
        self.title = QLabel()
        self.title.setObjectName("myExamplesTitle")
        undo = t.undo_stack.createUndoAction(self, "Undo")
        redo = t.undo_stack.createRedoAction(self, "Redo")
        self.undo_button = _button("Undo", "teachUndoButton", "Undo the last change of My examples "
                                   "(an added example, a relabel, a teach: its weights go back).", undo.trigger)
        self.redo_button = _button("Redo", "teachRedoButton", "Redo it.", redo.trigger)
        t.undo_stack.canUndoChanged.connect(self.undo_button.setEnabled)
        t.undo_stack.canRedoChanged.connect(self.redo_button.setEnabled)
        t.undo_stack.undoTextChanged.connect(lambda s: self.undo_button.setToolTip(f"Undo: {s}" if s else ""))
        self.undo_button.setEnabled(False)
        self.redo_button.setEnabled(False)
        self.relabel_button = _button("Relabel", "relabelExampleButton",
                                      "Give the selected examples the label chosen above.", self._relabel_chosen)
        self.remove_button = _button("Remove", "removeExampleButton", "Remove the selected examples (Delete).",
                                     self._remove_selected)
        self.save_button = _button("Save as folder…", "saveExamplesButton",
                                   "Save your examples as an image-folder dataset (a folder of PNGs per "
                                   "class), which the dataset box and `python -m engine train --data` open.",
                                   self.save_folder)
        self.open_button = _button("Open folder…", "openExamplesButton",
                                   "Take examples from an image-folder dataset.", self.open_folder)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title, 1)
        for b in (self.relabel_button, self.remove_button, self.undo_button, self.redo_button,
                  self.save_button, self.open_button):
            head.addWidget(b)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.view)
        t.changed.connect(self.refresh)
        t.predictionsChanged.connect(self.refresh)
        self.refresh()

    def refresh(self):
        t = self.t
        names = t.names
        pred = t.predictions
        self.view.clear()
        for i, (img, lab) in enumerate(zip(t.images, t.labels)):
            name = names[lab] if lab < len(names) else str(lab)
            if pred is None:
                text, wrong = f"{name}\n…", False
            else:
                p = int(pred[i])
                seen = names[p] if p < len(names) else str(p)
                wrong = p != lab
                text = f"{name}\n\u2717 reads {seen}" if wrong else f"{name}\n\u2713"
            item = QListWidgetItem(thumbnail(img, wrong), text)
            item.setData(Qt.UserRole, i)
            item.setData(Qt.UserRole + 1, bool(wrong))
            if wrong:
                item.setForeground(QColor("#e15759"))
            self.view.addItem(item)
        if len(t):
            self.view.scrollToItem(self.view.item(len(t) - 1))
        right = t.right()
        count = f"{len(t)} example(s)" + ("" if right is None or not len(t) else f", {right} read right")
        what = f"your classes: {', '.join(names)}" if t.own else "corrections"
        self.title.setText(f"My examples ({what}): {count}")

    def selected(self):
        return sorted(item.data(Qt.UserRole) for item in self.view.selectedItems())

    def _relabel_chosen(self):
        for i in self.selected():
            self.t.relabel(i, self.box.label)

    def _remove_selected(self):
        self.t.remove(self.selected())

    def keyPressEvent(self, e):
        if e.key() in (Qt.Key_Delete, Qt.Key_Backspace) and self.selected():
            self._remove_selected()
        else:
            super().keyPressEvent(e)

    def _menu(self, pos):
        item = self.view.itemAt(pos)
        if item is None:
            return
        i = item.data(Qt.UserRole)
        menu = QMenu(self)
        sub = menu.addMenu("Relabel as")
        for k, name in enumerate(self.t.names):
            act = sub.addAction(name)
            act.triggered.connect(lambda _=False, k=k: self.t.relabel(i, k))
        menu.addAction("Remove", lambda: self.t.remove([i]))
        menu.popup(self.view.viewport().mapToGlobal(pos))

    def save_folder(self, path=None):
        if path is None:
            path = dialogs.ask_save(self, "Save examples as an image folder", "my-examples", "Folders (*)")
            if not path:
                return False
        try:
            n = self.t.export_folder(path)
        except EngineError as e:
            dialogs.warn(self, "Cannot save the examples", str(e))
            return False
        self.title.setText(f"{self.title.text()} \u2014 saved {n} to {path}")
        return True

    def open_folder(self, path=None):
        if path is None:
            from PySide6.QtWidgets import QFileDialog
            path = QFileDialog.getExistingDirectory(self, "Open an image-folder dataset", dialogs.last_folder())
            if not path:
                return False
        try:
            self.t.import_folder(path)
        except EngineError as e:
            dialogs.warn(self, "Cannot open the examples", str(e))
            return False
        return True

