"""Reading and writing the engine's files: size-capped JSON in, atomic writes out."""
import json
import os
import pathlib
import stat
import tempfile

from .errors import EngineError

#: The largest JSON file the engine reads (a snapshot of a 10-million-weight net is ~200 MB).
MAX_JSON_BYTES = 256 * 2 ** 20
#: The deepest nesting of lists and objects read (a snapshot is about 6 deep); deeper
#: data would make copying and comparing it recurse past Python's limit later on.
MAX_JSON_DEPTH = 64


def _reject_constant(token):
    raise ValueError(f"{token} is not a number JSON allows")


def read_json(path, error=EngineError, max_bytes=MAX_JSON_BYTES):
    """Parse a JSON file, refusing what is too big, not a regular file, empty, not text, or
    not strict JSON.

    Raises ``error`` (an EngineError subclass) with a one-line message that names the file.
    """
    path = pathlib.Path(path)
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise error(f"{path}: is a folder, not a file")
            if not stat.S_ISREG(st.st_mode):  # /dev/zero, a pipe: they never end
                raise error(f"{path}: not a regular file")
            if st.st_size > max_bytes:
                raise error(f"{path.name}: {st.st_size / 2 ** 20:,.0f} MB, larger than "
                            f"{max_bytes // 2 ** 20} MB, the limit for a JSON file")
            # as much as the file says it holds (read(n) allocates n bytes up front), and one
            # byte more to see a file that grows past the cap while it is read
            raw = f.read(min(st.st_size, max_bytes) + 1)
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not a file") from None
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror or e})") from None
    if len(raw) > max_bytes:
        raise error(f"{path.name}: larger than {max_bytes // 2 ** 20} MB, the limit for a JSON file")
    if not raw.strip():  # json's "Expecting value: line 1 column 1 (char 0)" says nothing here
        raise error(f"{path.name}: the file is empty")
    return parse_json(raw, error, path.name)


def parse_json(raw, error=EngineError, what="JSON"):
    """Strict JSON (no NaN or Infinity) from text or bytes, with the engine's errors."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
    except UnicodeDecodeError:
        raise error(f"{what}: not a text file") from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise error(f"{what}: nested too deeply to be a network or a snapshot") from None
    except ValueError as e:
        raise error(f"{what}: not valid JSON, or truncated ({e})") from None
    if _deeper_than(obj, MAX_JSON_DEPTH):
        raise error(f"{what}: nested too deeply to be a network or a snapshot (more than "
                    f"{MAX_JSON_DEPTH} levels of lists and objects)")
    return obj


def _deeper_than(obj, limit):
    """Whether lists and objects nest more than ``limit`` deep (without recursion; a long
    list of numbers is checked at C speed)."""
    stack = [(obj, 1)]
    while stack:
        o, depth = stack.pop()
        if isinstance(o, dict):
            items = o.values()
        elif isinstance(o, list):
            items = o
        else:
            continue
        if depth > limit:
            return True
        kinds = set(map(type, items))
        if dict in kinds or list in kinds:
            stack.extend((v, depth + 1) for v in items if type(v) in (dict, list))
    return False


def writable_target(path):
    """The file a save to ``path`` replaces: a symlink's target (the link is kept).

    Raises OSError when ``path`` names something that is not a regular file (a
    folder, a device such as /dev/full, a pipe) or its folder cannot be written to,
    so that a command can refuse before it does any work.
    """
    path = pathlib.Path(path)
    target = pathlib.Path(os.path.realpath(path))
    if target.exists() and not target.is_file():
        raise OSError(f"{path}: not a regular file; choose a file name")
    folder = target.parent
    if not folder.is_dir():
        raise OSError(f"{path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OSError(f"{path}: cannot write in {folder} (permission denied)")
    return target


def atomic_write_text(path, text):
    """Write ``text`` (UTF-8) to a temporary file beside ``path`` and rename it into place.

    A failure part way leaves whatever was at ``path`` untouched. The file gets the
    mode an ordinary new file would (the umask's), or keeps the mode of the file it
    replaces; a symlink is written through to its target.
    """
    _atomic_write(path, text, "w")


def atomic_write_bytes(path, data):
    """``atomic_write_text`` for bytes (a checkpoint's ``.npz``, an image)."""
    _atomic_write(path, data, "wb")


def _atomic_write(path, content, mode_flag):
    target = writable_target(path)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode_flag) as f:
            f.write(content)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def fsync_folder(path):
    """Make a rename inside the folder ``path`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def safe_file_name(name, default="network", limit=80):
    """``name`` (a network's or an experiment's, from a file) as a file name that stays in the
    folder it is put in: letters, digits, ``-``, ``_``, ``.``, spaces inside; anything else
    (``/``, ``..``, control characters) becomes ``-``; no leading dot; at most ``limit``
    characters; ``default`` when nothing is left."""
    out = []
    for c in str(name):
        out.append(c if (c.isalnum() or c in "-_. ") and c.isprintable() else "-")
    text = "".join(out)
    while "--" in text:
        text = text.replace("--", "-")
    text = text.strip(" .-")[:limit].strip(" .-")
    return text or default
