"""Training controls and the numbers ConvNetJS shows, in a narrow column."""
import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout,
                               QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from engine.schedules import KINDS, Schedule
from engine.trainer import METHODS

METHOD_TIPS = {
    "sgd": "Stochastic gradient descent, with momentum when momentum > 0.",
    "nesterov": "SGD with Nesterov momentum: looks ahead along the momentum before stepping.",
    "adagrad": "Per-parameter learning rates that shrink with the sum of squared gradients.",
    "windowgrad": "Adagrad over a moving window of squared gradients (RMSprop).",
    "adadelta": "No learning rate to tune: steps scale with a running ratio of updates to gradients. "
                "The ConvNetJS demo's trainer.",
    "adam": "Running averages of the gradient and its square, bias-corrected (Kingma & Ba).",
}


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


class TrainPanel(QWidget):
    """Trainer settings, the buttons, the progress and the statistics of a run."""

    trainRequested = Signal()
    stepRequested = Signal()
    epochRequested = Signal()
    resetRequested = Signal()

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.setObjectName("trainPanel")
        self.c = controller
        opts = controller.trainer_options
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)

        data = QGroupBox("Data")
        f = QFormLayout(data)
        self.dataset = QComboBox()
        self.dataset.addItem(f"MNIST (bundled, {len(controller.dataset.train):,} + "
                             f"{len(controller.dataset.test):,})")
        self.dataset.setToolTip("The dataset the network trains on.")
        f.addRow("Dataset", self.dataset)
        self.validation = QSpinBox()
        self.validation.setRange(0, 20000)
        self.validation.setSingleStep(1000)
        self.validation.setValue(controller.validation_size)
        self.validation.setToolTip("Training images held out to measure validation accuracy "
                                   "(applies when training starts).")
        self.validation.valueChanged.connect(lambda v: setattr(self.c, "validation_size", v))
        f.addRow("Validation", self.validation)
        self.crop = QCheckBox("random crop")
        self.crop.setChecked(True)
        self.crop.setToolTip("Train on random crops of the 28x28 digits (as the ConvNetJS demo, to "
                             "24x24); test on the centre crop.")
        self.crop.toggled.connect(lambda on: self.c.set_augment(crop=on))
        self.shift = QSpinBox()
        self.shift.setRange(0, 4)
        self.shift.setSuffix(" px")
        self.shift.setToolTip("Random shift of each training image by up to this many pixels.")
        self.shift.valueChanged.connect(lambda v: self.c.set_augment(shift=v))
        self.flip = QCheckBox("flip")
        self.flip.setToolTip("Random horizontal flips (not useful for digits; for other data).")
        self.flip.toggled.connect(lambda on: self.c.set_augment(flip=on))
        aug = QHBoxLayout()
        aug.addWidget(self.crop)
        aug.addWidget(QLabel("shift"))
        aug.addWidget(self.shift)
        aug.addWidget(self.flip)
        f.addRow("Augment", aug)
        lay.addWidget(data)

        tr = QGroupBox("Trainer")
        f = QFormLayout(tr)
        self.method = QComboBox()
        for m in METHODS:
            self.method.addItem(m, m)
            self.method.setItemData(self.method.count() - 1, METHOD_TIPS[m], Qt.ToolTipRole)
        self.method.setCurrentIndex(METHODS.index(opts["method"]))
        self.method.setToolTip("The update rule. Changes apply at the next batch.")
        self.method.currentIndexChanged.connect(self._method_changed)
        f.addRow("Method", self.method)
        self.lr = _LogSpin()
        self.lr.setDecimals(6)
        self.lr.setRange(0.0, 1000.0)
        self.lr.setValue(opts["learning_rate"])
        self.lr.setToolTip("Step size. Too high and the network diverges; arrows halve or double it.")
        self.lr.valueChanged.connect(lambda v: self.c.set_trainer_option("learning_rate", v))
        f.addRow("Learning rate", self.lr)
        self.schedule = QComboBox()
        self.schedule.addItems(KINDS)
        self.schedule.setToolTip("Anneal the learning rate as examples are seen: step (x0.1 every "
                                 "epoch), exponential, or cosine to zero over 10 epochs.")
        self.schedule.currentTextChanged.connect(self._schedule_changed)
        f.addRow("Schedule", self.schedule)
        self.momentum = QDoubleSpinBox()
        self.momentum.setRange(0.0, 0.999)
        self.momentum.setDecimals(3)
        self.momentum.setSingleStep(0.05)
        self.momentum.setValue(opts["momentum"])
        self.momentum.setToolTip("Momentum for sgd and nesterov.")
        self.momentum.valueChanged.connect(lambda v: self.c.set_trainer_option("momentum", v))
        f.addRow("Momentum", self.momentum)
        self.batch = QSpinBox()
        self.batch.setRange(1, 1024)
        self.batch.setValue(opts["batch_size"])
        self.batch.setToolTip("Examples per update.")
        self.batch.valueChanged.connect(lambda v: self.c.set_trainer_option("batch_size", v))
        f.addRow("Batch size", self.batch)
        self.l1 = _LogSpin()
        self.l1.setDecimals(6)
        self.l1.setRange(0.0, 1.0)
        self.l1.setValue(opts["l1_decay"])
        self.l1.setToolTip("L1 weight decay (pushes weights to exactly zero).")
        self.l1.valueChanged.connect(lambda v: self.c.set_trainer_option("l1_decay", v))
        f.addRow("L1 decay", self.l1)
        self.l2 = _LogSpin()
        self.l2.setDecimals(6)
        self.l2.setRange(0.0, 1.0)
        self.l2.setValue(opts["l2_decay"])
        self.l2.setToolTip("L2 weight decay (keeps weights small).")
        self.l2.valueChanged.connect(lambda v: self.c.set_trainer_option("l2_decay", v))
        f.addRow("L2 decay", self.l2)
        lay.addWidget(tr)

        buttons = QGridLayout()
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("trainButton")
        self.train_button.setToolTip("Start training (Ctrl+Return).")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Pause or resume between batches (Space in this tab).")
        self.step_button = QPushButton("Step")
        self.step_button.setObjectName("stepButton")
        self.step_button.setToolTip("Train one batch, then pause.")
        self.epoch_button = QPushButton("+1 epoch")
        self.epoch_button.setObjectName("epochButton")
        self.epoch_button.setToolTip("Train one more pass over the training set, then stop.")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.reset_button = QPushButton("Reset weights")
        self.reset_button.setObjectName("resetButton")
        self.reset_button.setToolTip("New random weights; the current curves are greyed for comparison.")
        for k, b in enumerate((self.train_button, self.pause_button, self.step_button,
                               self.epoch_button, self.stop_button, self.reset_button)):
            b.setAutoDefault(False)
            buttons.addWidget(b, k // 2, k % 2)
        self.train_button.clicked.connect(self.trainRequested)
        self.pause_button.clicked.connect(self._pause_clicked)
        self.step_button.clicked.connect(self.stepRequested)
        self.epoch_button.clicked.connect(self.epochRequested)
        self.stop_button.clicked.connect(lambda: self.c.stop(wait=False))
        self.reset_button.clicked.connect(self.resetRequested)
        lay.addLayout(buttons)

        self.progress = QProgressBar()
        self.progress.setObjectName("epochProgress")
        self.progress.setRange(0, 1000)
        self.progress.setFormat("epoch 0")
        lay.addWidget(self.progress)

        stats = QGroupBox("Statistics")
        g = QGridLayout(stats)
        g.setVerticalSpacing(2)
        self.stat_labels = {}
        rows = [("examples", "Examples seen"), ("speed", "Examples / s"), ("fwd", "Forward / example"),
                ("bwd", "Backward / example"), ("lr", "Learning rate"), ("loss", "Cost loss"),
                ("decay", "Decay loss"), ("train", "Training accuracy"),
                ("validation", "Validation accuracy"), ("test", "Test accuracy")]
        for k, (key, text) in enumerate(rows):
            name = QLabel(text)
            name.setForegroundRole(name.foregroundRole())
            value = QLabel("–")
            value.setObjectName(f"stat_{key}")
            value.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
            value.setTextInteractionFlags(Qt.TextSelectableByMouse)
            g.addWidget(name, k, 0)
            g.addWidget(value, k, 1)
            self.stat_labels[key] = value
        lay.addWidget(stats)
        self.message = QLabel()
        self.message.setObjectName("trainMessage")
        self.message.setWordWrap(True)
        lay.addWidget(self.message)
        lay.addStretch(1)
        self.setMaximumWidth(380)
        self._train_count = 0
        controller.report.connect(self.on_report)
        controller.runningChanged.connect(lambda _: self.update_buttons())
        controller.pausedChanged.connect(lambda _: self.update_buttons())
        controller.finished.connect(self._finished)
        self._method_changed()
        self.can_train = True
        self.update_buttons()

    # -- settings -------------------------------------------------------------------
    def _method_changed(self, *_):
        m = self.method.currentData()
        self.c.set_trainer_option("method", m)
        self.momentum.setEnabled(m in ("sgd", "nesterov"))
        self.lr.setEnabled(m != "adadelta")
        self.method.setToolTip(METHOD_TIPS[m])

    def _schedule_changed(self, kind):
        if kind == "constant":
            self.c.set_schedule(None)
            return
        n = len(self.c.dataset.train) - self.c.validation_size
        self.c.set_schedule(Schedule(kind, base=self.lr.value(), factor=0.1 if kind == "step" else 0.3,
                                     every=n, total=10 * n, minimum=0.0))

    def set_trainer_options(self, opts):
        """Show a preset's trainer settings (and pass them on)."""
        if "method" in opts:
            self.method.setCurrentIndex(METHODS.index(opts["method"]))
        for key, w in (("learning_rate", self.lr), ("momentum", self.momentum),
                       ("batch_size", self.batch), ("l1_decay", self.l1), ("l2_decay", self.l2)):
            if key in opts:
                w.setValue(opts[key])
        for key in ("eps", "ro", "beta1", "beta2"):
            if key in opts:
                self.c.set_trainer_option(key, opts[key])

    # -- buttons ------------------------------------------------------------------------
    def _pause_clicked(self, checked):
        if checked:
            self.c.pause()
        else:
            self.c.resume()

    def update_buttons(self):
        running, paused = self.c.running, self.c.paused
        self.train_button.setEnabled(self.can_train and (not running or paused))
        self.train_button.setText("Resume" if paused else "Train")
        self.pause_button.setEnabled(running)
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.blockSignals(False)
        self.step_button.setEnabled(self.can_train and (not running or paused))
        self.epoch_button.setEnabled(self.can_train and not running)
        self.stop_button.setEnabled(running)
        self.reset_button.setEnabled(self.can_train and not running)

    def set_can_train(self, ok, why=""):
        self.can_train = ok
        self.train_button.setToolTip("Start training (Ctrl+Return)." if ok else f"Cannot train: {why}")
        self.update_buttons()

    # -- reports ---------------------------------------------------------------------------
    def _set(self, key, text):
        self.stat_labels[key].setText(text)

    def on_report(self, r):
        tag = r["tag"]
        self._set("examples", f"{r['examples_seen']:,}")
        epoch = r.get("epoch", 0.0)
        self.progress.setValue(int((epoch % 1) * 1000))
        self.progress.setFormat(f"epoch {int(epoch) + 1}: %p%")
        self._set("lr", f"{r['learning_rate']:.4g}")
        if tag == "progress" and r.get("examples"):
            self._set("speed", f"{r['examples_per_second']:,.0f}")
            self._set("fwd", f"{r['fwd_ms_per_example']:.3f} ms")
            self._set("bwd", f"{r['bwd_ms_per_example']:.3f} ms")
            self._set("loss", f"{r['cost_loss']:.4f}")
            self._set("decay", f"{r['decay_loss']:.4f}")
            if math.isfinite(r["train_accuracy"]):
                self._set("train", f"{r['train_accuracy']:.1%}")
        elif tag == "eval":
            if "validation_accuracy" in r:
                self._set("validation", f"{r['validation_accuracy']:.2%}")
            if "test_accuracy" in r:
                self._set("test", f"{r['test_accuracy']:.2%}")
        elif tag == "diverged":
            self.message.setText(r["message"])
            self.message.setStyleSheet("color: #d64545")

    def _finished(self, how):
        if how == "done":
            self.message.setText("Finished.")
            self.message.setStyleSheet("")
        elif how.startswith("error"):
            self.message.setText(f"Training stopped: {how[7:]}")
            self.message.setStyleSheet("color: #d64545")
        self.update_buttons()

    def clear_message(self):
        self.message.setText("")
        self.message.setStyleSheet("")
