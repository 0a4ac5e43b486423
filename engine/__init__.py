"""A numpy deep-learning engine that speaks ConvNetJS.

The public surface is described in docs/engine-api.md: ``Net``, ``Trainer``,
``infer_shapes``, ``SpecError``, ``engine.digits`` and ``engine.explain``; ``engine.teach(net,
experiment, images, labels, seconds=...)`` fine-tunes a network on a learner's drawings
(``engine.teach``'s module: ``from engine.teach import ...``). The engine never imports Qt.
"""
from . import digits, explain
from .errors import DataError, EngineError, LimitError, OptionError, SnapshotError, SpecError
from .net import Net
from .trace import Trace
from .spec import expand, infer_shapes
from .trainer import METHODS, Trainer
from .teach import teach

__all__ = ["Net", "Trace", "Trainer", "METHODS", "infer_shapes", "expand", "SpecError", "LimitError", "SnapshotError",
           "DataError", "EngineError", "OptionError", "digits", "explain", "teach"]
