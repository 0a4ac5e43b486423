"""What long computations (explanations, unit images, embeddings) share with whoever runs them.

They take two optional callables, so that a background job can follow and stop them
without the engine knowing about threads or Qt: ``progress(fraction)`` with the fraction
done (0 to 1) after each piece of work, and ``cancelled() -> bool``, asked between
pieces; when it says True the computation raises ``engine.errors.Cancelled``.
"""
from engine.core.errors import Cancelled


class Reporter:
    """``progress``/``cancelled`` callbacks, either of which may be None."""

    __slots__ = ("_progress", "_cancelled", "start", "span")

    def __init__(self, progress=None, cancelled=None, start=0.0, span=1.0):
        self._progress = progress
        self._cancelled = cancelled
        self.start, self.span = start, span

    def check(self):
        """Raise ``Cancelled`` if the cancel check says so."""
        if self._cancelled is not None and self._cancelled():
            raise Cancelled("cancelled")

    def progress(self, fraction):
        """Report ``fraction`` of this part done (and check for cancellation)."""
        if self._progress is not None:
            self._progress(self.start + self.span * min(max(fraction, 0.0), 1.0))
        self.check()

    def part(self, start, span):
        """A reporter for a part of this work: its 0..1 maps to ``start .. start+span`` of ours."""
        return Reporter(self._progress, self._cancelled, self.start + self.span * start,
                        self.span * span)
