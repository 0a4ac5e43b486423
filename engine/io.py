"""Reading and writing the engine's files: size-capped JSON in, atomic writes out."""
import json
import os
import pathlib
import tempfile

from .errors import EngineError

#: The largest JSON file the engine reads (a snapshot of a 10-million-weight net is ~200 MB).
MAX_JSON_BYTES = 512 * 2 ** 20


def _reject_constant(token):
    raise ValueError(f"{token} is not a number JSON allows")


def read_json(path, error=EngineError, max_bytes=MAX_JSON_BYTES):
    """Parse a JSON file, refusing what is too big, not text, or not strict JSON.

    Raises ``error`` (an EngineError subclass) with a one-line message that names the file.
    """
    path = pathlib.Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not a file") from None
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror or e})") from None
    if len(raw) > max_bytes:
        raise error(f"{path.name}: larger than {max_bytes // 2 ** 20} MB, the limit for a JSON file")
    return parse_json(raw, error, path.name)


def parse_json(raw, error=EngineError, what="JSON"):
    """Strict JSON (no NaN or Infinity) from text or bytes, with the engine's errors."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
    except UnicodeDecodeError:
        raise error(f"{what}: not a text file") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise error(f"{what}: nested too deeply to be a network or a snapshot") from None
    except ValueError as e:
        raise error(f"{what}: not valid JSON, or truncated ({e})") from None


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
