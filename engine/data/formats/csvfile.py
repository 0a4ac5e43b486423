"""CSV files in the layout of the MNIST and Fashion-MNIST CSV files: a label, then one column per pixel.

With or without a header row (a first line whose first field is not a number); ``.csv`` or
``.csv.gz``. Rows of ``s*s`` pixels are grey ``s x s`` images, rows of ``3*s*s`` pixels RGB
ones, read as the red, green and blue of each pixel in turn, rows top to bottom (the
``(H, W, C)`` order of ``numpy.reshape``). Pixels are whole numbers 0..255; others (floats in
[0, 1], other ranges) are scaled as ``PixelScale`` says, with a note. A folder with a
``*train*.csv`` and a ``*test*.csv`` gives both parts; one file is split by the tool. Class
names from a ``classes.txt`` beside the file.

Two passes over the text: the first counts the rows, checks each row's length and reads the
labels, so that the images are allocated once at their final size; the second parses the
pixels in pieces of rows with ``numpy.loadtxt``.
"""
import array
import gzip
import itertools
import math
import os
import pathlib
import zlib

import numpy as np

from engine.core import limits
from engine.core.errors import DataError
from engine.core.io import open_regular
from engine.data.formats._common import (
    PixelScale,
    check_examples,
    destinations,
    make_dataset,
    read_class_names,
    size_text,
    split_for_test,
    split_text,
)

#: The longest line read (a 256x256 RGB image is about 0.8 MB of text).
MAX_LINE_BYTES = 64 * 2 ** 20

_ROWS = 500  # rows parsed at a time
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def is_csv_name(path):
    n = pathlib.Path(path).name.lower()
    return n.endswith(".csv") or n.endswith(".csv.gz")


class CsvFile:
    """One CSV file: ``rows``, ``labels`` and ``shape`` after ``survey``; then its pixel rows."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.name = self.path.name
        try:
            self.size = os.path.getsize(self.path)
        except OSError as e:
            raise DataError(f"{self.path}: cannot read ({e.strerror or e})") from None

    def _open(self):
        try:
            raw = open_regular(self.path, DataError)  # a FIFO or a device: refused at once
        except OSError as e:
            raise DataError(f"{self.path}: cannot read ({e.strerror or e})") from None
        if raw.read(2) == b"\x1f\x8b":
            raw.seek(0)
            return raw, gzip.GzipFile(fileobj=raw)
        raw.seek(0)
        return raw, raw

    def _lines(self, f):
        """``(line number, line)`` of the non-empty lines; the text read (decompressed, for a
        ``.csv.gz``) is counted against ``limits.MAX_TEXT_BYTES`` as it is read."""
        read = 0
        for number in itertools.count(1):
            try:
                line = f.readline(MAX_LINE_BYTES + 1)
            except _GZIP_ERRORS as e:
                raise DataError(f"{self.name}: damaged gzip data ({e})") from None
            except OSError as e:
                raise DataError(f"{self.name}: cannot read ({e.strerror or e})") from None
            if not line:
                return
            read += len(line)
            if read > limits.MAX_TEXT_BYTES:
                raise DataError(self.too_much_text(f"more than {size_text(limits.MAX_TEXT_BYTES)} of text"))
            if len(line) > MAX_LINE_BYTES:
                raise DataError(f"{self.name} line {number}: longer than {MAX_LINE_BYTES // 2 ** 20} MB")
            if line.strip():
                yield number, line

    def too_much_text(self, what):
        return (f"{self.name}: {what}{' once decompressed' if self.name.lower().endswith('.gz') else ''}; "
                f"the limit for a CSV file is {size_text(limits.MAX_TEXT_BYTES)} (save larger "
                f"datasets as .npz or IDX files)")

    def survey(self, job, progress_share):
        """Count rows, check their length, read labels; refuse sizes beyond the memory limit."""
        if self.size > limits.MAX_TEXT_BYTES:
            raise DataError(self.too_much_text(f"{size_text(self.size)} of text"))
        raw, f = self._open()
        self.header = None
        labels, self.numbers = array.array("q"), array.array("q")  # 8 bytes a row, not a Python int
        ncols = None
        max_rows = None
        reported = 0
        try:
            for number, line in self._lines(f):
                first = line.split(b",", 1)[0].strip().strip(b'"').strip()
                if ncols is None:
                    ncols = line.count(b",") + 1
                    if _number(first) is None:
                        self.header = number
                        ncols = None
                        continue
                    self.shape = _image_shape(ncols - 1, f"{self.name} line {number}")
                    max_rows = job.max_bytes // max(1, ncols - 1)
                else:
                    n = line.count(b",") + 1
                    if n != ncols:
                        raise DataError(f"{self.name} line {number}: {n} values, expected {ncols} "
                                        f"(a label and {ncols - 1} pixels, as on line {self.numbers[0]})")
                value = _number(first)
                if value is None or value != int(value):
                    raise DataError(f"{self.name} line {number}: label {first.decode('utf-8', 'replace')!r} "
                                    f"is not a whole number")
                if abs(value) >= 2 ** 62:
                    raise DataError(f"{self.name} line {number}: label {first.decode('utf-8', 'replace')} "
                                    f"is too large to number a class")
                labels.append(int(value))
                self.numbers.append(number)
                if len(labels) > limits.MAX_EXAMPLES:
                    check_examples(len(labels), self.name)
                if len(labels) > max_rows:
                    job.check_size(len(labels) * (ncols - 1), self.name)
                if len(labels) % 1000 == 0:
                    pos = raw.tell()
                    job.report(progress_share * (pos - reported) / max(1, self.size))
                    reported = pos
            job.report(progress_share * (self.size - reported) / max(1, self.size))
        finally:
            if f is not raw:
                f.close()
            raw.close()
        if ncols is None:
            raise DataError(f"{self.name}: no rows of data")
        self.rows = len(labels)
        self.labels = np.frombuffer(labels, np.int64).copy()
        self.numbers = np.frombuffer(self.numbers, np.int64).copy()
        self.ncols = ncols

    def pieces(self, dtype, job=None, units=0.0):
        """The pixel rows, ``_ROWS`` at a time, parsed as ``dtype`` (``(k, ncols - 1)`` arrays)."""
        raw, f = self._open()
        try:
            lines = self._lines(f)
            if self.header is not None:
                next(lines)
            done = 0
            while True:
                piece = list(itertools.islice(lines, _ROWS))
                if not piece:
                    return
                try:
                    values = np.loadtxt([ln for _, ln in piece], delimiter=",", dtype=dtype, quotechar='"',
                                        ndmin=2)
                except ValueError as e:
                    error = self._bad_value(piece, dtype, e)
                    if error is None:  # whole-number parsing met other numbers: parse as floats
                        raise _ParseError() from None
                    raise error from None
                done += len(piece)
                if job is not None:
                    job.report(units * len(piece) / max(1, self.rows))
                yield values[:, 1:]
        finally:
            if f is not raw:
                f.close()
            raw.close()

    def _bad_value(self, piece, dtype, error):
        for number, line in piece:
            for column, field in enumerate(line.split(b","), 1):
                field = field.strip().strip(b'"').strip()
                value = _number(field)
                text = field.decode("utf-8", "replace")
                if value is None:
                    return DataError(f"{self.name} line {number}, column {column}: {text!r} is not a number")
                if np.dtype(dtype).kind in "iu" and (value != int(value) or not -2 ** 15 <= value < 2 ** 15):
                    return None  # not a whole 16-bit number: parse as floats instead
        return DataError(f"{self.name}: {error}")


class _ParseError(Exception):
    """Pixels that are not whole numbers in 0..255: parse them again as floats, and scale them."""


def _number(field):
    try:
        v = float(field)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _image_shape(pixels, where):
    s = math.isqrt(pixels)
    if s * s == pixels and s > 0:
        return (s, s, 1)
    s = math.isqrt(pixels // 3)
    if pixels % 3 == 0 and s * s * 3 == pixels and s > 0:
        return (s, s, 3)
    raise DataError(f"{where}: {pixels} pixel values after the label, which is not a square grey "
                    f"image (s*s values) or a square RGB one (3*s*s values)")


def find_csv_parts(folder):
    files = sorted(p for p in pathlib.Path(folder).iterdir()
                   if p.is_file() and is_csv_name(p) and not p.name.startswith("."))
    train = [p for p in files if "train" in p.name.lower()]
    test = [p for p in files if "test" in p.name.lower() and p not in train]
    if len(train) == 1 and len(test) == 1:
        return {"train": train[0], "test": test[0]}
    if len(files) == 1:
        return {"all": files[0]}
    raise DataError(f"{folder}: found CSV files {', '.join(p.name for p in files) or 'none'}; expected "
                    f"one, or one with 'train' and one with 'test' in its name")


def load_csv(path, job):
    path = pathlib.Path(path)
    parts = find_csv_parts(path) if path.is_dir() else {"all": path}
    files = {part: CsvFile(p) for part, p in parts.items()}
    total = sum(f.size for f in files.values())
    job.start(3 * total)
    for f in files.values():
        f.survey(job, f.size)
    shapes = {f.shape for f in files.values()}
    if len(shapes) > 1:
        raise DataError(f"{files['test'].name}: rows of {files['test'].ncols - 1} pixels but "
                        f"{files['train'].name} has {files['train'].ncols - 1}")
    item = shapes.pop()
    n_total = sum(f.rows for f in files.values())
    job.check_size(n_total * int(np.prod(item)), path.name)
    if item[2] == 3:
        job.note(f"{path.name}: {item[2] * item[0] * item[1]} values a row read as {item[1]}x{item[0]} RGB "
                 f"pixels, red, green and blue of each pixel in turn")

    def fill(f, out, dest, scale, dtype):
        pos = 0
        for values in f.pieces(dtype, job, 2 * f.size if scale is None else f.size):
            if scale is not None:
                pixels = scale(values)
            elif values.size and (values.min() < 0 or values.max() > 255):
                raise _ParseError()  # whole numbers, but not 0..255: scale them
            else:
                pixels = values.astype(np.uint8)
            k = len(values)
            rows = dest[pos:pos + k] if dest is not None else slice(pos, pos + k)
            out[rows] = pixels.reshape((k,) + item)
            pos += k

    if "all" in files:
        f = files["all"]
        dest, n_train = destinations(split_for_test(f.labels))
        outs = {"all": (np.empty((f.rows,) + item, np.uint8), dest)}
    else:
        outs = {part: (np.empty((f.rows,) + item, np.uint8), None) for part, f in files.items()}
    try:
        for part, f in files.items():
            fill(f, outs[part][0], outs[part][1], None, np.int16)
    except _ParseError:
        # not whole numbers in 0..255: survey the values as floats, then scale
        scale = PixelScale.survey((v for f in files.values() for v in f.pieces(np.float32, job, f.size / 2)),
                                  np.float32, path.name)
        if scale.note:
            job.note(scale.note.replace("float32 pixels", "pixel values"))
        for part, f in files.items():
            fill(f, outs[part][0], outs[part][1], scale, np.float32)
    names = read_class_names(path if path.is_dir() else path.parent)
    names_from = str((path if path.is_dir() else path.parent) / "classes.txt")
    if "all" in files:
        f = files["all"]
        out = outs["all"][0]
        ys = np.empty_like(f.labels)
        ys[dest] = f.labels
        train = (out[:n_train], ys[:n_train], f.name)
        test = (out[n_train:], ys[n_train:], f.name)
        split = split_text()
    else:
        train = (outs["train"][0], files["train"].labels, files["train"].name)
        test = (outs["test"][0], files["test"].labels, files["test"].name)
        split = "given"
    name = path.name if path.is_dir() else path.name.removesuffix(".gz").removesuffix(".csv")
    return make_dataset(train, test, name, path, "csv", split, job.notes, names, names_from)
