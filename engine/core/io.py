"""Reading and writing the engine's files: the one way each is done.

Reading: ``open_regular`` (and ``read_bytes``, ``read_json`` on it) opens regular files only,
refusing a FIFO or a device at once instead of hanging on it. Writing: ``atomic_write``
(and ``atomic_write_text``, ``atomic_write_bytes``, ``atomic_write_many``) writes a
temporary file of the writer's own renamed into place, through symlinks, never over a
device, a FIFO or a socket. docs/limits.md ("Files: what is read and written") says what
they guarantee.
"""
import json
import os
import pathlib
import stat
import tempfile

from engine.core.errors import EngineError

#: The largest JSON file the engine reads (a snapshot of a 10-million-weight net is ~200 MB).
MAX_JSON_BYTES = 256 * 2 ** 20
#: The deepest nesting of lists and objects read (a snapshot is about 6 deep); deeper
#: data would make copying and comparing it recurse past Python's limit later on.
MAX_JSON_DEPTH = 64


def _reject_constant(token):
    raise ValueError(f"{token} is not a number JSON allows")


def _kind(mode):
    """What a file that is not a regular file is, in a word or two."""
    for test, word in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a pipe (FIFO)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return word
    return "not a regular file"


def open_regular(path, error=EngineError):
    """Open ``path`` for reading in binary mode, refusing at once what is not a regular file.

    A FIFO would block ``open()`` until a writer comes, and a device (``/dev/zero``) never
    ends: the file is opened with ``O_NONBLOCK`` (which does not wait for a FIFO's writer),
    checked with ``fstat`` and closed again unless it is a regular file; then the flag is
    cleared and the file returned (an ``io.BufferedReader``; the caller closes it). This is
    the one way the engine and the app open a file to read.

    Raises ``error`` with a one-line message naming the file: missing, unreadable, a folder,
    a pipe, a device, a socket.
    """
    path = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_BINARY", 0)
    if not hasattr(os, "O_NONBLOCK"):  # Windows: no FIFOs to hang on, but stat first all the same
        try:
            st = os.stat(path)
        except OSError as e:
            raise error(f"{path}: cannot read ({e.strerror or e})") from None
        if not stat.S_ISREG(st.st_mode):
            raise error(_not_regular(path, st.st_mode))
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not a file") from None
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(_not_regular(path, st.st_mode))
        if hasattr(os, "O_NONBLOCK"):
            import fcntl
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _not_regular(path, mode):
    if stat.S_ISDIR(mode):
        return f"{path}: is a folder, not a file"
    return f"{path}: {_kind(mode)}, not a regular file; it is not read"


def check_readable(path, error=EngineError):
    """``open_regular`` without keeping the file open: ``error`` now, before any work, unless
    ``path`` is a regular file that can be read."""
    open_regular(path, error).close()


def read_bytes(path, error=EngineError, max_bytes=None, what=None):
    """The bytes of a regular file (``open_regular``), refusing one over ``max_bytes``."""
    with open_regular(path, error) as f:
        size = os.fstat(f.fileno()).st_size
        if max_bytes is not None and size > max_bytes:
            raise error(f"{what or path}: {size / 2 ** 20:,.0f} MB, larger than "
                        f"{max_bytes / 2 ** 20:,.0f} MB, the limit for this file")
        try:
            raw = f.read() if max_bytes is None else f.read(min(size, max_bytes) + 1)
        except OSError as e:
            raise error(f"{path}: cannot read ({e.strerror or e})") from None
    if max_bytes is not None and len(raw) > max_bytes:
        raise error(f"{what or path}: larger than {max_bytes / 2 ** 20:,.0f} MB, the limit for this file")
    return raw


def read_json(path, error=EngineError, max_bytes=MAX_JSON_BYTES):
    """Parse a JSON file, refusing what is too big, not a regular file (a pipe or a device
    is refused at once, see ``open_regular``), empty, not text, or not strict JSON.

    Raises ``error`` (an EngineError subclass) with a one-line message that names the file.
    """
    path = pathlib.Path(path)
    with open_regular(path, error) as f:
        st = os.fstat(f.fileno())
        if st.st_size > max_bytes:
            raise error(f"{path.name}: {st.st_size / 2 ** 20:,.0f} MB, larger than "
                        f"{max_bytes // 2 ** 20} MB, the limit for a JSON file")
        # as much as the file says it holds (read(n) allocates n bytes up front), and one
        # byte more to see a file that grows past the cap while it is read
        try:
            raw = f.read(min(st.st_size, max_bytes) + 1)
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


def csv_cell(value):
    """One CSV cell: empty for None, floats to 6 significant digits, lists and dicts as JSON,
    text (a run's name or note, a name from a file) never a formula (``csv_safe_text``)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, str):
        return csv_safe_text(value)
    return str(value)


def csv_text(header, rows):
    """The engine's one CSV writer: ``header`` then ``rows`` (lists of values, see ``csv_cell``),
    as text with ``\\n`` line ends, for ``atomic_write_text``."""
    import csv
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(header))
    for row in rows:
        w.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


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
    folder, a device such as /dev/null, a FIFO, a socket) or its folder cannot be
    written to, so that a command can refuse before it does any work.
    """
    path = pathlib.Path(path)
    target = pathlib.Path(os.path.realpath(path))
    try:
        st = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):  # its folder is checked below
        st = None
    except OSError as e:
        raise OSError(f"{path}: cannot write ({e.strerror or e})") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OSError(f"{path}: {_kind(st.st_mode)}, not a regular file; choose a file name")
    folder = target.parent
    if not folder.is_dir():
        raise OSError(f"{path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OSError(f"{path}: cannot write in {folder} (permission denied)")
    return target


def atomic_write(path, content):
    """THE way the engine and the app write a file: ``content`` (str: UTF-8 text; bytes; or a
    callable ``content(f)`` that writes to a binary file object) goes to a temporary file of
    this writer's own (``mkstemp`` beside the target) that is renamed into place.

    Only regular files are written: a symlink is written through to its target (the link
    stays); a device, a FIFO, a socket or a folder is refused (OSError) before anything is
    written. A failure part way leaves whatever was at ``path`` untouched. The file gets
    the mode an ordinary new file would (the umask's), or keeps the mode of the file it
    replaces. Returns the path written (the symlink's target).
    """
    return atomic_write_many({path: content})[0]


def atomic_write_text(path, text):
    """``atomic_write`` of text (UTF-8)."""
    atomic_write(path, str(text))


def atomic_write_bytes(path, data):
    """``atomic_write`` of bytes (a checkpoint's ``.npz``, an image)."""
    atomic_write(path, bytes(data))


def atomic_write_many(contents):
    """``atomic_write`` of several files ``{path: content}`` together: every target is checked,
    then every file staged, then all are renamed into place; a failure before the renames
    leaves every destination as it was. Returns the targets written."""
    targets = [(writable_target(p), c) for p, c in contents.items()]
    staged = []
    try:
        for target, content in targets:
            staged.append((_stage(target, content), target))
        for _tmp, target in staged:
            _refuse_non_regular(target)  # made a device or a pipe since the check: not replaced
        while staged:
            tmp, target = staged[0]
            os.replace(tmp, target)
            staged.pop(0)
    finally:
        for tmp, _ in staged:  # the ones not renamed into place
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return [t for t, _ in targets]


def _refuse_non_regular(target):
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise OSError(f"{target}: {_kind(st.st_mode)}, not a regular file; not replaced")


def _stage(target, content):
    """A temporary file beside ``target`` holding ``content``, with the mode the target
    should get; its path."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content.encode("utf-8") if isinstance(content, str) else content)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return tmp


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


def csv_safe_text(value):
    """Text for a CSV cell that a spreadsheet shows as text, never runs as a formula: a
    string starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (a run's note,
    a name from a file) gets a leading ``'``. Numbers are not text: write them as they are."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
