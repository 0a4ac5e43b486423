"""The coach's alerts in the Train place: what is going wrong while it goes wrong, with the fix.

Each alert of ``engine.coach`` (rate too high, stuck at chance, dead ReLUs, overfitting,
updates tiny) becomes a card: the coach's sentence and a button per fix. A live fix
("lower the learning rate to 0.01") goes through the session's settings, so the running
trainer takes it before its next batch and the run records it (a marker on its curves);
a fix that changes the network ("a leaky ReLU … (a new run)") is an edit in Build, which
asks before it stops the run. New weights clear the cards.
"""
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

TITLES = {"rate_too_high": "Learning rate too high", "stuck_at_chance": "Stuck at chance",
          "dead_relus": "Dead ReLUs", "overfitting": "Overfitting", "updates_tiny": "Updates tiny"}
MAX_CARDS = 3


class AlertCard(QFrame):
    """One alert: its title, the coach's sentence and a button per fix."""

    def __init__(self, alert, apply, dismiss, parent=None):
        super().__init__(parent)
        self.setObjectName("coachAlert")
        self.alert = alert
        self.setFrameShape(QFrame.StyledPanel)
        self.setStyleSheet("#coachAlert { border: 1px solid #e0a030; border-radius: 4px; }")
        title = QLabel(f"Coach: {TITLES.get(alert['kind'], alert['kind'])} "
                       f"(at {alert['examples_seen']:,} examples)")
        title.setStyleSheet("font-weight: bold")
        self.text = QLabel(alert["message"])
        self.text.setObjectName("coachMessage")
        self.text.setTextFormat(Qt.PlainText)
        self.text.setWordWrap(True)
        self.text.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        close = QPushButton("×")
        close.setObjectName("coachDismiss")
        close.setFlat(True)
        close.setFixedWidth(24)
        close.setToolTip("Dismiss")
        close.clicked.connect(lambda: dismiss(self))
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(title, 1)
        head.addWidget(close)
        self.buttons = []
        fixes = QHBoxLayout()
        fixes.setContentsMargins(0, 0, 0, 0)
        for k, fix in enumerate(alert.get("fixes") or []):
            b = QPushButton(fix["label"][:1].upper() + fix["label"][1:])
            b.setObjectName("coachFix" if k == 0 else f"coachFix{k + 1}")
            b.setAutoDefault(False)
            b.setToolTip("Changes the running trainer at its next batch." if fix.get("live") else
                         "Changes the network: a new run trains it.")
            b.clicked.connect(lambda _=False, f=fix, b=b: apply(self, f, b))
            fixes.addWidget(b)
            self.buttons.append(b)
        fixes.addStretch(1)
        self.done = QLabel()
        self.done.setObjectName("coachApplied")
        self.done.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 6)
        lay.setSpacing(2)
        lay.addLayout(head)
        lay.addWidget(self.text)
        lay.addLayout(fixes)
        lay.addWidget(self.done)


class CoachAlerts(QWidget):
    """The coach's alerts of the run being trained (newest first), above the Train plots."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("coachAlerts")
        self.session = session
        self.cards = []
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 4)
        self._lay.setSpacing(4)
        session.training.report.connect(self._report)
        session.runStarted.connect(self.clear)
        self.hide()

    def alerts(self):
        return [c.alert for c in self.cards]

    def _report(self, r):
        for alert in r.get("alerts") or ():
            self.add(alert)

    def add(self, alert):
        for c in list(self.cards):
            if c.alert["kind"] == alert["kind"]:
                self._remove(c)  # the newer word on the same trouble
        card = AlertCard(alert, self._apply, self._remove)
        self.cards.insert(0, card)
        self._lay.insertWidget(0, card)
        while len(self.cards) > MAX_CARDS:
            self._remove(self.cards[-1])
        self.show()

    def _remove(self, card):
        if card in self.cards:
            self.cards.remove(card)
            card.setParent(None)
            card.deleteLater()
        self.setVisible(bool(self.cards))

    def clear(self, *_):
        for c in list(self.cards):
            self._remove(c)

    def _apply(self, card, fix, button):
        if self.session.apply_fix(fix):
            for b in card.buttons:
                b.setEnabled(False)
            when = "from the next batch" if fix.get("live") and self.session.training.running else "for the next run"
            card.done.setText(f"Applied {when}: {fix['label']}.")
            card.done.show()
