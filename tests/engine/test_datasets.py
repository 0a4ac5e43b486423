"""Every dataset format in, grey and RGB: what loads, what it holds, that it trains, and clear errors."""
import gzip
import json
import math
import tracemalloc

import numpy as np
import pytest

from engine import DataError, SpecError
from engine.data import accuracy
from engine.data import formats as datasets
from engine.data.formats import LoadCancelled
from engine.runs.experiment import Experiment
from engine.runs.run import make_run

from . import dataset_files as files

TINY = [{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 1},
        {"type": "conv", "sx": 3, "filters": 4, "pad": 1, "activation": "relu"},
        {"type": "pool", "sx": 2, "stride": 2},
        {"type": "softmax", "num_classes": 10}]


def write(fmt, tmp_path, train, test):
    """Write ``train`` (and ``test``, unless the format variant lets the tool split) as ``fmt``."""
    if fmt == "idx":
        return files.write_idx_folder(tmp_path / "idx", train, test)
    if fmt == "idx-gz":
        return files.write_idx_folder(tmp_path / "idx", train, test, gz=True)
    if fmt == "idx-file":  # one images file, labels found beside it; split by the tool
        folder = files.write_idx_folder(tmp_path / "idx", train)
        return folder / "train-images-idx3-ubyte"
    if fmt == "npz":
        return files.write_npz(tmp_path / "d.npz", train, test)
    if fmt == "npz-xy":
        return files.write_npz(tmp_path / "d.npz", train)
    if fmt == "csv":
        return files.write_csv(tmp_path / "d.csv", *train)
    if fmt == "csv-header-folder":
        (tmp_path / "c").mkdir()
        files.write_csv(tmp_path / "c" / "mnist_train.csv", *train, header=True)
        files.write_csv(tmp_path / "c" / "mnist_test.csv", *test, header=True)
        return tmp_path / "c"
    if fmt == "folder":
        return files.write_folder(tmp_path / "f", train, test, class_names=["cat", "dog", "owl"])
    if fmt == "folder-split":
        return files.write_folder(tmp_path / "f", train, suffix=".bmp")
    raise AssertionError(fmt)


FORMATS = ["idx", "idx-gz", "idx-file", "npz", "npz-xy", "csv", "csv-header-folder", "folder", "folder-split"]
SPLIT_BY_TOOL = {"idx-file", "npz-xy", "csv", "folder-split"}


@pytest.mark.parametrize("channels", [1, 3], ids=["grey", "rgb"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_loads_exactly_and_trains(fmt, channels, tmp_path):
    train = files.images(60, 8, 8, channels, seed=1)
    test = files.images(30, 8, 8, channels, seed=2)
    ds = datasets.load(write(fmt, tmp_path, train, test))
    assert ds.format == fmt.split("-")[0]
    assert ds.image_shape == (8, 8, channels)
    assert ds.train.images.dtype == np.uint8
    if fmt == "folder":
        assert ds.class_names == ["cat", "dog", "owl"]
    elif fmt == "folder-split":
        assert ds.class_names == ["class0", "class1", "class2"]
    else:
        assert ds.class_names == ["0", "1", "2"]
    if fmt in SPLIT_BY_TOOL:  # the tool holds out 20% of each class, and loses nothing
        assert ds.split.startswith("by the tool")
        assert (len(ds.train), len(ds.test)) == (48, 12)
        assert np.bincount(ds.test.labels).tolist() == [4, 4, 4]
        whole = (np.concatenate([ds.train.images, ds.test.images]),
                 np.concatenate([ds.train.labels, ds.test.labels]))
        assert files.as_set(*whole) == files.as_set(*train)
    else:
        assert ds.split == "given"
        assert files.as_set(ds.train.images, ds.train.labels) == files.as_set(*train)
        assert files.as_set(ds.test.images, ds.test.labels) == files.as_set(*test)
    # the real training loop, on a network adapted to the data
    defs, changes = datasets.fit_layer_defs(TINY, ds)
    assert changes and datasets.check_fit(defs, ds) == []
    exp = Experiment(defs, trainer={"method": "adam", "learning_rate": 0.01, "batch_size": 8},
                     validation=10, seed=0)
    net = exp.build_net()
    run = make_run(exp, net, exp.build_trainer(net), ds)
    r = run.train_batches(max_batches=3)
    assert r["tag"] == "progress" and r["examples"] == 24 and math.isfinite(r["cost_loss"])
    assert 0 <= accuracy(net, ds.test) <= 1


def test_bundled_mnist_through_the_one_entry_point():
    ds = datasets.load()
    assert (ds.name, ds.format, ds.source, ds.split) == ("MNIST", "idx", "bundled", "given")
    s = datasets.summary(ds)
    assert s["image_shape"] == [28, 28, 1] and s["num_classes"] == 10 and s["class_names"][9] == "9"
    assert (s["train"], s["test"]) == (60000, 10000)
    assert s["train_per_class"][:3] == [5923, 6742, 5958] and sum(s["test_per_class"]) == 10000
    assert 33.0 < s["pixel_mean"][0] < 33.7 and 78.0 < s["pixel_std"][0] < 79.0  # MNIST's known figures
    json.dumps(s)


def test_class_names_from_classes_txt_and_npz(tmp_path):
    train, test = files.images(20, c=1, seed=1), files.images(10, c=1, seed=2)
    folder = files.write_idx_folder(tmp_path / "idx", train, test)
    (folder / "classes.txt").write_text("circle\nsquare\ntriangle\n\n")
    assert datasets.load(folder).class_names == ["circle", "square", "triangle"]
    path = files.write_npz(tmp_path / "n.npz", train, test, class_names=np.array(["a", "b", "c", "d"]))
    ds = datasets.load(path)
    assert ds.class_names == ["a", "b", "c", "d"] and ds.num_classes == 4  # a class may have no images


def test_labels_outside_the_class_list_are_refused(tmp_path):
    train, test = files.images(20, classes=3, seed=1), files.images(10, classes=3, seed=2)
    folder = files.write_idx_folder(tmp_path / "idx", train, test)
    (folder / "classes.txt").write_text("circle\nsquare\n")
    with pytest.raises(DataError, match=r"label 2 .* outside the 2 classes of .*classes\.txt"):
        datasets.load(folder)
    x, y = files.images(10)
    with pytest.raises(DataError, match="label -1"):
        datasets.load(files.write_npz(tmp_path / "neg.npz", (x, y - 1)))


def test_npz_pixel_types_are_scaled_and_said_so(tmp_path):
    x, y = files.images(40, c=3)
    ds = datasets.load(files.write_npz(tmp_path / "f.npz", (x.astype(np.float32) / 255, y)))
    np.testing.assert_array_equal(np.sort(np.concatenate([ds.train.images, ds.test.images]).ravel()),
                                  np.sort(x.ravel()))
    assert any("[0, 1] multiplied by 255" in n for n in ds.notes)
    ds = datasets.load(files.write_npz(tmp_path / "s.npz", (x.astype(np.float64) * 2 - 100, y)))
    allx = np.concatenate([ds.train.images, ds.test.images])
    assert allx.min() == 0 and allx.max() == 255
    assert any("mapped linearly onto 0..255" in n for n in ds.notes)
    # PyTorch's channels-first order, and one-hot labels
    ds = datasets.load(files.write_npz(tmp_path / "t.npz", (x.transpose(0, 3, 1, 2).copy(), np.eye(3)[y])))
    assert ds.image_shape == (8, 8, 3) and any("channels first" in n for n in ds.notes)
    assert files.as_set(np.concatenate([ds.train.images, ds.test.images]),
                        np.concatenate([ds.train.labels, ds.test.labels])) == files.as_set(x, y)
    bad = x.astype(np.float32)
    bad[3, 1, 1, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        datasets.load(files.write_npz(tmp_path / "nan.npz", (bad, y)))


def test_npz_without_the_arrays_or_with_pickles(tmp_path):
    np.savez(tmp_path / "a.npz", images_of_cats=np.zeros((3, 4, 4)), stuff=np.ones(3))
    with pytest.raises(DataError, match=r"a\.npz: expected arrays x_train, y_train, x_test, y_test "
                                        r"\(or x, y\); found images_of_cats, stuff"):
        datasets.load(tmp_path / "a.npz")
    np.savez(tmp_path / "p.npz", x=np.array([{"a": 1}] * 3, dtype=object), y=np.arange(3))
    with pytest.raises(DataError, match="Python objects"):
        datasets.load(tmp_path / "p.npz")
    np.savez(tmp_path / "n.npz", x=np.zeros((3, 4, 4), np.uint8), y=np.arange(4))
    with pytest.raises(DataError, match="x has 3 images but y has 4 labels"):
        datasets.load(tmp_path / "n.npz")


def test_idx_counts_that_do_not_match(tmp_path):
    folder = files.write_idx_folder(tmp_path / "idx", files.images(20), files.images(10))
    files.write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(9, np.uint8))
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte: 10 images but t10k-labels-idx1-ubyte has 9"):
        datasets.load(folder)


def test_absurd_sizes_are_refused_before_allocating(tmp_path):
    # an IDX header of 3 images whose dimensions multiply to about 2**65 bytes
    (tmp_path / "huge-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3, 0, 0, 0, 3]) + b"\xff\xff\xff\xff" * 2)
    files.write_idx(tmp_path / "huge-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="huge-images-idx3-ubyte: .* more than the 4.0 GB limit"):
        datasets.load(tmp_path / "huge-images-idx3-ubyte")
    # the limit is the caller's to set
    x, y = files.images(100, 16, 16)
    folder = files.write_idx_folder(tmp_path / "ok", (x, y), (x, y))
    with pytest.raises(DataError, match="50.0 KB of memory .* 10.0 KB limit"):
        datasets.load(folder, max_bytes=10 * 1024)
    with pytest.raises(DataError, match="limit"):
        datasets.load(files.write_npz(tmp_path / "d.npz", (x, y)), max_bytes=10 * 1024)
    with pytest.raises(DataError, match="limit"):
        datasets.load(files.write_csv(tmp_path / "d.csv", x, y), max_bytes=10 * 1024)
    with pytest.raises(DataError, match="limit"):
        datasets.load(files.write_folder(tmp_path / "f", (x[:20], y[:20])), max_bytes=1024)


def test_gzip_bombs_do_not_inflate(tmp_path, monkeypatch):
    # the header says 2 images of 4x4: only those 32 bytes are ever decompressed
    raw = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (4).to_bytes(4, "big") * 2 + bytes(200 * 2 ** 20)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw, 9))
    files.write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([0, 1], np.uint8), gz=True)
    tracemalloc.start()
    try:
        ds = datasets.load(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(ds.train) + len(ds.test) == 2 and peak < 20 * 2 ** 20
    # a CSV that is one endless line
    from engine.data.formats import csvfile
    monkeypatch.setattr(csvfile, "MAX_LINE_BYTES", 1000)
    (tmp_path / "bomb.csv.gz").write_bytes(gzip.compress(b"1," + b"0," * 10 ** 6))
    with pytest.raises(DataError, match=r"bomb\.csv\.gz line 1: longer than"):
        datasets.load(tmp_path / "bomb.csv.gz")


def test_csv_rows_of_the_wrong_length_name_the_line(tmp_path):
    x, y = files.images(10)
    text = files.csv_text(x, y, header=True).splitlines()
    text[4] = text[4].rsplit(",", 1)[0]
    (tmp_path / "d.csv").write_text("\n".join(text))
    with pytest.raises(DataError, match=r"d\.csv line 5: 64 values, expected 65 \(a label and 64 pixels"):
        datasets.load(tmp_path / "d.csv")
    text = files.csv_text(x, y).splitlines()
    text[2] = text[2].replace(",0,", ",oops,", 1) if ",0," in text[2] else text[2][:2] + "oops" + text[2][2:]
    (tmp_path / "e.csv").write_text("\n".join(text))
    with pytest.raises(DataError, match=r"e\.csv line 3, column \d+: '.*oops.*' is not a number"):
        datasets.load(tmp_path / "e.csv")
    (tmp_path / "f.csv").write_text("cat,1,2,3,4\n")
    with pytest.raises(DataError, match="no rows of data"):
        datasets.load(tmp_path / "f.csv")
    (tmp_path / "g.csv").write_text("1,2,3,4,5,6\n0,1,2,3,4,5\n")
    with pytest.raises(DataError, match="5 pixel values after the label, which is not a square"):
        datasets.load(tmp_path / "g.csv")


def test_csv_float_pixels_are_scaled(tmp_path):
    x, y = files.images(20)
    rows = [f"{label}," + ",".join(f"{v / 255:.6f}" for v in img.ravel()) for img, label in zip(x, y)]
    (tmp_path / "f.csv").write_text("\n".join(rows) + "\n")
    ds = datasets.load(tmp_path / "f.csv")
    assert files.as_set(np.concatenate([ds.train.images, ds.test.images]),
                        np.concatenate([ds.train.labels, ds.test.labels])) == files.as_set(x, y)
    assert any("[0, 1] multiplied by 255" in n for n in ds.notes)


def test_folder_skips_a_few_unreadable_files_and_names_them(tmp_path):
    x, y = files.images(60, seed=3)
    root = files.write_folder(tmp_path / "f", (x, y))
    junk, cut = sorted((root / "class1").glob("*.png"))[0], sorted((root / "class2").glob("*.png"))[0]
    junk.write_bytes(b"not a png at all")
    cut.write_bytes(cut.read_bytes()[:len(cut.read_bytes()) // 2])  # truncated
    (root / "class0" / "README.txt").write_text("hello")
    ds = datasets.load(root)
    assert len(ds.train) + len(ds.test) == 58
    note = next(n for n in ds.notes if n.startswith("skipped"))
    assert "skipped 2 of 60 image files" in note
    assert f"class1/{junk.name}" in note and f"class2/{cut.name}" in note
    assert any("not images" in n for n in ds.notes)
    # most of the folder broken: refused, naming a file
    for p in list((root / "class0").glob("*.png"))[:10]:
        p.write_bytes(b"junk")
    with pytest.raises(DataError, match=r"class0/\d+\.png: cannot read as an image .* of 60 image files"):
        datasets.load(root)


def test_folder_with_mixed_sizes_is_resized_to_the_most_common(tmp_path):
    from PIL import Image
    x, y = files.images(30, 8, 8, 3)
    root = files.write_folder(tmp_path / "f", (x, y))
    Image.new("RGB", (20, 10), (255, 0, 0)).save(root / "class0" / "big.png")
    Image.new("L", (8, 8), 77).save(root / "class1" / "grey.png")
    ds = datasets.load(root)
    assert ds.image_shape == (8, 8, 3)
    assert any("resized 1 of 32 images to 8x8, the most common size" in n for n in ds.notes)
    assert any("1 grey images given three equal channels" in n for n in ds.notes)
    allx = np.concatenate([ds.train.images, ds.test.images])
    assert any(np.all(img == [255, 0, 0]) for img in allx)   # the resized red one
    assert any(np.all(img == 77) for img in allx)            # the grey one, in three channels


def test_folder_transparency_goes_on_black(tmp_path):
    from PIL import Image
    root = tmp_path / "f"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(3):
            im = Image.new("RGBA", (4, 4), (255, 255, 255, 0))
            im.putpixel((1, 1), (10, 200, 30, 255))
            im.save(root / c / f"{i}.png")
    ds = datasets.load(root)
    img = ds.train.images[0]
    assert img[1, 1].tolist() == [10, 200, 30] and img[0, 0].tolist() == [0, 0, 0]
    assert any("transparency placed on black" in n for n in ds.notes)


def test_folder_needs_two_classes(tmp_path):
    files.write_folder(tmp_path / "one", (files.images(5, classes=1)[0], np.zeros(5, int)))
    with pytest.raises(DataError, match="found one class folder with images \\(class0\\); a dataset needs "
                                        "at least two classes"):
        datasets.load(tmp_path / "one")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(DataError, match="no class folders with images"):
        datasets.load(tmp_path / "empty")


def test_class_folders_in_natural_order(tmp_path):
    x, y = files.images(24, classes=12)
    root = files.write_folder(tmp_path / "f", (x, y), class_names=[str(i) for i in range(12)])
    ds = datasets.load(root)
    assert ds.class_names == [str(i) for i in range(12)]
    assert files.as_set(np.concatenate([ds.train.images, ds.test.images]),
                        np.concatenate([ds.train.labels, ds.test.labels])) == files.as_set(x, y)


def test_not_a_dataset(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"notes\.txt: not a dataset the engine reads"):
        datasets.load(tmp_path / "notes.txt")
    with pytest.raises(DataError, match="no such file or folder"):
        datasets.load(tmp_path / "missing")
    with pytest.raises(DataError, match="found no dataset in it"):
        datasets.load(tmp_path)


def test_an_idx_pair_named_explicitly(tmp_path):
    x, y = files.images(20)
    a = files.write_idx(tmp_path / "imgs.bin", x[..., 0])
    b = files.write_idx(tmp_path / "labs.bin", y.astype(np.uint8))
    for source in ((a, b), f"{a},{b}"):
        ds = datasets.load(source)
        assert ds.format == "idx" and len(ds.train) + len(ds.test) == 20
    with pytest.raises(DataError, match="holds labels"):
        datasets.load(files.write_idx(tmp_path / "x-labels-idx1-ubyte", y.astype(np.uint8)))


@pytest.mark.parametrize("fmt", ["idx", "folder", "csv", "npz"])
def test_progress_grows_to_the_end_and_cancel_stops(fmt, tmp_path):
    train, test = files.images(300, 8, 8, 1, seed=1), files.images(100, 8, 8, 1, seed=2)
    path = write(fmt, tmp_path, train, test)
    seen = []
    datasets.load(path, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1]
    assert all(isinstance(d, int) and isinstance(t, int) for d, t in seen)
    assert all(a[0] <= b[0] and a[1] == b[1] for a, b in zip(seen, seen[1:]))
    calls = []
    with pytest.raises(LoadCancelled):
        datasets.load(path, progress=lambda d, t: calls.append(d), cancelled=lambda: len(calls) >= 1)


def test_loading_memory_is_close_to_the_images_size(tmp_path):
    """The images, plus pieces of a few MB: no second copy of the whole dataset."""
    x, y = files.images(50000, 28, 28, 1)
    nbytes = x.nbytes
    paths = {"idx": files.write_idx_folder(tmp_path / "idx", (x[:40000], y[:40000]), (x[40000:], y[40000:]),
                                           gz=True),
             "npz": files.write_npz(tmp_path / "d.npz", (x, y))}
    del x
    for fmt, path in paths.items():
        tracemalloc.start()
        try:
            ds = datasets.load(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert len(ds.train) + len(ds.test) == 50000
        assert peak <= 1.2 * nbytes, (fmt, peak / nbytes)


def test_fit_says_what_does_not_fit_and_adapts(tmp_path):
    demo = Experiment.load("resources/presets/convnetjs-demo.json").layer_defs
    x, y = files.images(20, 32, 32, 3, classes=4)
    ds = datasets.load(files.write_npz(tmp_path / "d.npz", (x, y)))
    problems = datasets.check_fit(demo, ds)
    assert problems == ["the input takes 1 channel (grey) but the images have 3 channels (RGB)",
                        "the network outputs 10 classes but the data has 4"]
    defs, changes = datasets.fit_layer_defs(demo, ds)
    assert changes == ["input 24x24x1 -> 24x24x3", "softmax classes 10 -> 4"]  # 24 is a crop of 32
    assert defs[0] == {"type": "input", "out_sx": 24, "out_sy": 24, "out_depth": 3}
    assert demo[0]["out_depth"] == 1  # the caller's definitions are left alone
    small = datasets.load(files.write_npz(tmp_path / "s.npz", files.images(20, 12, 12, 1, classes=10)))
    assert datasets.check_fit(demo, small) == ["the input is 24x24, larger than the 12x12 images"]
    defs, changes = datasets.fit_layer_defs(demo, small)
    assert changes == ["input 24x24x1 -> 12x12x1"]
    tiny = datasets.load(files.write_npz(tmp_path / "t.npz", files.images(20, 4, 4, 1, classes=10)))
    with pytest.raises(SpecError, match=r"adapting the network to the data \(input 24x24x1 -> 4x4x1\) "
                                        r"makes it invalid: layer 4, pool 3x3"):
        datasets.fit_layer_defs(demo, tiny)


def colour_shapes(n, seed, size=16):
    """Squares and rings in red, green or blue on a dark noisy background: six classes that need
    both the shape and the colour channel."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 40, (n, size, size, 3)).astype(np.uint8)
    y = np.arange(n) % 6
    rng.shuffle(y)
    yy, xx = np.mgrid[:size, :size]
    for i, label in enumerate(y):
        channel = label % 3
        s = rng.integers(5, 9)
        oy, ox = rng.integers(1, size - s, 2)
        if label < 3:
            mask = (yy >= oy) & (yy < oy + s) & (xx >= ox) & (xx < ox + s)
        else:
            r = np.hypot(yy - oy - (s - 1) / 2, xx - ox - (s - 1) / 2)
            mask = (r <= s / 2) & (r >= s / 2 - 1.5)
        x[i][mask, channel] = rng.integers(160, 256)
    return x, y


def test_rgb_network_learns_coloured_shapes_from_a_folder(tmp_path):
    names = ["red square", "green square", "blue square", "red ring", "green ring", "blue ring"]
    root = files.write_folder(tmp_path / "shapes", colour_shapes(1200, 1), colour_shapes(300, 2), class_names=names)
    ds = datasets.load(root)
    assert ds.image_shape == (16, 16, 3) and sorted(ds.class_names) == sorted(names)
    defs = [{"type": "input", "out_sx": 16, "out_sy": 16, "out_depth": 3},
            {"type": "conv", "sx": 3, "filters": 8, "pad": 1, "activation": "relu"},
            {"type": "pool", "sx": 2, "stride": 2},
            {"type": "conv", "sx": 3, "filters": 16, "pad": 1, "activation": "relu"},
            {"type": "pool", "sx": 2, "stride": 2},
            {"type": "softmax", "num_classes": 6}]
    exp = Experiment(defs, trainer={"method": "adam", "learning_rate": 0.01, "batch_size": 32},
                     validation=0, epochs=12, seed=0)
    net = exp.build_net()
    run = make_run(exp, net, exp.build_trainer(net), ds, test=False)
    for r in run.reports():
        assert r["tag"] != "diverged"
    assert accuracy(net, ds.test) >= 0.95


def test_a_cancelled_load_is_the_engines_one_cancellation():
    from engine.core.errors import Cancelled, EngineError
    assert issubclass(LoadCancelled, Cancelled) and issubclass(LoadCancelled, EngineError)
