"""The one message format between this process and its Python children: a JSON header and raw
arrays, read with checks so that nothing in a message runs code or makes the reader allocate.

Both children speak it: the training worker (``engine.core.execution``'s ``processes`` and
``worker``, a message every step each way) and the app's helper process
(``workbench.tasks.child``, whose tagged values, an experiment or a network's layers with
their weights, are a header and the frame's arrays). Never pickle.

A message (a frame) is an 8-byte little-endian length, that many bytes of UTF-8 JSON
``[header, [[shape, dtype], ...]]``, then each array's bytes in C order, one after another.
"""
import json

import numpy as np

#: The array types a message may carry (native byte order): no objects, nothing that unpickles.
DTYPES = frozenset(np.dtype(t).str for t in (np.float32, np.float64, np.int64, np.int32, np.uint8,
                                              np.bool_))
MAX_HEADER = 1 << 20      # bytes of a message's JSON header (a worker's error text, its warnings)
MAX_DIMS = 8


class Garbled(EOFError):
    """A message that is not one ``pack`` makes: the pipe holds garbage (an EOFError, as a
    closed pipe: the other end is abandoned)."""


def _plain(o):
    """numpy scalars in a header as JSON numbers."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    raise TypeError(f"{type(o).__name__} cannot go in a message")


def pack(header, *arrays):
    """One message: an 8-byte length, a JSON header (the header tuple and each array's shape
    and dtype), then the arrays' raw bytes. Nothing in it can run code when read (no pickle).

    One write per step each way: every separate message would wake the other side.
    """
    arrays = [np.ascontiguousarray(a) for a in arrays]
    for a in arrays:
        if a.dtype.str not in DTYPES:
            raise TypeError(f"an array of {a.dtype} cannot go in a message")
    meta = json.dumps([list(header), [[list(a.shape), a.dtype.str] for a in arrays]],
                      default=_plain, separators=(",", ":")).encode("utf-8")
    return b"".join([len(meta).to_bytes(8, "little"), meta]
                    + [memoryview(a).cast("B") if a.size else b"" for a in arrays])


def unpack(buf, max_header=MAX_HEADER):
    """``(header, arrays)`` from ``pack``'s bytes; the arrays are read-only views of ``buf``.

    Raises ``Garbled`` unless the header is JSON of the expected form and at most
    ``max_header`` bytes, every dtype one a message may carry, every shape a few non-negative
    whole numbers, and the arrays' sizes add up to exactly the bytes that came (so a header
    cannot make the reader allocate).
    """
    if len(buf) < 8:
        raise Garbled("a message shorter than its header")
    size = int.from_bytes(buf[:8], "little")
    if size > min(max_header, len(buf) - 8):
        raise Garbled(f"a message header of {size} bytes")
    try:
        obj = json.loads(bytes(buf[8:8 + size]).decode("utf-8"))
        header, specs = obj
        if not isinstance(header, list) or not isinstance(specs, list):
            raise ValueError("not lists")
    except (ValueError, TypeError, RecursionError) as e:
        raise Garbled(f"a message header that is not one: {e}") from None
    arrays, offset = [], 8 + size
    for spec in specs:
        if not (isinstance(spec, list) and len(spec) == 2 and isinstance(spec[0], list)
                and len(spec[0]) <= MAX_DIMS and isinstance(spec[1], str) and spec[1] in DTYPES
                and all(type(d) is int and 0 <= d <= len(buf) for d in spec[0])):
            raise Garbled(f"a message array described as {str(spec)[:80]}")
        shape, dtype = tuple(spec[0]), np.dtype(spec[1])
        count = 1
        for d in shape:
            count *= d
        if count * dtype.itemsize > len(buf) - offset:
            raise Garbled("a message shorter than its arrays")
        arrays.append(np.frombuffer(buf, dtype, count, offset).reshape(shape))
        offset += count * dtype.itemsize
    if offset != len(buf):
        raise Garbled("a message longer than its arrays")
    return tuple(header), arrays
