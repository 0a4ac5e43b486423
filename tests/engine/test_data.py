"""IDX loading, the bundled MNIST, splits and augmentation."""
import gzip
import struct

import numpy as np
import pytest

from engine import DataError, data


def write_idx(path, arr, code=0x08, gz=False):
    head = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    raw = head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def test_bundled_mnist_is_complete():
    ds = data.load_mnist()
    assert ds.train.images.shape == (60000, 28, 28, 1) and ds.train.images.dtype == np.uint8
    assert ds.test.images.shape == (10000, 28, 28, 1)
    assert np.bincount(ds.train.labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(ds.test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.parametrize("gz", [False, True])
def test_any_idx_pair_loads_raw_or_gzip(tmp_path, gz):
    imgs = np.arange(3 * 5 * 4 * 3, dtype=np.uint8).reshape(3, 5, 4, 3)
    labels = np.array([2, 0, 1], dtype=np.uint8)
    s = data.load_idx_pair(write_idx(tmp_path / "i", imgs, gz=gz), write_idx(tmp_path / "l", labels, gz=gz))
    assert s.images.shape == (3, 5, 4, 3)
    np.testing.assert_array_equal(s.images, imgs)
    assert s.labels.tolist() == [2, 0, 1]
    f = write_idx(tmp_path / "f", np.array([1.5, -2.0], dtype=np.float32), code=0x0D)
    assert data.read_idx(f).tolist() == [1.5, -2.0]


def test_bad_idx_files_are_clear_errors(tmp_path):
    (tmp_path / "junk").write_bytes(b"hello world")
    with pytest.raises(DataError, match="not an IDX file"):
        data.read_idx(tmp_path / "junk")
    f = write_idx(tmp_path / "t", np.zeros((10, 4, 4), np.uint8))
    f.write_bytes(f.read_bytes()[:-5])
    with pytest.raises(DataError, match="truncated"):
        data.read_idx(f)
    with pytest.raises(DataError, match="cannot read"):
        data.read_idx(tmp_path / "missing")
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + b"\x00" * 20)
    with pytest.raises(DataError, match="damaged gzip"):
        data.read_idx(tmp_path / "bad.gz")
    imgs = write_idx(tmp_path / "i", np.zeros((3, 2, 2), np.uint8))
    labels = write_idx(tmp_path / "l", np.zeros(4, np.uint8))
    with pytest.raises(DataError, match="3 images but 4 labels"):
        data.load_idx_pair(imgs, labels)


def test_validation_split_is_disjoint_and_complete():
    s = data.ImageSet(np.arange(100, dtype=np.uint8).reshape(100, 1, 1), np.arange(100) % 10)
    train, val = data.split_validation(s, 0.2)
    assert len(train) == 80 and len(val) == 20
    seen = np.concatenate([train.images.ravel(), val.images.ravel()])
    assert sorted(seen.tolist()) == list(range(100))
    with pytest.raises(DataError):
        data.split_validation(s, 100)


def test_float_batches_as_in_convnetjs():
    x = data.to_float(np.array([0, 255, 51], dtype=np.uint8))
    np.testing.assert_allclose(x, [-0.5, 0.5, 0.2 - 0.5], atol=1e-6)
    assert x.dtype == np.float32


def test_random_crops_shifts_and_flips_keep_pixels():
    rng = np.random.default_rng(0)
    img = np.zeros((1, 28, 28, 1), np.uint8)
    img[0, 10:18, 12:14] = 255  # a bar inside the central 24x24
    crops = data.Augment(crop=24)(np.repeat(img, 50, 0), rng)
    assert crops.shape == (50, 24, 24, 1)
    assert all(c.sum() == img.sum() for c in crops)       # the digit is never cut
    assert len({c.tobytes() for c in crops}) > 5         # offsets vary
    shifted = data.Augment(crop=None, shift=3)(np.repeat(img, 50, 0), rng)
    assert shifted.shape == (50, 28, 28, 1) and all(c.sum() == img.sum() for c in shifted)
    flipped = data.Augment(flip=True)(np.repeat(img, 40, 0), rng)
    kinds = {c.tobytes() for c in flipped}
    assert kinds == {img[0].tobytes(), img[0, :, ::-1].tobytes()}


def test_centre_crop_and_multi_crop_prediction():
    import engine
    img = np.arange(28 * 28, dtype=np.uint8).reshape(1, 28, 28, 1)
    c = data.center_crop(img, 24)
    assert c[0, 0, 0, 0] == img[0, 2, 2, 0]
    assert len(data.crops(img, 24, 5)) == 5
    net = engine.Net([{"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 1},
                      {"type": "softmax", "num_classes": 10}], seed=0)
    p1 = data.predict(net, np.repeat(img, 3, 0))
    p5 = data.predict(net, np.repeat(img, 3, 0), crop_count=5)
    assert p1.shape == p5.shape == (3, 10)
    np.testing.assert_allclose(p5.sum(axis=1), 1, rtol=1e-5)
    assert not np.allclose(p1, p5)
