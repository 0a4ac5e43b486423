"""Every file the engine and the app write goes through engine.io.atomic_write (regular files
only, a temporary file of the writer's own renamed into place) and every file they read
through engine.io.open_regular (a FIFO or a device refused at once). This test reads the
source: a new raw ``open(path, "w")``, ``write_text``, ``np.save``, ``shutil.copy``,
``np.load(path)``, ``open(path, "rb")`` ... outside engine/io.py fails it, naming the line."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]

WRITES = re.compile(r"""open\([^)]*["'][wax]b?\+?["']|\.write_text\(|\.write_bytes\(|np\.save|json\.dump\(|"""
                    r"""shutil\.(copy|move)|copyfile\(|\.tofile\(|grab\(\)\.save\(|QImage[^\n]*\.save\(""")
READS = re.compile(r"""(?<![\w.])open\([^)]*["']rb?["']|\.read_bytes\(|np\.load\(|Image\.open\(\s*path|"""
                   r"""ZipFile\(|gzip\.open\(|np\.fromfile\(|QImageReader\(|\.read_text\(""")

#: (file, what the line holds): the places that may do it, and why.
ALLOWED = {
    # the staged copy of a session folder is a private folder made just before (mkdtemp-like)
    ("engine/runs/session_folder.py", "shutil.copy"),
    # the engine's own bundled templates and README, not a user's file
    ("engine/export/pytorch_export.py", ".read_text("),
    ("engine/core/options.py", ".read_text("),
    # a bundled tour file, and /proc of this process
    ("workbench/tour/steps.py", ".read_text("),
    ("workbench/bench/__init__.py", "open("),
    # Draw reads a picture with Qt after engine.io.check_readable refused FIFOs and devices
    ("workbench/views/draw/canvas.py", "QImageReader("),
    # an .npz after engine.io.check_readable (zipfile needs the path to reopen members)
    ("engine/data/formats/npz.py", "ZipFile("),
    # into memory, or from/to a file object the io functions opened
    ("engine/runs/checkpoint.py", "np.savez(buf"),
    ("workbench/state/teaching.py", "np.savez(buf"),
    ("engine/runs/checkpoint.py", "np.load(f,"),
    ("workbench/state/teaching.py", "np.load(f,"),
    ("engine/export/files.py", "shutil.copyfileobj(src, f"),
    ("workbench/views/train/plots.py", "grab().save(buffer"),
}


def offending(pattern):
    found = []
    for folder in ("engine", "workbench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "engine/core/io.py" or "/templates/" in rel:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#")[0]
                m = pattern.search(code)
                if m and not any(rel == f and what in code for f, what in ALLOWED):
                    found.append(f"{rel}:{number}: {line.strip()}")
    return found


def test_every_writer_uses_atomic_write():
    assert offending(WRITES) == []


def test_every_loader_uses_open_regular():
    assert offending(READS) == []
