"""The app's log: the standard library's ``logging``, kept in a rotating file in the app's
data folder (``QStandardPaths.AppDataLocation``/logs; on Linux
``~/.local/share/convnet-workbench/convnet-workbench/logs``).

Every module logs through its own ``log = logging.getLogger(__name__)``; ``start`` (called by
``workbench.app`` once the application has its name, never at import) sends the ``engine``
and ``workbench`` loggers' records to ``convnet-workbench.log`` there, at most
``MAX_BYTES`` a file and ``BACKUPS`` older files. Help > Open log folder shows the folder.
"""
import logging
import logging.handlers
import pathlib
import stat

log = logging.getLogger(__name__)

FILE = "convnet-workbench.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
#: The loggers the file gets (the app's and the engine's).
LOGGERS = ("workbench", "engine")

_handler = None


def default_folder():
    """Where the log goes: the app's data folder's ``logs`` (computed now, from Qt)."""
    from PySide6.QtCore import QStandardPaths
    return pathlib.Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation)) / "logs"


def folder():
    """The folder the log file is in (``start``'s), else where it would go."""
    return pathlib.Path(_handler.baseFilename).parent if _handler is not None else default_folder()


def start(where=None, level=logging.INFO):
    """Keep the log in ``where`` (default ``default_folder()``) from now on; returns the log
    file's path, or None when it cannot be written (said on stderr; the app goes on).
    Calling it again moves the log."""
    global _handler
    where = pathlib.Path(where) if where is not None else default_folder()
    path = where / FILE
    try:
        where.mkdir(parents=True, exist_ok=True)
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and not stat.S_ISREG(mode):  # a link, a FIFO, a device: never written
            raise OSError(f"{path} is not a regular file")
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                                       encoding="utf-8")
    except OSError as e:
        logging.getLogger(__name__).warning("no log file: %s", e)
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    stop()
    _handler = handler
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > level:
            logger.setLevel(level)
    log.info("convnet-workbench started; log in %s", path)
    return path


def stop():
    """Stop writing the log file (closing it)."""
    global _handler
    if _handler is None:
        return
    for name in LOGGERS:
        logging.getLogger(name).removeHandler(_handler)
    _handler.close()
    _handler = None
