"""Does the network fit the data: the builder says so, and offers to adapt it.

When the input layer does not take the dataset's images (size or channels) or the loss
layer's class count is not the dataset's, a banner above the stack says what does not
fit, the input and loss cards carry a note, the stack header a warning, and "Adapt the
network" changes the input layer and the class count in one step that Undo takes back
(``engine.datasets.fit_layer_defs``, as the CLI's ``--fit-input``).
"""
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from engine.core.errors import EngineError
from engine.data.formats import describe

from ..data import dialogs
from .stack import WARNING_COLOR


class DataFitBanner(QFrame):
    """The builder's word on network and data: shown only when they do not fit."""

    def __init__(self, session, stack_panel, parent=None):
        super().__init__(parent)
        self.setObjectName("dataFitBanner")
        self.session = session
        self.stack_panel = stack_panel
        self.setFrameShape(QFrame.StyledPanel)
        self.setStyleSheet(f"#dataFitBanner {{ border: 1px solid {WARNING_COLOR.name()}; border-radius: 6px; }}")
        self.text = QLabel()
        self.text.setObjectName("dataFitText")
        self.text.setTextFormat(Qt.PlainText)  # the dataset's name comes from a file
        self.text.setWordWrap(True)
        self.button = QPushButton("Adapt the network")
        self.button.setObjectName("adaptNetworkButton")
        self.button.setAutoDefault(False)
        self.button.clicked.connect(self.adapt)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.button, 0, Qt.AlignVCenter)
        self.problems = []
        session.doc.changed.connect(self.update_fit)
        session.data.changed.connect(self.update_fit)
        self.update_fit()

    def update_fit(self):
        s = self.session
        fit = s.data_fit()
        notes = {}
        self.problems = []
        if fit:
            last = len(s.doc.layers) - 1
            if fit["input"]:
                notes[0] = f"Does not fit {s.data.dataset.name}: " + "; ".join(fit["input"])
            if fit["loss"]:
                notes[last] = f"Does not fit {s.data.dataset.name}: " + "; ".join(fit["loss"])
            self.problems = fit["input"] + fit["loss"]
        header = f"does not fit {s.data.dataset.name}" if self.problems else None
        self.stack_panel.set_data_fit(notes, header)
        if self.problems:
            self.text.setText(f"This network does not fit {describe(s.data.dataset)}: {'; '.join(self.problems)}.")
            self.button.setToolTip("Give the input layer the images' size and channels and the loss layer "
                                   "the data's class count (one step; Undo takes it back).")
        self.setVisible(bool(self.problems))

    def adapt(self):
        """Adapt the input layer and the class count to the data, in one undoable step."""
        try:
            changes = self.session.fit_network_to_data()
        except EngineError as e:
            dialogs.warn(self.window(), "Cannot adapt the network", str(e))
            return []
        return changes
