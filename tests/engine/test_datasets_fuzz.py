"""Malformed dataset files give DataError and nothing else (light fuzzing with hypothesis)."""
import gzip
import io
import pathlib
import struct
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import DataError
from engine.data import formats as datasets

from . import dataset_files as files

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load_or_data_error(path, **kwargs):
    """The dataset, or None when the loader said DataError; any other exception fails the test."""
    try:
        ds = datasets.load(path, **kwargs)
    except DataError as e:
        assert str(e) and "\n" not in str(e)
        return None
    assert ds.num_classes >= 2 and len(ds.train) > 0
    assert ds.train.images.dtype == np.uint8 and ds.train.images.shape[3] in (1, 3)
    assert ds.train.labels.min() >= 0 and ds.train.labels.max() < ds.num_classes
    return ds


idx_headers = st.tuples(
    st.sampled_from([0, 1]),                                   # a wrong first byte now and then
    st.sampled_from([0x08, 0x08, 0x08, 0x09, 0x0B, 0x0D, 0x42]),  # data type
    st.integers(0, 5),                                         # ndim
    st.lists(st.one_of(st.integers(0, 12), st.integers(0, 2 ** 32 - 1)), max_size=6),
    st.binary(max_size=300),                                   # the data
    st.booleans())                                             # gzip


def idx_bytes(head):
    first, code, ndim, dims, data, gz = head
    raw = bytes([first, 0, code, ndim]) + b"".join(struct.pack(">I", d) for d in dims) + data
    return gzip.compress(raw) if gz else raw


@FUZZ
@given(images=idx_headers, labels=idx_headers)
def test_malformed_idx_pairs(images, labels):
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        (d / "train-images-idx3-ubyte").write_bytes(idx_bytes(images))
        (d / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
        load_or_data_error(d, max_bytes=2 ** 20)


@FUZZ
@given(st.binary(max_size=64), st.integers(0, 4000), st.booleans())
def test_damaged_idx_data(junk, cut, gz):
    x, y = files.images(40, 6, 6)
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        files.write_idx_folder(d, (x, y), gz=gz)
        f = d / ("train-images-idx3-ubyte" + (".gz" if gz else ""))
        raw = f.read_bytes()
        cut = min(cut, len(raw))
        f.write_bytes(raw[:cut] + junk + raw[cut + len(junk):])
        load_or_data_error(d)


csv_fields = st.one_of(st.integers(-3, 300).map(str), st.sampled_from(["", "x", "1.5", "0.25", "1e400", "nan",
                                                                      '"7"', " 3", "-0", "label"]))
csv_rows = st.lists(st.lists(csv_fields, min_size=0, max_size=12).map(",".join), min_size=0, max_size=12)


@FUZZ
@given(rows=csv_rows, newline=st.sampled_from(["\n", "\r\n"]))
def test_malformed_csv(rows, newline):
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d) / "d.csv"
        path.write_text(newline.join(rows))
        load_or_data_error(path)


@FUZZ
@given(rows=st.lists(st.tuples(st.integers(0, 3), st.lists(st.integers(0, 255), min_size=4, max_size=4)),
                     min_size=1, max_size=30))
def test_well_formed_csv_round_trips(rows):
    text = "".join(f"{label}," + ",".join(map(str, px)) + "\n" for label, px in rows)
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d) / "d.csv"
        path.write_text(text)
        ds = load_or_data_error(path)
        if len({label for label, _ in rows}) >= 2 or max(label for label, _ in rows) >= 1:
            assert ds is not None and ds.image_shape == (2, 2, 1)
            got = files.as_set(np.concatenate([ds.train.images, ds.test.images]),
                               np.concatenate([ds.train.labels, ds.test.labels]))
            want = files.as_set(np.array([px for _, px in rows], np.uint8).reshape(-1, 2, 2, 1),
                                np.array([label for label, _ in rows]))
            assert got == want


def _npz_bytes():
    buf = io.BytesIO()
    x, y = files.images(12, 4, 4)
    np.savez_compressed(buf, x_train=x, y_train=y, x_test=x, y_test=y)
    return buf.getvalue()


NPZ = _npz_bytes()


@FUZZ
@given(st.integers(0, len(NPZ)), st.binary(min_size=1, max_size=16), st.booleans())
def test_damaged_npz(at, junk, truncate):
    raw = NPZ[:at] if truncate else NPZ[:at] + junk + NPZ[at + len(junk):]
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d) / "d.npz"
        path.write_bytes(raw)
        load_or_data_error(path)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=200), min_size=2, max_size=6))
def test_folders_of_junk_files(blobs):
    with tempfile.TemporaryDirectory() as d:
        root = pathlib.Path(d)
        for i, blob in enumerate(blobs):
            c = root / f"c{i % 2}"
            c.mkdir(exist_ok=True)
            (c / f"{i}.png").write_bytes(blob)
        assert load_or_data_error(root) is None
