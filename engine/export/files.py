"""Writing an export so that a failure leaves nothing half written.

Files are staged as temporary files beside their destinations and renamed into
place together at the end; a folder is built as a temporary sibling and renamed
into place (or, when the folder already exists, its files are renamed in one by
one, leaving the folder's other files alone).
"""
import os
import pathlib
import shutil
import tempfile

from .errors import ExportError


def printable(text, limit=200):
    """``text`` as one line of printable characters (others escaped), at most ``limit`` long:
    for prose (README.md) that shows a name from a file."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def check_writable_file(path):
    """ExportError (one line) unless a file can be created at ``path``."""
    path = pathlib.Path(path)
    parent = path.parent
    if path.is_dir():
        raise ExportError(f"{path}: is a folder; give a file name for the model")
    if not parent.is_dir():
        raise ExportError(f"{path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(f"{path}: cannot write in {parent} (permission denied)")
    if path.exists() and not os.access(path, os.W_OK):
        raise ExportError(f"{path}: cannot be overwritten (permission denied)")


def check_writable_folder(path):
    """ExportError unless ``path`` is a folder that can be made or written into."""
    path = pathlib.Path(path)
    if path.exists() and not path.is_dir():
        raise ExportError(f"{path}: is a file, not a folder")
    parent = path.parent
    if not parent.is_dir():
        raise ExportError(f"{path}: the folder {parent} does not exist")
    target = path if path.is_dir() else parent
    if not os.access(target, os.W_OK | os.X_OK):
        raise ExportError(f"{path}: cannot write in {target} (permission denied)")


def write_files(contents):
    """Write ``{path: bytes or str}``: all staged first, then renamed into place.

    An error while staging leaves every destination as it was.
    """
    staged = []
    try:
        for path, data in contents.items():
            path = pathlib.Path(path)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            # mkstemp makes the file private (0600); an export is meant to be shared
            os.fchmod(fd, path.stat().st_mode & 0o777 if path.exists() else 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
        for tmp, path in staged:
            os.replace(tmp, path)
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def staging_folder(out_dir):
    """A new empty temporary folder beside ``out_dir`` to build the export in."""
    out_dir = pathlib.Path(out_dir)
    try:
        staged = pathlib.Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp",
                                                dir=out_dir.parent))
        staged.chmod(0o755)  # mkdtemp's folder is private; the export is meant to be shared
        return staged
    except OSError as e:
        raise ExportError(f"cannot write in {out_dir.parent}: {e.strerror or e}") from None


def move_folder_into_place(staged, out_dir):
    """Move the finished ``staged`` folder to ``out_dir`` (see the module's docstring)."""
    staged, out_dir = pathlib.Path(staged), pathlib.Path(out_dir)
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
            else:
                os.replace(item, dest)
    except OSError as e:
        raise ExportError(f"cannot write {out_dir}: {e.strerror or e}") from None
    finally:
        shutil.rmtree(staged, ignore_errors=True)
