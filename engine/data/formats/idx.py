"""IDX files (MNIST's format), raw or gzipped, read straight into the final array.

A folder with an images file and a labels file for training and for testing (MNIST's
``train-images-idx3-ubyte`` ... ``t10k-labels-idx1-ubyte``, ``.gz`` or not, or any names with
"train"/"test" in them), a folder with one images/labels pair (split by the tool), or one
images file whose labels file sits beside it. Class names from a ``classes.txt`` beside them.

The header is checked before anything is allocated (a size that would need absurd memory is
refused), and the pixels are decompressed piece by piece into the array that is returned, so a
load takes little more memory than the images themselves and a gzip bomb cannot inflate.
"""
import gzip
import os
import pathlib
import zlib

import numpy as np

from engine.core.errors import DataError
from engine.core.io import open_regular
from engine.data.formats._common import (
    CHUNK_BYTES,
    LoadJob,
    check_examples,
    destinations,
    make_dataset,
    read_class_names,
    split_for_test,
    split_text,
)

IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}

_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


class IdxFile:
    """An IDX file opened and its header read: ``dims``, ``dtype``, ``nbytes``; then ``read_into``."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.name = self.path.name
        self.consumed = 0
        try:
            self._raw = open_regular(self.path, DataError)  # a FIFO or a device: refused at once
        except IsADirectoryError:
            raise DataError(f"{self.path}: is a folder, not an IDX file") from None
        except OSError as e:
            raise DataError(f"{self.path}: cannot read ({e.strerror or e})") from None
        try:
            self.gz = self._raw.read(2) == b"\x1f\x8b"
            self._raw.seek(0)
            self._f = gzip.GzipFile(fileobj=self._raw) if self.gz else self._raw
            self._read_header()
        except BaseException:
            self.close()
            raise

    def _read_exact(self, n, what):
        try:
            data = self._f.read(n)
        except _GZIP_ERRORS as e:
            raise DataError(f"{self.name}: damaged gzip data ({e})") from None
        except OSError as e:
            raise DataError(f"{self.name}: cannot read ({e.strerror or e})") from None
        if len(data) < n:
            raise DataError(f"{self.name}: {what}")
        return data

    def _read_header(self):
        try:
            magic = self._f.read(4)
        except _GZIP_ERRORS as e:
            raise DataError(f"{self.name}: damaged gzip data ({e})") from None
        if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
            raise DataError(f"{self.name}: not an IDX file (bad magic number)")
        code, ndim = magic[2], magic[3]
        if code not in IDX_TYPES:
            raise DataError(f"{self.name}: unknown IDX data type 0x{code:02x}")
        if ndim == 0:
            raise DataError(f"{self.name}: truncated IDX header")
        raw = self._read_exact(4 * ndim, "truncated IDX header")
        self.dims = tuple(int(d) for d in np.frombuffer(raw, ">u4"))
        self.dtype = IDX_TYPES[code]
        count = 1
        for d in self.dims:  # Python ints: dimensions up to 2**32 each cannot overflow
            count *= d
        self.count = count
        self.nbytes = count * self.dtype.itemsize
        self.header_bytes = 4 + 4 * ndim

    def check_complete(self):
        """A raw file shorter than its header says is refused before anything is allocated."""
        if not self.gz:
            size = os.fstat(self._raw.fileno()).st_size
            if size - self.header_bytes < self.nbytes:
                raise DataError(self.truncated_text(size - self.header_bytes))

    def truncated_text(self, got):
        return (f"{self.name}: truncated: header says {'x'.join(map(str, self.dims))} "
                f"but the data is {got} bytes")

    def read_into(self, buf, job=None):
        """Fill the bytes of ``buf`` (a writable buffer) from the data, piece by piece."""
        if getattr(buf, "nbytes", None) == 0:  # (a view of zero-sized rows cannot be cast)
            return
        mv = memoryview(buf).cast("B")
        pos, n = 0, len(mv)
        while pos < n:
            k = min(CHUNK_BYTES, n - pos)
            try:
                got = self._f.readinto(mv[pos:pos + k])
            except _GZIP_ERRORS as e:
                raise DataError(f"{self.name}: damaged gzip data ({e})") from None
            except OSError as e:
                raise DataError(f"{self.name}: cannot read ({e.strerror or e})") from None
            if not got:
                raise DataError(self.truncated_text(self.consumed + pos))
            pos += got
            if job is not None:
                job.report(got)
        self.consumed += n

    def read_array(self, job=None):
        """The whole array, in native byte order."""
        if job is not None:
            job.check_size(self.nbytes, self.name)
        self.check_complete()
        out = np.empty(self.dims, self.dtype.newbyteorder("="))
        self.read_into(out, job)
        if self.dtype.byteorder == ">" and self.dtype.itemsize > 1:
            out.byteswap(inplace=True)
        return out

    def close(self):
        if getattr(self, "_f", None) is not None and self._f is not self._raw:
            self._f.close()
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_idx(path):
    """An IDX file (gzip or raw) as an ndarray; DataError if it is not one, or is damaged."""
    with IdxFile(path) as f:
        return f.read_array(LoadJob())


def _part(name):
    n = name.lower()
    if "t10k" in n or "test" in n:
        return "test"
    if "train" in n:
        return "train"
    return "all"


def looks_like_idx(path):
    """True when ``path`` starts with an IDX header (gzipped or not)."""
    try:
        with IdxFile(path) as f:
            return 1 <= len(f.dims)
    except DataError:
        return False


def _kind(path):
    with IdxFile(path) as f:
        return "labels" if len(f.dims) == 1 else "images"


def idx_candidates(folder):
    """Files in ``folder`` named like IDX files ("idx" or "ubyte" in the name)."""
    try:
        entries = sorted(pathlib.Path(folder).iterdir())
    except OSError as e:
        raise DataError(f"{folder}: cannot list ({e.strerror or e})") from None
    return [p for p in entries if p.is_file() and not p.name.startswith(".")
            and ("idx" in p.name.lower() or "ubyte" in p.name.lower())]


def find_pairs(folder):
    """``{part: (images, labels)}`` with part "train"/"test", or "all" for a lone pair."""
    found = {}
    for p in idx_candidates(folder):
        found.setdefault(_part(p.name), {}).setdefault(_kind(p), []).append(p)
    if not found:
        raise DataError(f"{folder}: no IDX files (names with 'idx' or 'ubyte') in it")
    pairs = {}
    for part, kinds in found.items():
        for kind in ("images", "labels"):
            files = kinds.get(kind, [])
            if len(files) > 1:
                raise DataError(f"{folder}: more than one {part} {kind} file "
                                f"({', '.join(f.name for f in files)}); keep one")
            if not files:
                other = kinds["labels" if kind == "images" else "images"][0]
                raise DataError(f"{other}: found no IDX {kind} file to go with it in {folder}")
        pairs[part] = (kinds["images"][0], kinds["labels"][0])
    if len(pairs) == 1 and "test" not in pairs:  # one pair: the tool splits it
        pairs = {"all": pairs.popitem()[1]}
    if "all" in pairs and len(pairs) > 1 or set(pairs) == {"test"}:
        raise DataError(f"{folder}: cannot tell the training files from the test files "
                        f"({', '.join(p.name for pair in pairs.values() for p in pair)}); name them "
                        f"with 'train' and 'test' (or 't10k')")
    return pairs


def labels_beside(images):
    """The labels file that goes with an images file (same name with labels/idx1), or None."""
    images = pathlib.Path(images)
    name = images.name
    for a, b in (("images", "labels"), ("Images", "Labels"), ("IMAGES", "LABELS")):
        for c, d in (("idx3", "idx1"), ("idx4", "idx1"), ("", "")):
            cand = name.replace(a, b).replace(c, d) if c else name.replace(a, b)
            if cand != name and (images.parent / cand).is_file():
                return images.parent / cand
    for c in ("idx3", "idx4"):
        cand = name.replace(c, "idx1")
        if cand != name and (images.parent / cand).is_file():
            return images.parent / cand
    return None


def pair_for_file(path):
    path = pathlib.Path(path)
    if _kind(path) == "labels":
        raise DataError(f"{path.name}: holds labels (one number per example); point at the images file")
    labels = labels_beside(path)
    if labels is None:
        raise DataError(f"{path.name}: found no labels file beside it (expected a name with 'labels' "
                        f"for 'images', or 'idx1' for 'idx3')")
    return labels


def _read_labels(path, job, where):
    with IdxFile(path) as f:
        if len(f.dims) != 1:
            raise DataError(f"{f.name}: expected labels (one number per example), got "
                            f"{'x'.join(map(str, f.dims))}")
        if f.dtype.kind not in "iu":
            raise DataError(f"{f.name}: labels must be whole numbers, got {f.dtype.name} values")
        # the header's count is checked before anything is allocated or inflated
        check_examples(f.dims[0], f.name)
        return f.read_array(job or LoadJob()).astype(np.int64)


def _open_images(path, n_labels, labels_path):
    f = IdxFile(path)
    try:
        if len(f.dims) not in (3, 4) or f.dtype != np.uint8:
            raise DataError(f"{f.name}: expected uint8 images (N, H, W[, C]), got "
                            f"{f.dtype.name} {'x'.join(map(str, f.dims))}")
        if len(f.dims) == 4 and f.dims[3] not in (1, 3):
            raise DataError(f"{f.name}: images with {f.dims[3]} channels; the engine takes 1 (grey) "
                            f"or 3 (RGB)")
        if 0 in f.dims[1:]:
            h, w = f.dims[1:3]
            raise DataError(f"{f.name}: its header says images of {w}x{h} pixels"
                            + (f" with {f.dims[3]} channels" if len(f.dims) == 4 else "")
                            + "; an image needs at least one pixel")
        if f.dims[0] != n_labels:
            raise DataError(f"{f.name}: {f.dims[0]} images but {pathlib.Path(labels_path).name} has "
                            f"{n_labels} labels")
    except BaseException:
        f.close()
        raise
    return f


def _item_shape(f):
    return f.dims[1:] if len(f.dims) == 4 else f.dims[1:] + (1,)


def load_pairs(pairs, job, name, source, class_folder):
    """A Dataset from ``{"train": (images, labels), "test": ...}`` or ``{"all": ...}``."""
    labels = {part: _read_labels(lab, None, lab.name) for part, (_, lab) in pairs.items()}
    files = {}
    try:
        for part, (img, lab) in pairs.items():
            files[part] = _open_images(img, len(labels[part]), lab)
        total = sum(f.nbytes for f in files.values())
        job.check_size(total, ", ".join(f.name for f in files.values()))
        for f in files.values():
            f.check_complete()
        job.start(total)
        if "all" in pairs:
            f, y = files["all"], labels["all"]
            is_test = split_for_test(y)
            dest, n_train = destinations(is_test)
            item = _item_shape(f)
            out = np.empty((len(y),) + item, np.uint8)
            rows = max(1, CHUNK_BYTES // max(1, int(np.prod(item))))
            buf = np.empty((min(rows, len(y)),) + item, np.uint8)
            for start in range(0, len(y), rows):
                k = min(rows, len(y) - start)
                f.read_into(buf[:k], job)
                out[dest[start:start + k]] = buf[:k]
            ys = np.empty_like(y)
            ys[dest] = y
            where = f.name
            train = (out[:n_train], ys[:n_train], where)
            test = (out[n_train:], ys[n_train:], where)
            split = split_text()
        else:
            parts = {}
            for part in ("train", "test"):
                f = files[part]
                out = np.empty((f.dims[0],) + _item_shape(f), np.uint8)
                f.read_into(out, job)
                parts[part] = (out, labels[part], f.name)
            train, test, split = parts["train"], parts["test"], "given"
    finally:
        for f in files.values():
            f.close()
    names = read_class_names(class_folder) if class_folder is not None else None
    return make_dataset(train, test, name, source, "idx", split, job.notes, names,
                        class_folder is not None and str(pathlib.Path(class_folder) / "classes.txt"))


def load_idx(path, job):
    """An IDX dataset from a folder, an images file, or ``(images, labels)``."""
    if isinstance(path, (tuple, list)):
        images, labels = (pathlib.Path(p) for p in path)
        return load_pairs({"all": (images, labels)}, job, images.name.removesuffix(".gz"),
                          images, images.parent)
    path = pathlib.Path(path)
    if path.is_dir():
        return load_pairs(find_pairs(path), job, path.name, path, path)
    labels = pair_for_file(path)
    return load_pairs({"all": (path, labels)}, job, path.name.removesuffix(".gz"), path, path.parent)
