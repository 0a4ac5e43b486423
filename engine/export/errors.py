"""The exporters' errors, and the one line that says what to install."""
import importlib

from engine.core.errors import EngineError

INSTALL_HINT = "pip install 'convnet-workbench[export]'"


class ExportError(EngineError):
    """An export that cannot be made: bad input, a missing package, an unwritable path."""


class ParityError(ExportError):
    """The exported model's outputs differ from the engine's; nothing was written.

    Attributes
    ----------
    report : dict
        The parity report that failed (max absolute difference, argmax agreement, ...).
    """

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


def require(what, *modules):
    """Import ``modules`` (top-level names); ExportError naming what to install if one is missing."""
    loaded = []
    missing = []
    for name in modules:
        try:
            loaded.append(importlib.import_module(name))
        except ImportError:
            missing.append(name)
    if missing:
        raise ExportError(f"{what} needs the Python package{'s' if len(missing) > 1 else ''} "
                          f"{' and '.join(missing)}: {INSTALL_HINT} (or pip install {' '.join(missing)})")
    return loaded[0] if len(loaded) == 1 else loaded
