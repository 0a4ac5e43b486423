"""An outline in the accent colour around the widget a tour step talks about.

The outline is one small widget on top of the window, shaped (masked) to a ring around
the target, and transparent to the mouse: it never takes a click, a key or the focus,
and it covers nothing but the ring. It follows the target as it moves, resizes, scrolls,
shows and hides, by watching the target and every widget it sits in (no timer).
Where the target is clipped by a scroll area, the ring goes around the part on screen.
"""
from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QRegion
from PySide6.QtWidgets import QWidget

from workbench.views.theme import ACCENT

MARGIN = 3   # px between the target and the ring's inner edge
WIDTH = 3    # px of ring
_WATCHED = (QEvent.Move, QEvent.Resize, QEvent.Show, QEvent.Hide, QEvent.ParentChange,
            QEvent.LayoutRequest)


def visible_rect(widget, window, part=None):
    """The part of ``widget`` on screen (or of the rectangle ``part`` in it), in ``window``'s
    coordinates (empty if none)."""
    if widget is None or not widget.isVisible() or widget.window() is not window.window():
        return QRect()
    rect = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
    if part is not None:
        rect &= part.translated(rect.topLeft())
    w = widget.parentWidget()
    while w is not None and w is not window:
        if not w.isVisible():
            return QRect()
        rect &= QRect(w.mapTo(window, QPoint(0, 0)), w.size())
        w = w.parentWidget()
    return rect & window.rect()


class Highlight(QWidget):
    """The accent ring around ``target`` (a widget in ``window``, or a part of one), or nothing
    when it is off screen."""

    def __init__(self, window):
        super().__init__(window)
        self.setObjectName("tourHighlight")
        self.setAttribute(Qt.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WA_NoSystemBackground)
        self.setAttribute(Qt.WA_TranslucentBackground)
        self.setFocusPolicy(Qt.NoFocus)
        self.target = None
        self.part = None     # callable: the rectangle of the target to outline (None: all of it)
        self.ring = QRect()  # the target's visible part that the ring goes around
        self._watched = []
        self._follower = _Follower(self)
        window.installEventFilter(self._follower)
        self.hide()

    def point_at(self, widget, part=None):
        """Outline ``widget`` (None: nothing), or the rectangle ``part()`` of it."""
        for w in self._watched:
            try:
                w.removeEventFilter(self._follower)
            except RuntimeError:  # already deleted
                pass
        self._watched = []
        self.target, self.part = widget, part
        w = widget
        while w is not None and w is not self.parentWidget():
            w.installEventFilter(self._follower)
            self._watched.append(w)
            w = w.parentWidget()
        self.follow()

    def follow(self):
        """Put the ring where the target is now."""
        window = self.parentWidget()
        try:
            rect = QRect() if self.target is None else \
                visible_rect(self.target, window, self.part() if self.part else None)
        except RuntimeError:  # the target was deleted
            self.target, rect = None, QRect()
        if rect == self.ring and self.isVisible() == (not rect.isEmpty()):
            return  # nothing moved (most events: a label's new text asking for a layout)
        self.ring = rect
        if rect.isEmpty():
            self.hide()
            return
        outer = rect.adjusted(-MARGIN - WIDTH, -MARGIN - WIDTH, MARGIN + WIDTH, MARGIN + WIDTH) & window.rect()
        self.setGeometry(outer)
        inner = QRect(rect.adjusted(-MARGIN + 1, -MARGIN + 1, MARGIN - 1, MARGIN - 1))
        inner.translate(-outer.topLeft())
        self.setMask(QRegion(QRect(QPoint(0, 0), outer.size())) - QRegion(inner))
        self.show()
        self.raise_()
        self.update()

    def paintEvent(self, e):
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        r = QRectF(self.rect()).adjusted(WIDTH / 2 + 0.5, WIDTH / 2 + 0.5, -WIDTH / 2 - 0.5, -WIDTH / 2 - 0.5)
        path = QPainterPath()
        path.addRoundedRect(r, 6, 6)
        glow = QColor(ACCENT)
        glow.setAlpha(70)
        p.setPen(QPen(glow, WIDTH + 2))
        p.drawPath(path)
        p.setPen(QPen(ACCENT, WIDTH))
        p.drawPath(path)
        p.end()


class _Follower(QObject):
    """Moves the ring when the target or anything around it moves, resizes, shows or hides."""

    def __init__(self, highlight):
        super().__init__(highlight)
        self.highlight = highlight

    def eventFilter(self, obj, e):
        if e.type() in _WATCHED:
            self.highlight.follow()
        return False
