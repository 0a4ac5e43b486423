"""Writing an export so that a failure leaves nothing half written.

Files are staged as temporary files beside their destinations and renamed into
place together at the end; a folder is built as a temporary sibling and renamed
into place (or, when the folder already exists, its files are renamed in one by
one, leaving the folder's other files alone).
"""
import os
import pathlib
import shutil
import stat
import tempfile

from engine.core.io import _kind, _refuse_non_regular, atomic_write, atomic_write_many, open_regular, writable_target

from .errors import ExportError


def printable(text, limit=200):
    """``text`` as one line of printable characters (others escaped), at most ``limit`` long:
    for prose (README.md) that shows a name from a file."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def check_writable_file(path):
    """ExportError (one line) unless a regular file can be written at ``path`` (a symlink: at
    its target); a device, a FIFO, a socket or a folder is refused, before any work."""
    path = pathlib.Path(path)
    if path.is_dir():
        raise ExportError(f"{path}: is a folder; give a file name for the model")
    try:
        target = writable_target(path)
    except OSError as e:
        raise ExportError(str(e)) from None
    if target.exists() and not os.access(target, os.W_OK):
        raise ExportError(f"{path}: cannot be overwritten (permission denied)")
    return target


def check_writable_folder(path, names=()):
    """ExportError unless ``path`` is a folder that can be made or written into, and each of
    its files ``names`` that exists is a regular file (or a symlink to one)."""
    path = pathlib.Path(path)
    real = pathlib.Path(os.path.realpath(path))
    if real.exists() and not real.is_dir():
        st = os.stat(real)
        raise ExportError(f"{path}: is a file, not a folder" if stat.S_ISREG(st.st_mode) else
                          f"{path}: {_kind(st.st_mode)}, not a folder")
    parent = real.parent
    if not parent.is_dir():
        raise ExportError(f"{path}: the folder {parent} does not exist")
    target = real if real.is_dir() else parent
    if not os.access(target, os.W_OK | os.X_OK):
        raise ExportError(f"{path}: cannot write in {target} (permission denied)")
    if real.is_dir():
        for name in names:
            if os.path.lexists(real / name):
                check_writable_file(real / name)
    return real


def write_files(contents):
    """Write ``{path: bytes or str}`` with ``engine.io.atomic_write_many``: every target checked
    (regular files only, through symlinks), all staged, then renamed into place.

    An error while staging leaves every destination as it was.
    """
    try:
        atomic_write_many(contents)
    except OSError as e:
        raise ExportError(f"cannot write: {e.strerror or e}" if e.strerror else str(e)) from None


def staging_folder(out_dir):
    """A new empty temporary folder (unique: ``mkdtemp``) beside ``out_dir`` (its real place, when
    it is a symlink) to build the export in."""
    out_dir = pathlib.Path(os.path.realpath(out_dir))
    try:
        staged = pathlib.Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp",
                                                dir=out_dir.parent))
        staged.chmod(0o755)  # mkdtemp's folder is private; the export is meant to be shared
        return staged
    except OSError as e:
        raise ExportError(f"cannot write in {out_dir.parent}: {e.strerror or e}") from None


def move_folder_into_place(staged, out_dir):
    """Move the finished ``staged`` folder to ``out_dir`` (see the module's docstring). A file
    of an existing folder that is a symlink is written through (``atomic_write``); one that is
    not a regular file is refused, not replaced."""
    staged, shown = pathlib.Path(staged), pathlib.Path(out_dir)
    out_dir = pathlib.Path(os.path.realpath(shown))
    try:
        if out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        if not out_dir.exists():
            os.replace(staged, out_dir)
            return
        for item in sorted(staged.rglob("*")):
            rel = item.relative_to(staged)
            dest = out_dir / rel
            if item.is_dir():
                dest.mkdir(exist_ok=True)
            elif os.path.islink(dest):
                atomic_write(dest, lambda f, item=item: _copy_into(item, f))
            else:
                _refuse_non_regular(dest)
                os.replace(item, dest)
    except OSError as e:
        raise ExportError(f"cannot write {shown}: {e.strerror or e}" if e.strerror else str(e)) from None
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def _copy_into(path, f):
    with open_regular(path, ExportError) as src:
        shutil.copyfileobj(src, f, 1 << 20)


def copy_file(src, dest):
    """Copy the regular file ``src`` (``open_regular``: a FIFO or device refused) to ``dest``."""
    atomic_write(dest, lambda f: _copy_into(src, f))
