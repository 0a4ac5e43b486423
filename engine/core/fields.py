"""Checking the fields of files the engine wrote and a user (or a fault) may have changed.

A session's ``session.json``, a checkpoint's ``state.json`` and a run record are read back
by the engine; each field is checked here for its type and range before it is used, so
that a wrong one gives the engine's one-line error (naming the file and the field), never
a ``TypeError`` or ``IndexError`` from deep inside, nor a path outside the folder.

Each function takes the error class to raise and ``where`` (the file, for the message).
"""
import math
import numbers
import re

#: The largest count a file may hold for examples, batches, generations (far above any run,
#: far below what would overflow a 64-bit integer or make a file name too long).
MAX_COUNT = 10 ** 15

#: What a run id may be: a file name in ``runs/`` (``run-0003``), nothing that leaves it.
RUN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}")


def _show(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def is_number(value):
    """Whether ``value`` is a finite int or float (not a bool; not an int too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, int):
        return -MAX_FLOAT_INT <= value <= MAX_FLOAT_INT
    return math.isfinite(value)


#: Ints beyond this do not fit a float64.
MAX_FLOAT_INT = int(1.7e308)


def whole(value, error, where, field, lo=0, hi=MAX_COUNT, none=False):
    """``value`` as an int in ``[lo, hi]`` (a bool is not one); None allowed with ``none``."""
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise error(f"{where}: {field} must be a whole number, got {_show(value)}")
    if not lo <= value <= hi:
        raise error(f"{where}: {field} must be {lo:,} to {hi:,}, got {_show(value)}")
    return int(value)


def number(value, error, where, field, lo=-math.inf, hi=math.inf, none=False):
    """``value`` as a finite float in ``[lo, hi]``; None allowed with ``none``."""
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(f"{where}: {field} must be a number, got {_show(value)}")
    try:
        v = float(value)
    except OverflowError:
        raise error(f"{where}: {field} is out of range ({_show(value)})") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise error(f"{where}: {field} must be a number from {lo:g} to {hi:g}, got {_show(value)}")
    return v


def text(value, error, where, field, none=False, max_len=10_000):
    """``value`` as a str of at most ``max_len`` characters; None allowed with ``none``."""
    if value is None and none:
        return None
    if not isinstance(value, str):
        raise error(f"{where}: {field} must be text, got {_show(value)}")
    if len(value) > max_len:
        raise error(f"{where}: {field} is longer than {max_len:,} characters")
    return value


def mapping(value, error, where, field, none=False):
    """``value`` as a dict (a JSON object); None allowed with ``none``."""
    if value is None and none:
        return None
    if not isinstance(value, dict):
        raise error(f"{where}: {field} must be an object ({{...}}), got {_show(value)}")
    return value


def listing(value, error, where, field, none=False):
    """``value`` as a list; None allowed with ``none``."""
    if value is None and none:
        return None
    if not isinstance(value, list):
        raise error(f"{where}: {field} must be a list, got {_show(value)}")
    return value


def run_id(value, error, where, field="run", none=False):
    """A run id (a plain file name in ``runs/``); None allowed with ``none``."""
    if value is None and none:
        return None
    if not isinstance(value, str) or not RUN_ID.fullmatch(value):
        raise error(f"{where}: {field} must be a run id such as 'run-0001', got {_show(value)}")
    return value


def file_name(value, error, where, field, pattern):
    """A file name of the folder that matches ``pattern`` (a compiled regex) in full: no
    folder, no ``..``, nothing outside the folder the file is in."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise error(f"{where}: {field} must be a file of its folder named like "
                    f"{pattern.pattern!r}, got {_show(value)}")
    return value
