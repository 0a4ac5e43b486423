"""What opening a file gives the session: the one result type the reader and its child process share."""
from dataclasses import dataclass, field
from typing import Any, Optional

from engine.runs.experiment import Experiment


@dataclass
class Opened:
    """A file (or preset) read and checked, ready for the session.

    ``net`` is None for an experiment without weights; ``layers`` are the definitions
    the builder shows for ``net``; ``path`` is where Save writes (None:
    Save asks, as for a preset or a file that holds weights).
    """

    name: str
    experiment: Optional[Experiment]
    net: Any = None
    layers: Optional[list] = None
    path: Optional[str] = None
    source: Optional[str] = None   # the file read, for recent files (None: a preset)
    notes: list = field(default_factory=list)
