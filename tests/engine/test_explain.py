"""Explanations: shapes and errors, the maths of each method, and the deletion test of faithfulness."""
import threading

import numpy as np
import pytest

import engine
from engine import DataError, OptionError
from engine.core.errors import Cancelled
from engine.data import RESOURCES, center_crop, load_mnist, network_input
from engine.runs.snapshots import load_snapshot
from engine.understand import explain, unit_images

METHODS = ["saliency", "gradient_x_input", "occlusion", "grad_cam"]


@pytest.fixture(scope="module")
def demo():
    """The trained ConvNetJS demo net and 500 MNIST test images in its input scaling."""
    net, _ = load_snapshot(RESOURCES / "snapshots" / "convnetjs-demo-trained.json")
    test = load_mnist().test
    x = network_input(test.images[:500], net.input_shape)
    return net, x, test.labels[:500]


def small_net(dtype=np.float64, seed=3):
    return engine.Net([{"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": 2},
                       {"type": "conv", "sx": 3, "filters": 4, "pad": 1, "activation": "relu"},
                       {"type": "pool", "sx": 2, "stride": 2},
                       {"type": "conv", "sx": 3, "filters": 5, "pad": 1, "activation": "tanh"},
                       {"type": "softmax", "num_classes": 3}], dtype=dtype, seed=seed)


def centred_score(net, x, c):
    s = net.trace(x).acts[-2].reshape(len(x), -1)
    return s[np.arange(len(x)), c] - s.mean(axis=1)


# -- shapes, dtypes, errors ------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_maps_have_the_input_size_and_are_float32(demo, method):
    net, x, labels = demo
    maps = explain.METHODS[method](net, x[:3], labels[:3])
    assert maps.shape == (3, 24, 24) and maps.dtype == np.float32
    assert np.isfinite(maps).all() and maps.std() > 0
    one = explain.METHODS[method](net, x[0], labels[0])  # one example, no batch axis
    assert one.shape == (1, 24, 24)
    np.testing.assert_allclose(one[0], maps[0], rtol=1e-4, atol=1e-5 * np.abs(maps[0]).max())


@pytest.mark.parametrize("method", METHODS)
def test_bad_input_is_a_data_error(demo, method):
    net, x, labels = demo
    f = explain.METHODS[method]
    with pytest.raises(DataError, match="expected 3 class indices"):
        f(net, x[:3], labels[:2])
    with pytest.raises(DataError, match="out of range: the network has 10 classes"):
        f(net, x[:2], [1, 10])
    with pytest.raises(DataError, match="whole class indices"):
        f(net, x[:2], [1.5, 2])
    with pytest.raises(DataError, match=r"expected a batch of shape \(N, 24, 24, 1\)"):
        f(net, np.zeros((2, 28, 28, 1), np.float32), [1, 2])


def test_bad_options_are_option_errors(demo):
    net, x, labels = demo
    with pytest.raises(OptionError, match="target must be one of"):
        explain.saliency(net, x[:1], labels[:1], target="logit")
    with pytest.raises(OptionError, match="patch: 30 px does not fit"):
        explain.occlusion(net, x[:1], labels[:1], patch=30)
    with pytest.raises(OptionError, match="larger than the 2 px patch"):
        explain.occlusion(net, x[:1], labels[:1], patch=2, stride=3)
    with pytest.raises(OptionError, match="1x1 output"):
        explain.grad_cam(net, x[:1], labels[:1], layer=7)
    with pytest.raises(OptionError, match="between the input and the loss layer"):
        explain.grad_cam(net, x[:1], labels[:1], layer=0)
    with pytest.raises(OptionError, match="method must be one of"):
        explain.deletion_test(net, x[:2], "lime")
    mlp = engine.Net([{"type": "input", "out_sx": 4, "out_sy": 4, "out_depth": 1},
                      {"type": "fc", "num_neurons": 5}, {"type": "svm", "num_classes": 3}])
    with pytest.raises(OptionError, match="no conv layer"):
        explain.grad_cam(mlp, np.zeros((1, 4, 4, 1)), [0])
    with pytest.raises(OptionError, match="needs a softmax network"):
        explain.saliency(mlp, np.zeros((1, 4, 4, 1)), [0], target="log_probability")


# -- the maths ------------------------------------------------------------------------------
@pytest.mark.parametrize("target", explain.TARGETS)
def test_gradient_is_the_numerical_gradient_of_the_target(target):
    net = small_net()
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, (2, 8, 8, 2))
    c = np.array([2, 0])
    g, _ = explain.class_gradient(net, x, c, target)

    def value(xx):
        if target == "score":
            s = net.trace(xx).acts[-2].reshape(len(xx), -1)
            return s[np.arange(len(xx)), c]
        if target == "log_probability":
            return np.log(net.trace(xx).output.reshape(len(xx), -1)[np.arange(len(xx)), c])
        return centred_score(net, xx, c)

    eps = 1e-6
    for pos in [(0, 0, 0, 0), (0, 3, 4, 1), (1, 7, 2, 0), (1, 5, 5, 1)]:
        a, b = x.copy(), x.copy()
        a[pos] += eps
        b[pos] -= eps
        num = (value(a) - value(b))[pos[0]] / (2 * eps)
        assert g[pos] == pytest.approx(num, rel=1e-5, abs=1e-8)


def test_saliency_is_the_largest_absolute_gradient_over_channels():
    net = small_net()
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 8, 8, 2))
    g, _ = explain.class_gradient(net, x, [1, 2])
    np.testing.assert_allclose(explain.saliency(net, x, [1, 2]), np.abs(g).max(axis=3), rtol=1e-6)


def test_gradient_x_input_is_exact_for_a_linear_net_and_zero_on_background():
    # No hidden layer: the scores are linear in x, so the attributions add up to the
    # change of the centred score from an all-background image to x.
    net = engine.Net([{"type": "input", "out_sx": 6, "out_sy": 6, "out_depth": 2},
                      {"type": "softmax", "num_classes": 4}], dtype=np.float64, seed=0)
    rng = np.random.default_rng(2)
    x = rng.uniform(-0.5, 0.5, (3, 6, 6, 2))
    x[:, :2] = explain.BACKGROUND  # two blank rows
    c = np.array([0, 3, 1])
    maps = explain.gradient_x_input(net, x, c)
    blank = np.full_like(x, explain.BACKGROUND)
    np.testing.assert_allclose(maps.sum(axis=(1, 2)),
                               centred_score(net, x, c) - centred_score(net, blank, c), rtol=1e-5)
    assert (maps[:, :2] == 0).all()


def test_occlusion_of_single_pixels_is_the_fall_of_the_probability():
    net = small_net()
    x = np.random.default_rng(3).uniform(-0.5, 0.5, (2, 8, 8, 2))
    c = np.array([0, 2])
    maps = explain.occlusion(net, x, c, patch=1, stride=1)
    p = net.trace(x).output.reshape(2, -1)[np.arange(2), c]
    for n, y, xx in [(0, 0, 0), (0, 4, 6), (1, 7, 7), (1, 2, 3)]:
        hidden = x.copy()
        hidden[n, y, xx] = explain.BACKGROUND
        q = net.trace(hidden).output.reshape(2, -1)[n, c[n]]
        assert maps[n, y, xx] == pytest.approx(p[n] - q, rel=1e-5, abs=1e-7)


def test_occlusion_averages_over_the_patches_that_cover_a_pixel():
    net = small_net()
    x = np.random.default_rng(4).uniform(-0.5, 0.5, (1, 8, 8, 2))
    maps = explain.occlusion(net, x, [1], patch=3, stride=2)
    assert explain.patch_positions(8, 3, 2) == [0, 2, 4, 5]  # the last one flush with the edge
    p = net.trace(x).output[0, 0, 0, 1]
    drops = {}
    for y in (0, 2, 4, 5):
        for xx in (0, 2, 4, 5):
            hidden = x.copy()
            hidden[0, y:y + 3, xx:xx + 3] = explain.BACKGROUND
            drops[y, xx] = p - net.trace(hidden).output[0, 0, 0, 1]
    # pixel (2, 5) lies in the patches starting at rows 0 and 2 and columns 4 and 5
    want = np.mean([drops[y, xx] for y in (0, 2) for xx in (4, 5)])
    assert maps[0, 2, 5] == pytest.approx(want, rel=1e-5)


def test_occlusion_skips_only_squares_that_change_nothing():
    net = small_net()
    x = np.random.default_rng(7).uniform(-0.5, 0.5, (2, 8, 8, 2))
    x[0, :5] = explain.BACKGROUND  # blank top of the first image, all of the second but a pixel
    x[1] = explain.BACKGROUND
    x[1, 6, 1, 1] = 0.3
    c = np.array([2, 1])
    maps = explain.occlusion(net, x, c, patch=2, stride=1)
    p = net.trace(x).output.reshape(2, -1)[np.arange(2), c]
    want = np.zeros((2, 8, 8))
    for y in range(7):
        for xx in range(7):
            hidden = x.copy()
            hidden[:, y:y + 2, xx:xx + 2] = explain.BACKGROUND
            want[:, y:y + 2, xx:xx + 2] += (p - net.trace(hidden).output.reshape(2, -1)[np.arange(2), c])[:, None, None]
    count = np.zeros((8, 8))
    for y in range(7):
        for xx in range(7):
            count[y:y + 2, xx:xx + 2] += 1
    np.testing.assert_allclose(maps, want / count, rtol=1e-5, atol=1e-9)
    assert (maps[1, :5] == 0).all() and maps[1, 6, 1] != 0


def test_grad_cam_weighs_the_rectified_maps_by_their_mean_gradient():
    net = small_net()
    x = np.random.default_rng(5).uniform(-0.5, 0.5, (2, 8, 8, 2))
    c = np.array([1, 0])
    # the first conv keeps the 8x8 size, so no interpolation: the map is the CAM itself
    assert explain.cam_layer(net, 1) == 2  # its relu
    _, trace = explain.class_gradient(net, x, c)
    a, g = trace.acts[2], trace.grads[2]
    want = np.maximum((a * g.mean(axis=(1, 2))[:, None, None, :]).sum(axis=3), 0)
    np.testing.assert_allclose(explain.grad_cam(net, x, c, layer=1), want, rtol=1e-5, atol=1e-12)
    # default: the last conv (4x4 after the pool), read after its tanh, upsampled
    assert explain.default_cam_layer(net) == 4 and explain.cam_layer(net) == 5
    cam = explain.grad_cam(net, x, c)
    assert cam.shape == (2, 8, 8) and (cam >= 0).all()


def test_upsampling_puts_each_cell_at_the_centre_of_its_receptive_field(demo):
    net, _, _ = demo
    # demo net: conv 5x5 pad 2, pool 2, conv 5x5 pad 2 (12x12), pool 3 (4x4)
    assert explain.receptive_centres(net, 5) == ((2, 0.5), (2, 0.5))
    assert explain.receptive_centres(net, 6) == ((6, 2.5), (6, 2.5))
    m = explain.interpolation_matrix(24, 4, 6, 2.5)
    np.testing.assert_allclose(m.sum(axis=1), 1)
    values = np.array([1.0, 5.0, -2.0, 3.0])
    # linear between the centres 2.5, 8.5, 14.5, 20.5; the end values beyond them
    np.testing.assert_allclose(m @ values, np.interp(np.arange(24), [2.5, 8.5, 14.5, 20.5], values))


def test_maps_placed_in_the_frame_of_the_full_images(demo):
    net, x, labels = demo
    images = load_mnist().test.images[:2]
    maps = explain.saliency(net, network_input(images, net.input_shape), labels[:2])
    framed = explain.in_image_frame(maps, 28, 28)
    assert framed.shape == (2, 28, 28)
    np.testing.assert_array_equal(center_crop(framed[..., None], 24)[..., 0], maps)
    assert framed[:, :2].sum() == 0 and framed[:, :, -2:].sum() == 0
    with pytest.raises(DataError, match="do not fit"):
        explain.in_image_frame(maps, 20, 28)


def test_explanations_are_safe_from_several_threads(demo):
    net, x, labels = demo
    want = explain.gradient_x_input(net, x[:8], labels[:8])
    got, errors = [None] * 4, []

    def work(i):
        try:
            for _ in range(5):
                got[i] = explain.gradient_x_input(net, x[:8], labels[:8])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for g in got:
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())


# -- faithfulness: the deletion test -------------------------------------------------------
def test_deletion_test_blanks_the_top_pixels(demo):
    net, x, labels = demo
    maps = np.zeros((2, 24, 24), np.float32)
    maps[0, 5, 5] = maps[0, 6, 7] = 2
    maps[1, 0, 1] = 1
    top = explain.top_pixels(maps, 2, np.random.default_rng(0))
    assert set(top[0]) == {5 * 24 + 5, 6 * 24 + 7}
    assert top[1][0] == 1
    blanked = explain.blank(x[:2], top)
    assert blanked[0, 5, 5, 0] == blanked[0, 6, 7, 0] == explain.BACKGROUND
    assert (blanked != x[:2]).sum() <= 4


def test_deletion_test_reports_progress_and_stops_when_cancelled(demo):
    net, x, labels = demo
    seen = []
    r = explain.deletion_test(net, x[:60], "saliency", batch_size=25, progress=seen.append, rng=0)
    assert seen == pytest.approx([25 / 60, 50 / 60, 1.0])
    assert r["explained_drops"].shape == (60,) and 0 < r["base"] <= 1
    with pytest.raises(Cancelled):
        explain.deletion_test(net, x[:60], "saliency", batch_size=25, cancelled=lambda: len(seen) > 3,
                              progress=seen.append)


@pytest.mark.parametrize("method", ["saliency", "gradient_x_input", "grad_cam"])
def test_explanations_are_faithful_by_the_deletion_test(demo, method):
    """Blanking the 10% of pixels an explanation ranks highest lowers the predicted class's
    probability far more than blanking 10% at random (500 test images)."""
    net, x, _ = demo
    r = explain.deletion_test(net, x, method, fraction=0.1, rng=0)
    assert r["random"] < 0.05
    if method == "grad_cam":  # coarse, but still far better than chance (README)
        assert r["explained"] > 2.5 * r["random"]
    else:  # better even than blanking 10% of the pixels at random among the ink
        assert r["explained"] > 10 * r["random"]
        assert r["explained"] > r["random_ink"] + 0.2


def test_occlusion_is_faithful_by_the_deletion_test(demo):
    net, x, _ = demo  # 150 of the images, to keep the default run quick (all 500: slow test)
    r = explain.deletion_test(net, x[:150], "occlusion", fraction=0.1, rng=0)
    assert r["explained"] > 10 * r["random"] and r["explained"] > r["random_ink"] + 0.2


@pytest.mark.slow
def test_deletion_figures_of_the_readme(demo):
    net, x, _ = demo
    got = {m: explain.deletion_test(net, x, m, fraction=0.1, rng=0) for m in METHODS}
    for m in ("saliency", "gradient_x_input", "occlusion"):
        assert got[m]["explained"] > 10 * got[m]["random"]
    print({m: (round(r["explained"], 3), round(r["random"], 3), round(r["random_ink"], 3))
           for m, r in got.items()})


# -- what a unit wants ---------------------------------------------------------------------
def test_class_images_are_classified_as_their_class(demo):
    net, _, _ = demo
    seen = []
    images = unit_images.unit_images(net, steps=100, progress=seen.append)
    assert images.shape == (10, 24, 24, 1) and images.dtype == np.float32
    assert images.min() >= -0.5 and images.max() <= 0.5 and images.std() > 0.1
    predicted = net.predict(images)
    assert (predicted == np.arange(10)).sum() >= 9, predicted
    assert seen[-1] == 1.0 and seen == sorted(seen)


@pytest.mark.parametrize("layer", [1, 4])
def test_filter_images_make_their_filter_fire(demo, layer):
    """Each conv filter's mean activation on its image is far above its mean on test images."""
    net, x, _ = demo
    images = unit_images.unit_images(net, layer=layer, steps=100)
    assert images.shape == (net.layers[layer].out_depth, 24, 24, 1)
    own = np.diag(unit_images.unit_activations(net, images, layer))
    test = unit_images.unit_activations(net, x, layer)  # (500, filters)
    assert (own > test.mean(axis=0) + 2 * test.std(axis=0)).all()
    assert (own > test.max(axis=0)).mean() >= 0.75  # most above every one of the 500 images


def test_unit_images_for_chosen_units_and_bad_requests(demo):
    net, _, _ = demo
    images = unit_images.unit_images(net, layer=4, units=[3, 0], steps=3, jitter=0)
    assert images.shape == (2, 24, 24, 1)
    assert unit_images.count_units(net) == 10 and unit_images.count_units(net, 1) == 8
    with pytest.raises(DataError, match="units: 8 is out of range"):
        unit_images.unit_images(net, layer=1, units=[8])
    with pytest.raises(OptionError, match="layer must be None"):
        unit_images.unit_images(net, layer=9)
    with pytest.raises(OptionError, match="steps must be"):
        unit_images.unit_images(net, steps=-1)
    with pytest.raises(Cancelled):
        unit_images.unit_images(net, steps=50, cancelled=lambda: True)
