"""The tour's panel: a slim dock at the side with the step's words and Back / Show me / Next.

It shows what the tour (``workbench.tour.tour.Tour``) tells it and reports the buttons
as signals; it decides nothing. Three pages: the first-start offer, a step, and the end
(which offers the learner's own network back). Nothing here is modal, and the step's
words are shown as plain text, whatever the tour file holds.
"""
import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.views.theme import ACCENT

MIN_WIDTH, WIDTH, MAX_WIDTH = 210, 300, 340  # px: slim, beside places that need ~800 px at 1024x640


def _label(name=None, rich=False, bold=False, scale=1.0):
    w = QLabel()
    if name:
        w.setObjectName(name)
    w.setWordWrap(True)
    w.setTextFormat(Qt.RichText if rich else Qt.PlainText)
    w.setTextInteractionFlags(Qt.TextSelectableByMouse)
    if bold or scale != 1.0:
        f = QFont(w.font())
        f.setBold(bold)
        f.setPointSizeF(f.pointSizeF() * scale)
        w.setFont(f)
    return w


def _button(text, name, slot):
    b = QPushButton(text)
    b.setObjectName(name)
    b.setAutoDefault(False)
    b.clicked.connect(lambda: slot())
    return b


class ExampleStrip(QWidget):
    """A few digits of the dataset, each with the crop the network trains on outlined."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("tourExamples")
        self.images, self.labels, self.crop = [], [], None
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)

    def set_examples(self, images, labels, crop=None):
        """``images`` (N, H, W, C) uint8, ``labels`` text per image, ``crop`` pixels or None."""
        self.images = [np.ascontiguousarray(im[:, :, 0] if im.shape[2] == 1 else im[:, :, :3]) for im in images]
        self.labels, self.crop = list(labels), crop
        self.updateGeometry()
        self.update()

    def _cell(self):
        return 56, 18  # image side, caption height

    def _columns(self):
        side, _ = self._cell()
        return max(1, (self.width() + 6) // (side + 6))

    def sizeHint(self):
        side, cap = self._cell()
        cols = min(4, max(1, len(self.images)))
        rows = -(-len(self.images) // cols) if self.images else 0
        return QSize(cols * (side + 6), rows * (side + cap + 4))

    def hasHeightForWidth(self):
        return True

    def heightForWidth(self, w):
        side, cap = self._cell()
        cols = max(1, (w + 6) // (side + 6))
        rows = -(-len(self.images) // cols) if self.images else 0
        return rows * (side + cap + 4)

    def resizeEvent(self, e):
        self.setFixedHeight(self.heightForWidth(self.width()))
        super().resizeEvent(e)

    def paintEvent(self, e):
        p = QPainter(self)
        side, cap = self._cell()
        cols = self._columns()
        for k, (im, label) in enumerate(zip(self.images, self.labels)):
            r, c = divmod(k, cols)
            x, y = c * (side + 6), r * (side + cap + 4)
            h, w = im.shape[:2]
            fmt = QImage.Format_Grayscale8 if im.ndim == 2 else QImage.Format_RGB888
            q = QImage(im.data, w, h, im.strides[0], fmt).copy()
            p.drawImage(QRectF(x, y, side, side), q)
            if self.crop and self.crop < h:
                s = side / h
                o = (h - self.crop) / 2 * s
                p.setPen(QPen(ACCENT, 1.5, Qt.DashLine))
                p.drawRect(QRectF(x + o, y + o, self.crop * s, self.crop * s))
            p.setPen(self.palette().text().color())
            p.drawText(QRectF(x, y + side, side, cap), Qt.AlignCenter, str(label))
        p.end()


class TourPanel(QDockWidget):
    """The tour at the side of the window. Its buttons are signals; ``Tour`` fills it in.

    Signals
    -------
    startRequested, notNowRequested : the first-start offer's buttons
    backRequested, showMeRequested, nextRequested, endRequested : a step's buttons
    restoreRequested, keepRequested : the end's buttons
    closeRequested : the panel's close button (the tour decides what closing means)
    """

    startRequested = Signal()
    notNowRequested = Signal()
    backRequested = Signal()
    showMeRequested = Signal()
    nextRequested = Signal()
    endRequested = Signal()
    restoreRequested = Signal()
    keepRequested = Signal()
    closeRequested = Signal()

    def __init__(self, labels, name, title, parent=None):
        super().__init__(name, parent)
        self.setObjectName("tourPanel")
        self.setFeatures(QDockWidget.DockWidgetClosable | QDockWidget.DockWidgetMovable)
        self.setAllowedAreas(Qt.LeftDockWidgetArea | Qt.RightDockWidgetArea)
        self.labels = labels
        self.lesson_title = title
        self.pages = QStackedWidget()
        self.pages.addWidget(self._offer_page())
        self.pages.addWidget(self._step_page())
        self.pages.addWidget(self._end_page())
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.pages)
        body.setMinimumWidth(MIN_WIDTH)
        body.setMaximumWidth(MAX_WIDTH)
        self.setWidget(body)

    # -- pages ---------------------------------------------------------------------------------
    def _page(self):
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(12, 8, 12, 12)
        lay.setSpacing(8)
        return page, lay

    def _offer_page(self):
        page, lay = self._page()
        heading = _label(bold=True, scale=1.25)
        heading.setText(self.lesson_title)
        self.offer_text = _label("tourOffer")
        lay.addWidget(heading)
        lay.addWidget(self.offer_text)
        row = QHBoxLayout()
        self.start_button = _button(self.labels["start"], "tourStart", self.startRequested.emit)
        self.start_button.setDefault(True)
        row.addWidget(self.start_button)
        row.addWidget(_button(self.labels["not_now"], "tourNotNow", self.notNowRequested.emit))
        lay.addLayout(row)
        lay.addStretch(1)
        return page

    def _step_page(self):
        page, lay = self._page()
        self.counter = _label("tourCounter")
        self.counter.setStyleSheet("color: palette(placeholder-text)")
        self.title = _label("tourTitle", bold=True, scale=1.25)
        self.text = _label("tourText")
        self.note = _label("tourNote")
        self.note.setStyleSheet("color: palette(placeholder-text)")
        self.examples = ExampleStrip()
        words = QWidget()
        wl = QVBoxLayout(words)
        wl.setContentsMargins(0, 0, 4, 0)
        wl.setSpacing(8)
        wl.addWidget(self.title)
        wl.addWidget(self.text)
        wl.addWidget(self.examples)
        wl.addWidget(self.note)
        wl.addStretch(1)
        scroll = QScrollArea()  # long words scroll on small screens; the buttons stay
        scroll.setWidget(words)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.status = _label("tourStatus")
        buttons = QHBoxLayout()
        self.back_button = _button(self.labels["back"], "tourBack", self.backRequested.emit)
        self.show_button = _button(self.labels["show_me"], "tourShowMe", self.showMeRequested.emit)
        self.next_button = _button(self.labels["next"], "tourNext", self.nextRequested.emit)
        for b in (self.back_button, self.show_button, self.next_button):
            buttons.addWidget(b)
        self.end_button = _button(self.labels["end"], "tourEnd", self.endRequested.emit)
        self.end_button.setFlat(True)
        lay.addWidget(self.counter)
        lay.addWidget(scroll, 1)
        lay.addWidget(self.status)
        lay.addLayout(buttons)
        lay.addWidget(self.end_button, 0, Qt.AlignRight)
        return page

    def _end_page(self):
        page, lay = self._page()
        heading = _label(bold=True, scale=1.25)
        heading.setText(self.labels["end_title"])
        self.end_text = _label("tourEndText")
        lay.addWidget(heading)
        lay.addWidget(self.end_text)
        self.restore_button = _button(self.labels["restore"], "tourRestore", self.restoreRequested.emit)
        self.keep_button = _button(self.labels["keep"], "tourKeep", self.keepRequested.emit)
        lay.addWidget(self.restore_button)
        lay.addWidget(self.keep_button)
        lay.addStretch(1)
        return page

    # -- what the tour shows ---------------------------------------------------------------------
    @property
    def page(self):
        return ("offer", "step", "end")[self.pages.currentIndex()]

    def show_offer(self, text):
        self.offer_text.setText(text)
        self.pages.setCurrentIndex(0)
        self.show()

    def show_step(self, n, total, step, examples=None, note=""):
        """Step ``n`` (from 1) of ``total``; ``examples`` is ``(images, labels, crop)`` or None;
        ``note``: a line under the words (what the tour did, what it found)."""
        self.counter.setText(self.labels["step"].replace("{n}", str(n)).replace("{total}", str(total)))
        self.title.setText(step["title"])
        self.text.setText(step["text"])
        self.show_note(note)
        self.examples.setVisible(examples is not None)
        if examples is not None:
            self.examples.set_examples(*examples)
        self.back_button.setEnabled(n > 1)
        self.next_button.setText(self.labels["finish"] if n == total else self.labels["next"])
        self.pages.setCurrentIndex(1)
        self.show()

    def show_note(self, text):
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def show_status(self, done, text):
        """Below the words: what to try, or that the step is done (then Next is the default)."""
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {QColor('#2e9d62').name()}" if done else "")
        self.next_button.setDefault(done)
        f = QFont(self.next_button.font())
        f.setBold(done)
        self.next_button.setFont(f)

    def show_end(self, text, can_restore):
        self.end_text.setText(text)
        self.restore_button.setVisible(can_restore)
        self.keep_button.setText(self.labels["keep"] if can_restore else self.labels["finish"])
        self.pages.setCurrentIndex(2)
        self.show()

    def closeEvent(self, e):
        e.ignore()  # the tour decides: mid-tour, closing offers the learner's network back first
        self.closeRequested.emit()
