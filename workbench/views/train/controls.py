"""Training controls and the numbers ConvNetJS shows, in a narrow column.

Every field shows a setting of the session's experiment and changes it through the
session (settings changed while training take effect at the next batch); the
buttons call the session's training commands.
"""
import collections
import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import EngineError
from engine.core.schedules import KINDS
from engine.core.trainer import METHODS
from engine.data.formats import describe

from ..data.box import DatasetBox

METHOD_TIPS = {
    "sgd": "Stochastic gradient descent, with momentum when momentum > 0.",
    "nesterov": "SGD with Nesterov momentum: looks ahead along the momentum before stepping.",
    "adagrad": "Per-parameter learning rates that shrink with the sum of squared gradients.",
    "windowgrad": "Adagrad over a moving window of squared gradients (RMSprop).",
    "adadelta": "No learning rate to tune: steps scale with a running ratio of updates to gradients. "
                "The ConvNetJS demo's trainer.",
    "adam": "Running averages of the gradient and its square, bias-corrected (Kingma & Ba).",
}

LR_TIP = "Step size. Too high and the network diverges; arrows halve or double it."
#: Why a setting is greyed: the method chosen does not use it (a user who wants it changes the method).
LR_UNUSED_TIP = ("adadelta has no learning rate: it sizes each step itself, from running averages of "
                 "the updates and the gradients. To set a learning rate, choose another Method "
                 "(sgd, nesterov, adam, ...).")
MOMENTUM_TIP = "Momentum for sgd and nesterov."
MOMENTUM_UNUSED_TIP = ("{method} does not use momentum (only sgd and nesterov do). To set it, choose "
                       "sgd or nesterov as the Method.")

#: The training accuracy shown is over about this many of the latest examples: one
#: batch's figure (a Step) jumps by tens of percent, and a chunk's depends on its length.
TRAIN_ACCURACY_WINDOW = 5000
ERROR_STYLE = "color: #d64545"

#: The settings each schedule kind uses, shown only for it.
SCHEDULE_SETTINGS = {"constant": (), "step": ("factor", "every"), "exponential": ("factor", "every"),
                     "cosine": ("total", "minimum")}


class _LogSpin(QDoubleSpinBox):
    """A spin box for rates: arrows double or halve; typing ``1e-3`` works too."""

    def stepBy(self, steps):
        v = self.value() or 10 ** -self.decimals()
        self.setValue(v * (2.0 ** steps) if steps > 0 else v / (2.0 ** -steps))

    def textFromValue(self, v):
        return f"{v:.6g}"

    def valueFromText(self, text):
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text, pos):
        t = text.strip()
        try:
            v = float(t)
        except ValueError:
            ok = t == "" or t[-1:] in "eE.-+" and all(c in "0123456789.eE-+" for c in t)
            return (QValidator.Intermediate if ok else QValidator.Invalid), text, pos
        if self.minimum() <= v <= self.maximum():
            return QValidator.Acceptable, text, pos
        return QValidator.Intermediate, text, pos


def _rate(maximum, tip):
    w = _LogSpin()
    w.setDecimals(8)
    w.setRange(0.0, maximum)
    w.setToolTip(tip)
    return w


def _count(lo, hi, tip, step=1, suffix=""):
    w = QSpinBox()
    w.setRange(lo, hi)
    w.setSingleStep(step)
    w.setSuffix(suffix)
    w.setToolTip(tip)
    return w


def _row(*parts):
    """Widgets (and words, for strings) side by side in one form row."""
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    for p in parts:
        if isinstance(p, str):
            lay.addWidget(QLabel(p))
        else:
            lay.addWidget(p, 0 if isinstance(p, (QLabel, QCheckBox)) else 1)
    return w


class TrainPanel(QWidget):
    """The experiment's training settings, the buttons, the progress and the statistics of a run.

    ``banner`` says what the user must know (why training is not possible, a run that
    diverged, with a button that applies the suggested rate); with ``place_banner``
    False the caller places it (the Train place keeps it in view, out of the scrolling).

    Signals
    -------
    buildRequested : the user asked to go to the Build place (to fix the network)
    """

    buildRequested = Signal()

    def __init__(self, session, settings=None, parent=None, place_banner=True):
        super().__init__(parent)
        self.setObjectName("trainPanel")
        self.session = session
        self._settings = settings  # where the dataset box keeps recent datasets
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(6)
        self.banner = self._banner()
        if place_banner:
            lay.addWidget(self.banner)
        lay.addWidget(self._data_box())
        lay.addWidget(self._trainer_box())
        lay.addLayout(self._buttons())
        self.progress = QProgressBar()
        self.progress.setObjectName("epochProgress")
        self.progress.setRange(0, 1000)
        self.progress.setFormat("epoch 0")
        lay.addWidget(self.progress)
        lay.addWidget(self._stats_box())
        lay.addStretch(1)
        self.setMaximumWidth(380)
        for w in self.findChildren(QAbstractSpinBox):  # a typed value applies when its edit is done
            w.setKeyboardTracking(False)               # (Enter, leaving the field, a step arrow)
        s = session
        s.settingsChanged.connect(self._show_settings)
        s.data.changed.connect(self._show_dataset)
        s.training.report.connect(self.on_report)
        s.training.historyRestored.connect(self.show_history)
        s.runStarted.connect(self._clear_stats)
        s.data.changed.connect(self._clear_stats)
        s.training.runningChanged.connect(self._running_changed)
        s.training.pausedChanged.connect(self.update_buttons)
        s.training.finished.connect(self._finished)
        s.doc.changed.connect(self._doc_changed)
        s.data.changed.connect(self._doc_changed)  # a network may fit one dataset and not another
        s.data.loading.connect(self.update_buttons)
        self.can_train = True
        self._recent = collections.deque()  # (examples, right) of the latest progress reports
        self._recent_n = 0
        self._recent_right = 0.0
        self._show_dataset()
        self._show_settings()
        self._doc_changed()

    # -- layout -------------------------------------------------------------------------
    def _banner(self):
        """A message with the buttons that act on it; hidden while there is nothing to say."""
        box = QFrame()
        box.setObjectName("trainBanner")
        box.setFrameShape(QFrame.StyledPanel)
        lay = QVBoxLayout(box)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(4)
        self.message = QLabel()
        self.message.setObjectName("trainMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.PlainText)
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lay.addWidget(self.message)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.rate_button = QPushButton()
        self.rate_button.setObjectName("useSuggestedRate")
        self.rate_button.setToolTip("Set the learning rate to the one suggested; Train goes on from the "
                                    "last good weights.")
        self.rate_button.clicked.connect(self._use_suggested_rate)
        self.build_button = QPushButton("Go to Build")
        self.build_button.setObjectName("goToBuild")
        self.build_button.setToolTip("Show the network in the Build place, where the layer at fault is outlined.")
        self.build_button.clicked.connect(self.buildRequested)
        self.adapt_button = QPushButton("Adapt the network")
        self.adapt_button.setObjectName("adaptNetworkTrainButton")
        self.adapt_button.setToolTip("Give the input layer the images' size and channels and the loss layer "
                                     "the data's class count (one step; Undo takes it back).")
        self.adapt_button.clicked.connect(self.adapt_network)
        for b in (self.rate_button, self.adapt_button, self.build_button):
            b.setAutoDefault(False)
            b.hide()
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        self._suggested = None
        self._message_kind = None  # "invalid", "misfit", "diverged", "rate", "finished", "error"
        box.hide()
        return box

    def _say(self, kind, text, error=False):
        """Show ``text`` in the banner (``kind`` says what it is about); "" hides it."""
        self._message_kind = kind if text else None
        self.message.setText(text)
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        self.rate_button.setVisible(kind == "diverged" and self._suggested is not None)
        self.adapt_button.setVisible(kind == "misfit")
        self.build_button.setVisible(kind in ("invalid", "misfit"))
        self.banner.setVisible(bool(text))

    def _data_box(self):
        box = QGroupBox("Data")
        box.setObjectName("dataBox")
        f = QFormLayout(box)
        self.data_box = DatasetBox(self.session, self._settings)
        self.dataset = self.data_box.combo
        f.addRow(self.data_box)
        self.validation = _count(0, 50000, "Training images held out to measure validation accuracy "
                                 "(applies when training starts).", 1000)
        self.validation.valueChanged.connect(self.session.set_validation)
        self.epochs = QDoubleSpinBox()
        self.epochs.setObjectName("epochs")
        self.epochs.setRange(0.01, 100000)
        self.epochs.setDecimals(2)
        self.epochs.setToolTip("Train runs this many passes over the training images, then stops "
                               "(and Train again goes on for as many more). +1 epoch adds one.")
        self.epochs.valueChanged.connect(self.session.set_epochs)
        f.addRow("Validation", _row(self.validation, "epochs", self.epochs))
        self.crop = QLabel()
        self.crop.setToolTip("Larger images are cut to the network's input: random crops while training "
                             "(as the ConvNetJS demo, 28x28 to 24x24), the centre crop for testing.")
        self.shift = _count(0, 4, "Random shift of each training image by up to this many pixels.", suffix=" px")
        self.shift.valueChanged.connect(lambda v: self.session.set_augment(shift=v))
        self.flip = QCheckBox("flip")
        self.flip.setToolTip("Random horizontal flips (not useful for digits; for other data).")
        self.flip.toggled.connect(lambda on: self.session.set_augment(flip=on))
        f.addRow("Augment", _row(self.crop, "shift", self.shift, self.flip))
        return box

    def _trainer_box(self):
        s = self.session
        box = QGroupBox("Trainer")
        f = self.trainer_form = QFormLayout(box)
        self.method = QComboBox()
        self.method.setObjectName("trainerMethod")
        for m in METHODS:
            self.method.addItem(m, m)
            self.method.setItemData(self.method.count() - 1, METHOD_TIPS[m], Qt.ToolTipRole)
        self.method.currentIndexChanged.connect(
            lambda _: s.set_trainer_option("method", self.method.currentData()))
        f.addRow("Method", self.method)
        self.lr = _rate(1000.0, LR_TIP)
        self.lr.setObjectName("learningRate")
        self.lr.valueChanged.connect(s.set_learning_rate)
        f.addRow("Learning rate", self.lr)
        self.schedule = QComboBox()
        self.schedule.setObjectName("scheduleKind")
        self.schedule.addItems(KINDS)
        self.schedule.setToolTip("Anneal the learning rate as examples are seen: step (times the factor "
                                 "every so many examples), exponential (the same, smoothly), or cosine "
                                 "(down to the minimum over the run).")
        self.schedule.currentTextChanged.connect(self._schedule_kind_changed)
        f.addRow("Schedule", self.schedule)
        self.factor = QDoubleSpinBox()
        self.factor.setRange(0.001, 1.0)
        self.factor.setDecimals(3)
        self.factor.setSingleStep(0.05)
        self.factor.setToolTip("The learning rate is multiplied by this every period.")
        self.every = _count(1, 10 ** 8, "The period, in examples seen (an epoch of MNIST is 55,000 with the "
                            "default validation split).", 5000)
        self.total = _count(0, 10 ** 9, "Examples over which the rate falls to the minimum.", 10000)
        self.total.setSpecialValueText("the whole run")
        self.minimum = _rate(1.0, "Where the cosine ends.")
        self.schedule_rows = {}
        self.schedule_settings = QWidget()
        row = QHBoxLayout(self.schedule_settings)
        row.setContentsMargins(0, 0, 0, 0)
        for key, label, w in (("factor", "×", self.factor), ("every", "every", self.every),
                              ("total", "over", self.total), ("minimum", "to", self.minimum)):
            w.setObjectName(f"schedule_{key}")
            caption = QLabel(label)
            caption.setToolTip(w.toolTip())
            row.addWidget(caption)
            row.addWidget(w, 1)
            self.schedule_rows[key] = (caption, w)
        f.addRow("", self.schedule_settings)
        self.factor.valueChanged.connect(lambda v: self._schedule_setting("factor", v))
        self.every.valueChanged.connect(lambda v: self._schedule_setting("every", v))
        self.total.valueChanged.connect(lambda v: self._schedule_setting("total", v or None))
        self.minimum.valueChanged.connect(lambda v: self._schedule_setting("minimum", v))
        self.momentum = QDoubleSpinBox()
        self.momentum.setRange(0.0, 0.999)
        self.momentum.setDecimals(3)
        self.momentum.setSingleStep(0.05)
        self.momentum.setToolTip(MOMENTUM_TIP)
        self.momentum.valueChanged.connect(lambda v: s.set_trainer_option("momentum", v))
        f.addRow("Momentum", self.momentum)
        self.batch = _count(1, 1024, "Examples per update.")
        self.batch.valueChanged.connect(lambda v: s.set_trainer_option("batch_size", v))
        f.addRow("Batch size", self.batch)
        self.l1 = _rate(1.0, "L1 weight decay (pushes weights to exactly zero).")
        self.l1.valueChanged.connect(lambda v: s.set_trainer_option("l1_decay", v))
        self.l2 = _rate(1.0, "L2 weight decay (keeps weights small).")
        self.l2.valueChanged.connect(lambda v: s.set_trainer_option("l2_decay", v))
        f.addRow("Decay", _row("L1", self.l1, "L2", self.l2))
        return box

    def _buttons(self):
        s = self.session
        grid = QGridLayout()
        specs = [("train_button", "Train", "trainButton", "Start training (Ctrl+Return)."),
                 ("pause_button", "Pause", "pauseButton", "Pause or resume between batches (Space in this tab)."),
                 ("stop_button", "Stop", "stopButton", "Stop after the current batch."),
                 ("step_button", "Step", "stepButton", "Train one batch, then pause."),
                 ("epoch_button", "+1 epoch", "epochButton", "Train one more pass over the training set, then stop."),
                 ("reset_button", "Reset weights", "resetButton",
                  "New random weights; the current curves are greyed for comparison.")]
        for k, (attr, text, name, tip) in enumerate(specs):
            b = QPushButton(text)
            b.setObjectName(name)
            b.setToolTip(tip)
            b.setAutoDefault(False)
            grid.addWidget(b, k // 3, k % 3)  # two rows of three: the column keeps its height for the numbers
            setattr(self, attr, b)
        self.pause_button.setCheckable(True)
        self.train_button.clicked.connect(lambda: s.training.train())
        self.pause_button.clicked.connect(lambda on: s.training.pause() if on else s.training.resume())
        self.step_button.clicked.connect(lambda: s.training.step())
        self.epoch_button.clicked.connect(lambda: s.training.train(epochs=1))
        self.stop_button.clicked.connect(lambda: s.training.stop(wait=False))
        self.reset_button.clicked.connect(lambda: s.reset_weights())
        return grid

    def _stats_box(self):
        box = QGroupBox("Statistics")
        g = QGridLayout(box)
        g.setVerticalSpacing(2)
        self.stat_labels = {}
        self.stat_captions = {}
        # what a run is about first (the tour asks to watch the rate and the test accuracy), the
        # costs last; paired figures share a row, so that every row stays in view at 1280x800
        # under a banner of a few lines
        rows = [("examples", "Examples seen"), ("speed", "Examples / s"), ("lr", "Learning rate"),
                ("train", "Training accuracy"), ("validation", "Validation accuracy"), ("test", "Test accuracy"),
                (("loss", "decay"), "Loss: cost / decay"), (("fwd", "bwd"), "Forward / backward, per example")]
        for k, (keys, text) in enumerate(rows):
            caption = QLabel(text)
            g.addWidget(caption, k, 0)
            keys = keys if isinstance(keys, tuple) else (keys,)
            cell = QHBoxLayout()
            cell.setSpacing(4)
            cell.addStretch(1)
            for j, key in enumerate(keys):
                if j:
                    cell.addWidget(QLabel("/"))
                value = QLabel("–")
                value.setObjectName(f"stat_{key}")
                value.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
                value.setTextInteractionFlags(Qt.TextSelectableByMouse)
                cell.addWidget(value)
                self.stat_labels[key] = value
                self.stat_captions[key] = caption
            g.addLayout(cell, k, 1)
        tip = (f"Of the latest {TRAIN_ACCURACY_WINDOW:,} training examples (as augmented), the share the "
               f"network got right as it trained on them: a running estimate, not a test.")
        for w in (self.stat_captions["train"], self.stat_labels["train"]):
            w.setToolTip(tip)
        return box

    # -- the experiment's settings, shown ------------------------------------------------------
    @staticmethod
    def _put(widget, value):
        """Show ``value`` without sending it back (and without disturbing a field being typed in)."""
        if widget.hasFocus() and isinstance(widget, QAbstractSpinBox):
            return
        widget.blockSignals(True)
        if isinstance(widget, QComboBox):
            widget.setCurrentIndex(max(0, widget.findText(value)))
        elif isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif widget.value() != value:
            widget.setValue(value)
        widget.blockSignals(False)

    def _show_settings(self):
        s = self.session
        exp = s.settings
        t = exp.trainer
        self._put(self.method, t["method"])
        self._put(self.lr, s.learning_rate)
        self._put(self.momentum, t["momentum"])
        self._put(self.batch, t["batch_size"])
        self._put(self.l1, t["l1_decay"])
        self._put(self.l2, t["l2_decay"])
        sched = exp.schedule or {}
        kind = sched.get("kind", "constant")
        self._put(self.schedule, kind)
        if sched:
            self._put(self.factor, sched["factor"])
            self._put(self.every, sched["every"])
            self._put(self.total, sched["total"] or 0)
            self._put(self.minimum, sched["minimum"])
        for key, widgets in self.schedule_rows.items():
            for w in widgets:
                w.setVisible(key in SCHEDULE_SETTINGS[kind])
        self.trainer_form.setRowVisible(self.schedule_settings, kind != "constant")
        self._put(self.validation, exp.validation)
        note = self.session.validation_note
        self.validation.setToolTip("Training images held out to measure validation accuracy (applies when "
                                   "training starts)." + (f"\nIn use: {note}." if note else ""))
        self._put(self.epochs, exp.epochs)
        self._put(self.shift, exp.augment["shift"])
        self._put(self.flip, exp.augment["flip"])
        # a greyed field says why in its tooltip (and its caption's): the method does not use it
        uses_momentum, uses_lr = t["method"] in ("sgd", "nesterov"), t["method"] != "adadelta"
        for w, used, tip in ((self.momentum, uses_momentum, MOMENTUM_TIP if uses_momentum else
                              MOMENTUM_UNUSED_TIP.replace("{method}", t["method"])),
                             (self.lr, uses_lr, LR_TIP if uses_lr else LR_UNUSED_TIP)):
            w.setEnabled(used)
            w.setToolTip(tip)
            caption = self.caption_of(w)
            if caption is not None:
                caption.setToolTip(tip)
        self.method.setToolTip(METHOD_TIPS[t["method"]] + " Changes apply at the next batch.")
        self._show_crop()

    def caption_of(self, widget):
        """The trainer form's caption of the row ``widget`` is in (it may sit in a row of its own)."""
        w = widget
        while w is not None and w is not self:
            label = self.trainer_form.labelForField(w)
            if label is not None:
                return label
            w = w.parentWidget()
        return None

    def _show_crop(self):
        rows = self.session.doc.rows
        image = self.session.data.dataset.train.shape
        if rows and rows[0] and rows[0]["out_sy"] < image[0]:
            self.crop.setText(f"random {rows[0]['out_sx']}x{rows[0]['out_sy']} crop")
        else:
            self.crop.setText("no crop")

    def _schedule_kind_changed(self, kind):
        settings = {}
        if kind != "constant":
            current = {"factor": self.factor.value(), "every": self.every.value(),
                       "total": self.total.value() or None, "minimum": self.minimum.value()}
            settings = {k: current[k] for k in SCHEDULE_SETTINGS[kind]}
        self.session.set_schedule(kind, **settings)

    def _schedule_setting(self, key, value):
        kind = self.schedule.currentText()
        if kind != "constant":
            self.session.set_schedule(kind, **{key: value})

    def _show_dataset(self):
        n = len(self.session.data.dataset.train)
        self.validation.blockSignals(True)  # a lower maximum must not send a clamped value back
        self.validation.setMaximum(max(0, n - 1))
        self.validation.setSingleStep(1000 if n > 20000 else max(1, n // 50))
        self.validation.blockSignals(False)

    # -- buttons --------------------------------------------------------------------------------
    def _doc_changed(self):
        """Say before the click why Train cannot work: an invalid network, or one that does not
        fit the data (then with "Adapt the network")."""
        s = self.session
        doc = s.doc
        fit = s.data_fit()
        misfit = (fit["input"] + fit["loss"]) if fit else []
        self.can_train = doc.valid and not misfit
        if not doc.valid:
            why = f"Cannot train: {doc.error or 'the network is not valid'}."
            self._say("invalid", f"{why} Fix it in the Build place, where the layer at fault is outlined.",
                      error=True)
        elif misfit:
            why = f"Cannot train: {doc.name} does not fit {describe(s.data.dataset)}: {'; '.join(misfit)}."
            self._say("misfit", f"{why} Adapt the network to the data (Undo takes it back), or change it "
                                f"in the Build place.", error=True)
        elif self._message_kind in ("invalid", "misfit"):
            self._say(None, "")
        self.train_button.setToolTip("Start training (Ctrl+Return)." if self.can_train else why)
        self._show_crop()
        self.update_buttons()

    def adapt_network(self):
        """The banner's "Adapt the network": the input layer and the class count fitted to the data."""
        try:
            return self.session.fit_network_to_data()
        except EngineError as e:
            from workbench.views import dialogs
            dialogs.warn(self.window(), "Cannot adapt the network", str(e))
            return []

    def _running_changed(self, running):
        if running:
            self.clear_message()
        self.update_buttons()

    def update_buttons(self, *_):
        s = self.session
        running, paused = s.training.running, s.training.paused
        # Train starts a run; a paused run goes on with Resume (the Pause button), so the
        # two never both read "Resume"
        can_train = self.can_train and not s.data.busy  # the data it would train on is loading
        self.train_button.setEnabled(can_train and not running)
        self.train_button.setText("Train")
        self.pause_button.setEnabled(running)
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.blockSignals(False)
        self.step_button.setEnabled(can_train and (not running or paused))
        self.epoch_button.setEnabled(can_train and not running)
        self.stop_button.setEnabled(running)
        self.reset_button.setEnabled(self.can_train and not running)

    # -- reports ----------------------------------------------------------------------------------
    def _set(self, key, text):
        self.stat_labels[key].setText(text)

    def _clear_stats(self):
        for label in self.stat_labels.values():
            label.setText("–")
        self._recent.clear()
        self._recent_n, self._recent_right = 0, 0.0
        self.stat_captions["train"].setText("Training accuracy")
        self.progress.setValue(0)
        self.progress.setFormat("epoch 0")
        if self._message_kind in ("diverged", "rate", "finished", "error"):
            self.clear_message()  # about weights that are gone

    def _running_accuracy(self, examples, accuracy):
        """The training accuracy over about the latest ``TRAIN_ACCURACY_WINDOW`` examples."""
        self._recent.append((examples, accuracy * examples))
        self._recent_n += examples
        self._recent_right += accuracy * examples
        while self._recent and self._recent_n - self._recent[0][0] >= TRAIN_ACCURACY_WINDOW:
            n, right = self._recent.popleft()
            self._recent_n -= n
            self._recent_right -= right
        return self._recent_right / self._recent_n, self._recent_n

    def on_report(self, r):
        tag = r["tag"]
        self._set("examples", f"{r['examples_seen']:,}")
        epoch = r.get("epoch", 0.0)
        number, part = int(epoch) + 1, epoch % 1
        if epoch > 0 and part == 0:  # an epoch just ended (a run's last report): it, full, not the next at 0%
            number, part = int(epoch), 1.0
        self.progress.setValue(int(part * 1000))
        self.progress.setFormat(f"epoch {number}: %p%")
        adadelta = self.session.settings.trainer.get("method") == "adadelta"
        self._set("lr", "none (adadelta)" if adadelta else f"{r['learning_rate']:.4g}")  # as its field says
        if tag == "progress" and r.get("examples"):
            self._set("speed", f"{r['examples_per_second']:,.0f}")
            self._set("fwd", f"{r['fwd_ms_per_example']:.3f} ms")
            self._set("bwd", f"{r['bwd_ms_per_example']:.3f} ms")
            self._set("loss", f"{r['cost_loss']:.4f}")
            self._set("decay", f"{r['decay_loss']:.4f}")
            if math.isfinite(r["train_accuracy"]):
                acc, n = self._running_accuracy(r["examples"], r["train_accuracy"])
                self._set("train", f"{acc:.1%}")
                self.stat_captions["train"].setText(f"Training accuracy (last {n:,})")
        elif tag == "eval":
            if "validation_accuracy" in r:
                self._set("validation", f"{r['validation_accuracy']:.2%}")
            if "test_accuracy" in r:
                self._set("test", f"{r['test_accuracy']:.2%}")
        elif tag == "diverged" or r.get("not_learning"):  # a run at chance is said as a divergence
            rate = r.get("suggested_learning_rate")
            self._suggested = rate
            self.rate_button.setText(f"Use learning rate {rate:g}" if rate is not None else "")
            self._say("diverged", r["message"], error=True)

    def show_history(self, record):
        """The numbers of a run restored from a session folder: its last reported values."""
        s = self.session
        curves = record.get("curves") or {}

        def last(part, key):
            values = [v for v in (curves.get(part) or {}).get(key, []) if v is not None and math.isfinite(v)]
            return values[-1] if values else None

        self._clear_stats()
        self._set("examples", f"{s.examples_seen:,}")
        epoch = s.examples_seen / max(1, s.n_train())
        self.progress.setValue(int((epoch % 1) * 1000))
        self.progress.setFormat(f"epoch {int(epoch) + 1}: %p%")
        for key, part, field, fmt in (("loss", "progress", "cost_loss", "{:.4f}"),
                                      ("lr", "progress", "learning_rate", "{:.4g}"),
                                      ("speed", "progress", "examples_per_second", "{:,.0f}"),
                                      ("train", "progress", "train_accuracy", "{:.1%}"),
                                      ("validation", "eval", "validation_accuracy", "{:.2%}"),
                                      ("test", "eval", "test_accuracy", "{:.2%}")):
            v = last(part, field)
            if v is not None:
                self._set(key, fmt.format(v))
        self.stat_captions["train"].setText("Training accuracy")

    def _use_suggested_rate(self):
        rate = self._suggested
        if rate is None:
            return
        self.session.set_learning_rate(rate)
        self._suggested = None
        self._say("rate", f"The learning rate is now {rate:g}. Train goes on from the last good weights.")

    def _finished(self, how):
        if how == "done":
            self._say("finished", "Finished.")
        elif how.startswith("error"):
            self._say("error", f"Training stopped: {how[7:]}", error=True)
        self.update_buttons()

    def clear_message(self):
        if self._message_kind in ("invalid", "misfit") and not self.can_train:
            return  # still true
        self._suggested = None
        self._say(None, "")


    def add_rate_tool(self, widget):
        """A slot beside the learning-rate field: ``widget`` goes to its right, in the same row."""
        row = getattr(self, "_rate_row", None)
        if row is None:
            box = QWidget()
            row = self._rate_row = QHBoxLayout(box)
            row.setContentsMargins(0, 0, 0, 0)
            self.trainer_form.replaceWidget(self.lr, box)
            row.addWidget(self.lr, 1)
        row.addWidget(widget)
