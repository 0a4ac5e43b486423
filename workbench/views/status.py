"""The status bar's permanent part: which network and data, whether a run is going, examples, accuracy."""
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QLabel


class StatusView(QObject):
    """Labels in ``status_bar`` that follow the session."""

    def __init__(self, session, status_bar):
        super().__init__(status_bar)
        self.session = session
        self.network = QLabel()
        self.network.setObjectName("statusNetwork")
        self.data = QLabel()
        self.data.setObjectName("statusData")
        self.data.setTextFormat(Qt.PlainText)  # the dataset's name comes from a file
        self.run = QLabel("idle")
        self.run.setObjectName("statusRun")
        self.examples = QLabel()
        self.examples.setObjectName("statusExamples")
        self.accuracy = QLabel()
        self.accuracy.setObjectName("statusAccuracy")
        for w in (self.network, self.data, self.run, self.examples, self.accuracy):
            w.setTextFormat(Qt.PlainText)  # names come from files
            status_bar.addPermanentWidget(w)
        session.doc.changed.connect(self._show_network)
        session.doc.undo_stack.cleanChanged.connect(self._clean_changed)
        session.settingsChanged.connect(self._show_network)
        session.data.changed.connect(self._show_data)
        session.data.loading.connect(self._show_data)
        session.training.runningChanged.connect(self._show_run)
        session.training.pausedChanged.connect(self._show_run)
        session.runStarted.connect(self._clear_run)
        session.data.changed.connect(self._clear_run)
        session.training.report.connect(self._report)
        session.training.historyRestored.connect(self._history)
        self._show_network()
        self._show_data()

    def _clean_changed(self, clean):
        # from the signal's argument: the stack may be on its way out (the window closing)
        self._show_network(clean)

    def _show_network(self, clean=None):
        doc = self.session.doc
        clean = doc.undo_stack.isClean() if clean is None else clean
        mark = " *" if self.session.settings_modified or not clean else ""
        self.network.setText(f"{doc.name}{mark} · {doc.total_params:,} params" if doc.valid
                             else f"{doc.name}{mark} · invalid")

    def _show_data(self, *_):
        ds = self.session.data.dataset
        loading = " · loading another dataset…" if self.session.data.busy else ""
        self.data.setText(f"{ds.name} {len(ds.train):,} / {len(ds.test):,}{loading}")

    def _show_run(self):
        s = self.session
        self.run.setText("paused" if s.training.paused else ("training" if s.training.running else "idle"))

    def _history(self, record):
        s = self.session
        self.examples.setText(f"{s.examples_seen:,} examples · epoch {s.examples_seen / max(1, s.n_train()):.2f}")
        m = record.get("metrics") or {}
        for key, word in (("validation_accuracy", "validation"), ("test_accuracy", "test")):
            if isinstance(m.get(key), (int, float)):
                self.accuracy.setText(f"{word} {m[key]:.2%}")
                break

    def _clear_run(self):
        self.examples.setText("")
        self.accuracy.setText("")

    def _report(self, r):
        self.examples.setText(f"{r['examples_seen']:,} examples · epoch {r['epoch']:.2f}")
        if r["tag"] == "eval" and "validation_accuracy" in r:
            self.accuracy.setText(f"validation {r['validation_accuracy']:.2%}")
        elif r["tag"] == "eval" and "test_accuracy" in r:
            self.accuracy.setText(f"test {r['test_accuracy']:.2%}")
