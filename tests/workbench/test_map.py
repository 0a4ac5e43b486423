"""The embedding map: a layer's activations laid out, coloured per class, hover, click and select."""
import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF, Qt

from engine.data import network_input
from engine.runs.snapshots import load_snapshot
from engine.understand.embedding import embed, last_hidden_layer
from workbench.tasks.understand import validation_indices
from workbench.views.map.place import class_colors, inside
from workbench.window.files import TRAINED_DEMO


@pytest.fixture
def mapped(window, qtbot):
    """The trained demo's map of 300 test images by PCA (instant)."""
    assert window.files.open_trained_demo()
    place = window.map_place
    window.tabs.setCurrentWidget(place)
    qtbot.waitExposed(place.plot)
    place.count.setValue(300)
    place.method_box.setCurrentIndex(place.method_box.findData("pca"))
    place.compute()
    qtbot.waitUntil(lambda: place.result is not None and not place.result["partial"], timeout=20000)
    return place


def test_inside():
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]])
    pts = np.array([[1, 1], [3, 1], [-0.5, 1], [1.9, 0.1]])
    assert list(inside(pts, square)) == [True, False, False, True]


def test_validation_indices_are_the_runs():
    from engine.data import ImageSet, split_validation
    images = np.arange(100, dtype=np.uint8).reshape(100, 1, 1, 1)
    _, val = split_validation(ImageSet(images, np.zeros(100, int)), 17, seed=0)
    np.testing.assert_array_equal(validation_indices(100, 17), val.images[:, 0, 0, 0])


def test_points_are_the_engines_layout_coloured_per_class(mapped, window):
    r = mapped.result
    test = window.session.data.dataset.test
    net, _ = load_snapshot(TRAINED_DEMO)
    assert r["layer"] == last_hidden_layer(net) and list(r["indices"]) == list(range(300))
    want, _ = embed(net, network_input(test.images[:300], net.input_shape), method="pca")
    np.testing.assert_allclose(r["points"], want, rtol=1e-3, atol=1e-3 * np.abs(want).max())
    colors = class_colors(10)
    assert len(mapped.scatters) == len(np.unique(test.labels[:300]))
    for s in mapped.scatters:
        data = s.data
        assert len(set(test.labels[:300][s.rows])) == 1
        c = int(test.labels[s.rows[0]])
        assert s.opts["brush"].color().name() == colors[c].name()
        np.testing.assert_allclose(np.c_[data["x"], data["y"]], r["points"][s.rows], rtol=1e-6)
    # on screen: the most isolated point of each class is drawn in its class's colour
    img = mapped.plot.grab().toImage()
    pts = r["points"]
    d = ((pts[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d, np.inf)
    seen = 0
    for c in np.unique(test.labels[:300]):
        rows = np.flatnonzero(test.labels[:300] == c)
        k = rows[np.argmax(d[rows].min(axis=1))]
        pos = _plot_pos(mapped, *pts[k])
        if mapped.legend.sceneBoundingRect().contains(mapped.view.mapViewToScene(QPointF(*pts[k]))):
            continue  # under the legend
        got = img.pixelColor(pos.x(), pos.y())
        want = colors[c]
        assert abs(got.red() - want.red()) + abs(got.green() - want.green()) + abs(got.blue() - want.blue()) < 60
        seen += 1
    assert seen >= 7
    names = [label.text for _, label in mapped.legend.items]
    assert names == [str(c) for c in sorted(set(test.labels[:300]))]
    assert "PCA" in mapped.status.text() and "300 test images" in mapped.status.text()


def _plot_pos(place, x, y):
    """Viewport coordinates of the plot for view coordinates (x, y)."""
    return place.plot.mapFromScene(place.view.mapViewToScene(QPointF(x, y)))


def test_box_selection_fills_the_gallery(mapped, window, qtbot):
    r = mapped.result
    pts = r["points"]
    lo, hi = np.percentile(pts, 30, axis=0), np.percentile(pts, 70, axis=0)
    mapped.set_mode("box")
    a, b = _plot_pos(mapped, lo[0], hi[1]), _plot_pos(mapped, hi[0], lo[1])
    vp = mapped.plot.viewport()
    qtbot.mousePress(vp, Qt.LeftButton, Qt.NoModifier, a)
    for k in range(1, 11):
        qtbot.mouseMove(vp, a + (b - a) * k / 10)
    qtbot.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, b)
    want = np.flatnonzero((pts[:, 0] > lo[0]) & (pts[:, 0] < hi[0]) & (pts[:, 1] > lo[1]) & (pts[:, 1] < hi[1]))
    got = mapped.selection
    # the drag's corners are whole pixels: allow the points within a pixel of the edge
    px, py = mapped.view.viewPixelSize()
    near = (np.abs(pts[:, 0, None] - [lo[0], hi[0]]).min(axis=1) < 2 * px) | \
           (np.abs(pts[:, 1, None] - [lo[1], hi[1]]).min(axis=1) < 2 * py)
    assert len(got) > 10 and set(got) - set(want) <= set(np.flatnonzero(near))
    assert set(want) - set(got) <= set(np.flatnonzero(near))
    assert list(mapped.gallery.indices) == list(r["indices"][got])
    assert mapped.gallery.kind == "test"
    assert f"{len(got):,} selected" in mapped.selection_caption.text()
    # the selected points are ringed
    assert len(mapped.highlight.data) == len(got)
    # a lasso around nothing empties it
    mapped.select_rect(QRectF(pts[:, 0].max() + 1, pts[:, 1].max() + 1, 1, 1))
    assert mapped.gallery.model().rowCount() == 0


@pytest.fixture
def every_mouse_move():
    """pyqtgraph drops mouse moves that come faster than 100 a second (a hand's are slower);
    the test's come at once, and the lasso needs each of them."""
    import pyqtgraph as pg
    old = pg.getConfigOption("mouseRateLimit")
    pg.setConfigOption("mouseRateLimit", -1)
    yield
    pg.setConfigOption("mouseRateLimit", old)


def test_lasso_selects_what_it_surrounds(mapped, qtbot, every_mouse_move):
    r = mapped.result
    pts = r["points"]
    centre, radius = pts.mean(axis=0), np.abs(pts - pts.mean(axis=0)).max() * 0.5
    mapped.set_mode("lasso")
    corners = [centre + radius * np.array([np.cos(a), np.sin(a)]) for a in np.linspace(0, 2 * np.pi, 7)[:-1]]
    path = [_plot_pos(mapped, *c) for c in corners]
    vp = mapped.plot.viewport()
    qtbot.mousePress(vp, Qt.LeftButton, Qt.NoModifier, path[0])
    for a, b in zip(path, path[1:] + path[:1]):
        for k in range(1, 6):
            qtbot.mouseMove(vp, a + (b - a) * k / 5)
    qtbot.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, path[0])
    hexagon = np.array(corners)
    want = set(np.flatnonzero(inside(pts, hexagon)))
    got = set(mapped.selection)
    assert len(got) > 10 and len(got ^ want) <= 0.05 * len(want)  # the drawn path is whole pixels
    assert set(mapped.gallery.indices) == set(r["indices"][list(got)])


def test_hover_shows_the_image_and_click_opens_it(mapped, window, qtbot):
    r = mapped.result
    k = int(np.argmax(r["points"][:, 0]))  # the rightmost point: no neighbour on top of it
    pos = _plot_pos(mapped, *r["points"][k])
    vp = mapped.plot.viewport()
    qtbot.mouseMove(vp, pos)
    qtbot.waitUntil(lambda: mapped.thumb.isVisible(), timeout=3000)
    assert mapped.hovered == k and not mapped.thumb.pixmap().isNull()
    qtbot.mouseClick(vp, Qt.LeftButton, Qt.NoModifier, pos)
    assert window.tabs.currentWidget() is window.network_view
    assert window.network_view.example_source() == ("test", int(r["indices"][k]))


def test_tsne_shows_its_layout_as_it_forms_and_can_be_cancelled(window, qtbot):
    assert window.files.open_trained_demo()
    place = window.map_place
    window.tabs.setCurrentWidget(place)
    partials = []
    window.session.understanding.embeddingPartial.connect(lambda r: partials.append(r["points"].copy()))
    place.count.setValue(400)
    place.compute()
    assert place.progress.isVisible() and place.cancel.isVisible() and not place.button.isEnabled()
    qtbot.waitUntil(lambda: place.result is not None and not place.result["partial"], timeout=60000)
    assert len(partials) >= 3 and not np.allclose(partials[0], place.result["points"])
    assert place.result["knn"] > 0.85 and "t-SNE" in place.status.text()
    assert not place.progress.isVisible()
    # cancel one half way: the layout so far stays, and it says so
    place.images_box.setCurrentIndex(place.images_box.findData("validation"))
    partials.clear()
    place.compute()
    qtbot.waitUntil(lambda: len(partials) >= 1, timeout=60000)
    place.cancel.click()
    qtbot.waitUntil(lambda: place.button.isEnabled(), timeout=20000)
    assert place.status.text().startswith("Cancelled") and place.result["partial"]
    assert place.result["kind"] == "train"   # validation images are training images held out


def test_stale_map_after_new_weights(mapped, window):
    window.session.reset_weights()
    assert "changed since" in mapped.status.text()
