"""Saving and loading snapshot files: ConvNetJS JSON, written atomically."""
import json
import pathlib

import numpy as np

from .errors import SnapshotError
from .io import atomic_write_text, read_json  # noqa: F401 (atomic_write_text: used by callers)
from .net import Net


def save_snapshot(net, path, meta=None):
    """Write ``net.to_json()`` (plus a ``workbench`` entry of metadata) to ``path``."""
    obj = net.to_json()
    if meta:
        obj["workbench"] = meta
    atomic_write_text(path, json.dumps(obj))


def load_snapshot(path, dtype=np.float32):
    """``(net, meta)`` from a snapshot file; SnapshotError if it is not one."""
    path = pathlib.Path(path)
    obj = read_json(path, SnapshotError)
    try:
        net = Net.from_json(obj, dtype=dtype)
    except SnapshotError as e:
        raise SnapshotError(f"{path.name}: {e}") from None
    meta = obj.get("workbench") if isinstance(obj.get("workbench"), dict) else {}
    return net, meta
