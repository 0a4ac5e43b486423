"""engine.data.digits.to_mnist: drawings become digits that a network trained on MNIST reads."""
import pathlib

import numpy as np
import pytest

from engine.data import center_crop, digits, load_mnist, to_float
from engine.runs.snapshots import load_snapshot

SNAPSHOT = pathlib.Path(__file__).parents[2] / "resources" / "snapshots" / "convnetjs-demo-trained.json"


def test_empty_drawing_gives_zeros():
    out = digits.to_mnist(np.zeros((300, 300)))
    assert out.shape == (28, 28) and out.dtype == np.float32 and not out.any()


def test_box_20px_aspect_kept_and_centred_by_mass():
    img = np.zeros((400, 300))
    img[50:350, 140:160] = 1.0  # a tall bar, 300 x 20
    out = digits.to_mnist(img)
    assert out.min() >= 0 and out.max() == pytest.approx(1.0)
    rows = np.flatnonzero(out.max(axis=1) > 0.05)
    cols = np.flatnonzero(out.max(axis=0) > 0.05)
    assert 19 <= rows[-1] - rows[0] + 1 <= 21          # longer side is 20 px
    assert cols[-1] - cols[0] + 1 <= 5                 # aspect kept: still a thin bar
    ys, xs = np.indices(out.shape)
    cy, cx = (out * ys).sum() / out.sum(), (out * xs).sum() / out.sum()
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1


def test_any_size_and_position_give_the_same_digit():
    ds = load_mnist()
    im = ds.test.images[3, :, :, 0] / 255.0
    a = digits.to_mnist(digits.resize(im, 280, 280))
    b = np.zeros((500, 700))
    b[300:440, 50:190] = digits.resize(im, 140, 140)  # smaller, off-centre, wide canvas
    np.testing.assert_allclose(digits.to_mnist(b), a, atol=0.15)


def test_stroke_width_is_brought_into_mnists_range(monkeypatch):
    thin = np.zeros((200, 200))
    thin[20:180, 98:101] = 1  # a 3 px line: much thinner than MNIST's strokes at this size
    thick = np.zeros((200, 200))
    thick[20:180, 60:140] = 1  # a bar half as wide as it is tall
    normal = [digits.to_mnist(a).sum() for a in (thin, thick)]
    monkeypatch.setattr(digits, "WIDTH_RANGE", (0.0, 1e9))  # no normalisation
    raw = [digits.to_mnist(a).sum() for a in (thin, thick)]
    assert normal[0] > 1.3 * raw[0]    # the thin line got thicker
    assert normal[1] < 0.8 * raw[1]    # the fat bar got thinner


@pytest.fixture(scope="module")
def trained():
    net, meta = load_snapshot(SNAPSHOT)
    ds = load_mnist()
    return net, ds


@pytest.mark.parametrize("variant", ["same", "thinner", "thicker"])
def test_scaled_up_mnist_digits_are_classified_as_the_originals(trained, variant):
    """At least 97% of test digits drawn at canvas size keep the network's answer."""
    net, ds = trained
    n = 300
    images = ds.test.images[:n]
    original = net.predict(to_float(center_crop(images, 24)))
    batch = []
    for im in images[:, :, :, 0] / 255.0:
        big = np.clip(digits.resize(im, 280, 280), 0, 1)
        if variant == "thinner":
            big = digits._filter(big, 9, "min")
        elif variant == "thicker":
            big = digits._filter(big, 15, "max")
        batch.append(digits.center_crop(digits.to_mnist(big), 24))
    drawn = net.predict((np.array(batch) - 0.5)[..., None])
    assert np.mean(drawn == original) >= 0.97


@pytest.mark.parametrize("y0, x0, size, width", [(50, 40, 200, 3), (50, 40, 200, 20), (200, 150, 100, 12),
                                                  (10, 10, 300, 40)])
def test_frame_maps_the_drawing_onto_the_digit(y0, x0, size, width):
    """``frame=True`` says where each point of the drawing lands in the 28x28 field: an "L"
    drawn anywhere, with thin strokes (thickened) or thick ones (thinned), has its centre of
    mass and bounding box, mapped, where the digit has them (within a pixel)."""
    img = np.zeros((400, 360))
    img[y0:y0 + size, x0:x0 + width] = 1.0
    img[y0 + size - width:y0 + size, x0:x0 + size // 2] = 1.0
    out, ((ay, by), (ax, bx)) = digits.to_mnist(img, frame=True)
    np.testing.assert_array_equal(out, digits.to_mnist(img))
    ys, xs = np.indices(img.shape)
    cy, cx = (img * (ys + 0.5)).sum() / img.sum(), (img * (xs + 0.5)).sum() / img.sum()
    fy, fx = np.indices(out.shape)
    dy, dx = (out * (fy + 0.5)).sum() / out.sum(), (out * (fx + 0.5)).sum() / out.sum()
    assert ay * cy + by == pytest.approx(dy, abs=0.5) and ax * cx + bx == pytest.approx(dx, abs=0.5)
    rows = np.flatnonzero(out.max(axis=1) > 0.05)
    cols = np.flatnonzero(out.max(axis=0) > 0.05)
    assert ay * y0 + by == pytest.approx(rows[0], abs=1.0)
    assert ay * (y0 + size) + by == pytest.approx(rows[-1] + 1, abs=1.0)
    assert ax * x0 + bx == pytest.approx(cols[0], abs=1.0)
    assert ax * (x0 + size // 2) + bx == pytest.approx(cols[-1] + 1, abs=1.0)


def test_frame_of_an_empty_drawing_is_none():
    out, frame = digits.to_mnist(np.zeros((50, 50)), frame=True)
    assert frame is None and not out.any()
