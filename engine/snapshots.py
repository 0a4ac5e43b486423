"""Saving and loading snapshot files: ConvNetJS JSON, written atomically."""
import json
import os
import pathlib
import tempfile

import numpy as np

from .errors import SnapshotError
from .net import Net


def atomic_write_text(path, text):
    """Write to a temporary file beside ``path`` and rename it into place.

    A failure part way leaves whatever was at ``path`` untouched.
    """
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_snapshot(net, path, meta=None):
    """Write ``net.to_json()`` (plus a ``workbench`` entry of metadata) to ``path``."""
    obj = net.to_json()
    if meta:
        obj["workbench"] = meta
    atomic_write_text(path, json.dumps(obj))


def load_snapshot(path, dtype=np.float32):
    """``(net, meta)`` from a snapshot file; SnapshotError if it is not one."""
    path = pathlib.Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise SnapshotError(f"{path}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise SnapshotError(f"{path.name}: not a text file") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise SnapshotError(f"{path.name}: not valid JSON, or truncated ({e})") from None
    try:
        net = Net.from_json(obj, dtype=dtype)
    except SnapshotError as e:
        raise SnapshotError(f"{path.name}: {e}") from None
    meta = obj.get("workbench") if isinstance(obj.get("workbench"), dict) else {}
    return net, meta
