"""Limits that cover labels, streams and statistics, not only the images (issue 20): each bomb
of the issue, scaled down, is refused early with a clear error, or loads as the user meant."""
import gzip
import os

import numpy as np
import pytest

from engine import DataError
from engine.core import limits
from engine.data import Dataset, ImageSet
from engine.data import formats as datasets

from . import dataset_files as files


def idx_header(code, *dims):
    return bytes([0, 0, code, len(dims)]) + b"".join(int(d).to_bytes(4, "big") for d in dims)


# -- the class count comes from the labels, capped ------------------------------------------
def test_labels_far_apart_are_the_classes_named_by_their_values(tmp_path):
    """Labels 0, 1e9, 2e9 made 2,000,000,001 class names (MemoryError after 15 s at 5.8 GB):
    they are three classes, named by their values, and a note says so."""
    x, _ = files.images(30)
    y = np.repeat(np.array([0, 10 ** 9, 2 * 10 ** 9], np.int64), 10)
    ds = datasets.load(files.write_npz(tmp_path / "ids.npz", (x, y)))
    assert ds.num_classes == 3 and ds.class_names == ["0", "1000000000", "2000000000"]
    labels = np.concatenate([ds.train.labels, ds.test.labels])
    assert sorted(np.bincount(labels).tolist()) == [10, 10, 10]
    assert any("their 3 different values are the classes" in n for n in ds.notes)


def test_labels_that_are_class_numbers_keep_them_even_with_a_class_missing(tmp_path):
    x, _ = files.images(20)
    y = np.array([0, 1, 2, 5] * 5)
    ds = datasets.load(files.write_npz(tmp_path / "gap.npz", (x, y)))
    assert ds.class_names == ["0", "1", "2", "3", "4", "5"]  # digit 5 stays class 5


def test_more_different_labels_than_the_limit_is_an_error_naming_it(tmp_path, monkeypatch):
    """IDX labels of random bytes up to 13,277,755 were taken as 13,277,756 classes (1.6 GB)."""
    monkeypatch.setattr(limits, "MAX_CLASSES", 5)
    x, _ = files.images(24)
    y = np.arange(24) * 1000
    folder = files.write_idx_folder(tmp_path / "idx", (x, y.astype(">i4")))
    files.write_idx(folder / "train-labels-idx1-ubyte", y.astype(">i4"), code=0x0C)
    with pytest.raises(DataError, match="24 different labels .*; the limit is 5 classes"):
        datasets.load(folder)
    with pytest.raises(DataError, match="the limit is 5"):
        Dataset(ImageSet(x, np.zeros(24, int)), ImageSet(x, np.zeros(24, int)), num_classes=6)


def test_a_csv_label_of_two_billion_is_a_class_not_two_billion_classes(tmp_path):
    x, y = files.images(12)
    y = y.astype(np.int64)
    y[y == 2] = 2_000_000_000
    ds = datasets.load(files.write_csv(tmp_path / "big-label.csv", x, y))
    assert ds.class_names == ["0", "1", "2000000000"]


def test_a_csv_label_beyond_64_bits_is_a_clear_error(tmp_path):
    """99999999999999999999 raised a raw OverflowError."""
    x, y = files.images(6)
    text = files.csv_text(x, y).splitlines()
    text[3] = "99999999999999999999" + text[3][text[3].index(","):]
    (tmp_path / "over.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match="over.csv line 4: label 99999999999999999999 is too large"):
        datasets.load(tmp_path / "over.csv")


# -- label files and streams ----------------------------------------------------------------
def test_an_idx_labels_header_is_size_checked_before_anything_inflates(tmp_path, monkeypatch):
    """A 15 MB gzip whose labels header says 3.4 G labels inflated to 3.4 GB before "truncated"."""
    monkeypatch.setattr(limits, "MAX_EXAMPLES", 1000)
    x, y = files.images(10)
    folder = files.write_idx_folder(tmp_path / "idx", (x, y))
    with gzip.open(folder / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(idx_header(0x08, 3_400_000_000) + bytes(4 * 2 ** 20))
    os.remove(folder / "train-labels-idx1-ubyte")
    read = []
    real = gzip.GzipFile.read
    monkeypatch.setattr(gzip.GzipFile, "read", lambda self, n=-1: read.append(n) or real(self, n))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: 3,400,000,000 examples \(labels\), "
                                        r"more than the 1,000 limit"):
        datasets.load(folder)
    assert sum(n for n in read if n > 0) < 100  # the header, nothing more


def test_npz_labels_beyond_the_example_limit_are_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_EXAMPLES", 10)
    x, y = files.images(30)
    with pytest.raises(DataError, match="30 examples .*more than the 10 limit"):
        datasets.load(files.write_npz(tmp_path / "d.npz", (x, y)))


def test_a_gzipped_csv_bomb_stops_at_the_text_limit(tmp_path, monkeypatch):
    """A 28 MB bomb.csv.gz of 3 GB of valid rows still ran after 300 s, past 1.6 GB: the
    decompressed text is counted as it is read and stops at the limit."""
    monkeypatch.setattr(limits, "MAX_TEXT_BYTES", 2 ** 20)
    row = b"1," + b",".join([b"0"] * 64) + b"\n"
    with gzip.open(tmp_path / "bomb.csv.gz", "wb") as f:
        for _ in range(100):
            f.write(row * 1000)  # 13 MB of rows, far more than the (scaled down) limit
    with pytest.raises(DataError, match=r"bomb.csv.gz: more than 1.0 MB of text once decompressed; the "
                                        r"limit for a CSV file is 1.0 MB"):
        datasets.load(tmp_path / "bomb.csv.gz")
    # a plain file over the limit is refused from its size, before a line is read
    (tmp_path / "big.csv").write_bytes(row * 20000)
    with pytest.raises(DataError, match=r"big.csv: 2.5 MB of text; the limit"):
        datasets.load(tmp_path / "big.csv")


# -- raw tracebacks that are clear errors now -------------------------------------------------
def test_idx_images_of_zero_pixels_are_a_clear_error(tmp_path):
    """100x0x0 images: TypeError: memoryview: cannot cast view with zeros in shape."""
    (tmp_path / "zero-images-idx3-ubyte").write_bytes(idx_header(0x08, 100, 0, 0))
    files.write_idx(tmp_path / "zero-labels-idx1-ubyte", np.zeros(100, np.uint8))
    with pytest.raises(DataError, match="zero-images-idx3-ubyte: its header says images of 0x0 pixels"):
        datasets.load(tmp_path / "zero-images-idx3-ubyte")
    (tmp_path / "empty-idx3-ubyte").write_bytes(idx_header(0x08, 3, 0, 4))
    assert datasets.idx.read_idx(tmp_path / "empty-idx3-ubyte").shape == (3, 0, 4)
    np.savez(tmp_path / "z.npz", x=np.zeros((10, 0, 5), np.uint8), y=np.zeros(10, np.uint8))
    with pytest.raises(DataError, match="an image needs at least one pixel"):
        datasets.load(tmp_path / "z.npz")


# -- statistics in chunks ----------------------------------------------------------------------
def test_pixel_stats_never_make_a_float_copy_of_many_images(monkeypatch):
    """A 2 GB .npz loaded, then pixel_stats allocated 3 GB of float64 (4096 large images at once)."""
    monkeypatch.setattr(limits, "STATS_CHUNK", 1000)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (50, 12, 10, 3), dtype=np.uint8)
    seen = []

    class Spy(np.ndarray):
        def __getitem__(self, i):
            out = np.ndarray.__getitem__(self, i)
            seen.append(out.size)
            return out

    mean, std = datasets.pixel_stats(x.view(Spy))
    assert max(seen) <= 1000
    f = x.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(mean, f.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, f.std(axis=0), rtol=1e-9)


# -- images in class folders ---------------------------------------------------------------------
def test_exif_orientation_is_applied_in_class_folders(tmp_path):
    """A phone's photo stored sideways with "rotate 90" in its EXIF was read sideways."""
    from PIL import Image
    root = tmp_path / "photos"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(3):
            im = Image.new("L", (6, 4), 0)   # stored 6 wide, 4 high, a bright top-left pixel
            im.putpixel((0, 0), 255)
            exif = Image.Exif()
            exif[0x0112] = 6                  # shown turned 90 degrees clockwise: 4 wide, 6 high
            im.save(root / c / f"{i}.jpg", exif=exif, quality=100)
    ds = datasets.load(root)
    assert ds.image_shape == (6, 4, 1)
    img = ds.train.images[0][..., 0]
    # turned clockwise, the stored top-left corner is shown at the top right
    assert img[0, 3] > 150 and img[0, 0] < 100
    one = datasets.read_image(root / "a" / "0.jpg")
    assert one.shape == (6, 4, 1) and one[0, 3, 0] > 150


def test_an_unreadable_class_folder_is_an_error_that_names_it(tmp_path, monkeypatch):
    """chmod 000 on a class folder: it was skipped silently (one class fewer). We run as root,
    whom permissions do not stop, so listing it is made to fail as it would for a user."""
    x, y = files.images(30)
    root = files.write_folder(tmp_path / "f", (x, y))
    locked = str(root / "class1")
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(DataError, match=r"f/class1: cannot list \(Permission denied\)"):
        datasets.load(root)


# -- a large batch through a network runs in pieces -------------------------------------------
DEMO_LIKE = [{"type": "input", "out_sx": 12, "out_sy": 12, "out_depth": 1},
             {"type": "conv", "sx": 3, "filters": 4, "pad": 1, "activation": "relu"},
             {"type": "pool", "sx": 2, "stride": 2},
             {"type": "fc", "num_neurons": 6, "activation": "relu", "drop_prob": 0.5},
             {"type": "softmax", "num_classes": 3}]


def test_forward_and_predict_of_a_large_batch_run_in_pieces_with_the_same_numbers(monkeypatch):
    """Net.forward of 100,000 images took 12.8 GB: it held every activation of the whole batch."""
    import engine
    from engine.core import execution
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (700, 12, 12, 1), dtype=np.uint8)
    xf = engine.data.to_float(x)
    whole = engine.Net(DEMO_LIKE, seed=1)
    want = whole.forward(xf)
    want_acts = [np.array(l.out_act) for l in whole.layers]
    whole.backward(np.arange(700) % 3)
    want_grads = [p["grads"].copy() for p in whole.params_and_grads()]

    monkeypatch.setattr(limits, "INFER_BYTES", 10_000)
    net = engine.Net(DEMO_LIKE, seed=1)
    assert net.infer_rows() == 64
    sizes = []
    real = execution.infer
    monkeypatch.setattr(execution, "infer", lambda n, b: sizes.append(len(b)) or real(n, b))
    got = net.forward(xf)
    assert max(sizes) == 64 and sum(sizes) == 700
    tol = dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, want, **tol)
    sizes.clear()
    assert np.array_equal(net.predict(xf), got.reshape(700, -1).argmax(axis=1))
    assert max(sizes) == 64
    # out_act shows this batch, computed when read, by the net as it was then
    params = net.params_and_grads()[0]["params"]
    saved = params.copy()
    params += 1.0
    for layer, a in zip(net.layers, want_acts):
        np.testing.assert_allclose(layer.out_act, a, **tol)
    params[...] = saved
    # and a backward after it gives the whole batch's gradients
    net.forward(xf)
    net.backward(np.arange(700) % 3)
    for g, w in zip((p["grads"] for p in net.params_and_grads()), want_grads):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)
