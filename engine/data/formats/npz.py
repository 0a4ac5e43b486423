"""NumPy ``.npz`` files: ``x_train, y_train, x_test, y_test``, or ``x, y`` split by the tool.

Images ``(N, H, W)`` (grey) or ``(N, H, W, C)`` (C = 1 or 3; alpha dropped from 2 or 4;
``(N, C, H, W)`` transposed), uint8 or any other number type (scaled to uint8 as
``PixelScale`` says, with a note). Labels: whole numbers, or one-hot rows. Class names from
an array ``class_names`` (text) in the file, or a ``classes.txt`` beside it.

Arrays are read from the zip piece by piece into the final uint8 array (the header is
checked against the memory limit first), and never unpickled.
"""
import pathlib
import zipfile
import zlib

import numpy as np

from engine.core import limits
from engine.core.errors import DataError
from engine.core.io import check_readable
from engine.data.formats._common import (
    CHUNK_BYTES,
    PixelScale,
    as_labels,
    check_examples,
    destinations,
    image_layout,
    make_dataset,
    read_class_names,
    split_for_test,
    split_text,
)

ROLES = {
    "x_train": ("x_train", "train_x", "train_images", "images_train", "xtrain"),
    "y_train": ("y_train", "train_y", "train_labels", "labels_train", "ytrain"),
    "x_test": ("x_test", "test_x", "test_images", "images_test", "xtest"),
    "y_test": ("y_test", "test_y", "test_labels", "labels_test", "ytest"),
    "x": ("x", "images", "data", "inputs"),
    "y": ("y", "labels", "targets", "target"),
    "names": ("class_names", "classes", "label_names"),
}

# what a damaged archive makes zipfile raise (a bad offset in it: OSError from a seek)
# zipfile raises RuntimeError for a member whose flags say it is encrypted (a damaged header
# can say so), NotImplementedError for compressions and flags it does not know.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError, RuntimeError)


class NpyMember:
    """One array of the archive: its header (``shape``, ``dtype``) and its rows, piece by piece."""

    def __init__(self, zf, member, where):
        self.zf, self.member, self.where = zf, member, where
        fp = self._open()
        fp.close()
        if self.dtype.hasobject:
            raise DataError(f"{where}: holds Python objects (a pickle), which are not loaded; "
                            f"save plain number arrays")
        if self.fortran and len(self.shape) > 1:
            raise DataError(f"{where}: stored in Fortran order; save np.ascontiguousarray(...) instead")
        self.count = int(np.prod(self.shape, dtype=object)) if self.shape else 1

    def _open(self):
        try:
            fp = self.zf.open(self.member)
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                self.shape, self.fortran, self.dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                self.shape, self.fortran, self.dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except _ZIP_ERRORS as e:
            raise DataError(f"{self.where}: damaged zip data ({e})") from None
        except (ValueError, TypeError, SyntaxError) as e:
            raise DataError(f"{self.where}: not a NumPy array ({e})") from None
        return fp

    def chunks(self, job=None, row_bytes_cap=CHUNK_BYTES):
        """The array's rows in pieces of about ``CHUNK_BYTES`` (each a fresh array)."""
        n = self.shape[0] if self.shape else 1
        item = self.shape[1:]
        row_bytes = max(1, int(np.prod(item, dtype=object)) * self.dtype.itemsize)
        rows = max(1, row_bytes_cap // row_bytes)
        fp = self._open()
        try:
            for start in range(0, n, rows):
                k = min(rows, n - start)
                try:
                    raw = fp.read(k * row_bytes)
                except _ZIP_ERRORS as e:
                    raise DataError(f"{self.where}: damaged zip data ({e})") from None
                if len(raw) < k * row_bytes:
                    raise DataError(f"{self.where}: truncated: the header says "
                                    f"{'x'.join(map(str, self.shape))} {self.dtype}")
                if job is not None:
                    job.report(len(raw))
                yield np.frombuffer(raw, self.dtype).reshape((k,) + tuple(item))
        finally:
            fp.close()

    def read(self, job, limit_what):
        """The whole (small) array: labels, class names."""
        job.check_size(self.count * self.dtype.itemsize, limit_what)
        parts = list(self.chunks())
        if not parts:
            return np.zeros(self.shape, self.dtype)
        return np.concatenate(parts) if self.shape else parts[0].reshape(())


def _pick(keys, role):
    lower = {k.lower(): k for k in keys}
    for name in ROLES[role]:
        if name in lower:
            return lower[name]
    return None


def load_npz(path, job):
    path = pathlib.Path(path)
    name = path.name
    check_readable(path, DataError)  # a FIFO or a device: refused at once, not waited on
    try:
        zf = zipfile.ZipFile(path)
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not an .npz file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    except (zipfile.BadZipFile, ValueError, NotImplementedError, EOFError, zlib.error,
            RuntimeError) as e:
        raise DataError(f"{name}: not an .npz file, or a damaged one (a zip archive: {e})") from None
    with zf:
        members = {m[:-4]: m for m in zf.namelist() if m.endswith(".npy")}
        roles = {r: _pick(members, r) for r in ROLES}
        if all(roles[r] for r in ("x_train", "y_train", "x_test", "y_test")):
            parts = {"train": (roles["x_train"], roles["y_train"]),
                     "test": (roles["x_test"], roles["y_test"])}
        elif roles["x"] and roles["y"]:
            parts = {"all": (roles["x"], roles["y"])}
        elif roles["x_train"] and roles["y_train"]:
            parts = {"all": (roles["x_train"], roles["y_train"])}
        else:
            found = ", ".join(repr(m)[1:-1] for m in sorted(members)) or "no arrays"
            raise DataError(f"{name}: expected arrays x_train, y_train, x_test, y_test (or x, y); "
                            f"found {found}")

        def member(key):
            return NpyMember(zf, members[key], f"{name}: {key}")

        labels, images = {}, {}
        for part, (xk, yk) in parts.items():
            ym = member(yk)
            check_examples(ym.shape[0] if ym.shape else 1, f"{name}: {yk}")
            labels[part] = as_labels(ym.read(job, f"{name}: {yk}"), f"{name}: {yk}")
            images[part] = member(xk)
            n = images[part].shape[0] if images[part].shape else 0
            if n != len(labels[part]):
                raise DataError(f"{name}: {xk} has {n} images but {yk} has {len(labels[part])} labels")
        layouts = {part: image_layout(m.shape, m.where) for part, m in images.items()}
        items = {layout[1] for layout in layouts.values()}
        if len(items) > 1:
            raise DataError(f"{name}: the training images are {layouts['train'][1]} but the test "
                            f"images are {layouts['test'][1]} (height, width, channels)")
        item = items.pop()
        n_total = sum(len(y) for y in labels.values())
        job.check_size(n_total * int(np.prod(item)), name)
        for layout in layouts.values():
            if layout[2]:
                job.note(layout[2])
        stored = sum(m.count * m.dtype.itemsize for m in images.values())
        dtypes = {m.dtype for m in images.values()}
        needs_survey = dtypes != {np.dtype(np.uint8)}
        job.start(stored * (2 if needs_survey else 1))
        if needs_survey:
            dtype = np.result_type(*dtypes)
            scale = PixelScale.survey((c for m in images.values() for c in m.chunks(job)), dtype, name)
            if scale.note:
                job.note(scale.note)
        else:
            scale = PixelScale(np.uint8, 0, 255, True, name)

        def fill(part, out, dest=None):
            m, convert = images[part], layouts[part][0]
            pos = 0
            for chunk in m.chunks(job):
                pixels = scale(convert(chunk))
                k = len(chunk)
                if dest is None:
                    out[pos:pos + k] = pixels
                else:
                    out[dest[pos:pos + k]] = pixels
                pos += k

        if "all" in parts:
            y = labels["all"]
            dest, n_train = destinations(split_for_test(y))
            out = np.empty((len(y),) + item, np.uint8)
            fill("all", out, dest)
            ys = np.empty_like(y)
            ys[dest] = y
            where = f"{name}: {parts['all'][0]}"
            train, test, split = (out[:n_train], ys[:n_train], where), (out[n_train:], ys[n_train:], where), \
                split_text()
        else:
            done = {}
            for part in ("train", "test"):
                out = np.empty((len(labels[part]),) + item, np.uint8)
                fill(part, out)
                done[part] = (out, labels[part], f"{name}: {parts[part][0]}")
            train, test, split = done["train"], done["test"], "given"

        names, names_from = None, None
        if roles["names"]:
            nm = member(roles["names"])
            if nm.count > limits.MAX_CLASSES:
                raise DataError(f"{name}: {roles['names']} holds {nm.count:,} class names; the limit is "
                                f"{limits.MAX_CLASSES:,} classes")
            arr = nm.read(job, f"{name}: {roles['names']}")
            if arr.dtype.kind not in "US" or arr.ndim != 1:
                raise DataError(f"{name}: {roles['names']} must be a list of texts, got {arr.dtype} "
                                f"{arr.shape}")
            names = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in arr.tolist()]
            names_from = f"{name}: {roles['names']}"
        else:
            names = read_class_names(path.parent)
            names_from = str(path.parent / "classes.txt")
    return make_dataset(train, test, path.stem, path, "npz", split, job.notes, names, names_from)
