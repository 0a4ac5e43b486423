"""Your data in the app: the dataset box opens every format in the background, a failed or
cancelled load keeps the dataset in use, the builder adapts the network in one undoable step,
colour data is shown in colour, and classes by their names."""
import json
import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QMessageBox

from engine.data import formats as datasets
from workbench.tasks import data as datatasks
from workbench.views.data.box import BUNDLED, OPEN

from ..engine import dataset_files as df
from .conftest import TINY

COLOURS = np.array([(220, 30, 30), (30, 200, 40), (40, 60, 230)], np.uint8)
NAMES = ["red", "green", "blue"]


def solid(n, h=8, w=8, seed=0):
    """RGB images of one colour per class (red, green, blue) with a little noise, labels 0..2."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = np.clip(COLOURS[y][:, None, None, :].astype(int) + rng.integers(-10, 10, (n, h, w, 3)), 0, 255)
    return x.astype(np.uint8), y


def write(fmt, folder, colour):
    """A small dataset in ``fmt`` under ``folder``; returns the path to open."""
    train = solid(60) if colour else df.images(60, c=1)
    test = solid(15, seed=1) if colour else df.images(15, c=1, seed=1)
    if fmt == "idx":
        return df.write_idx_folder(folder / "idx", train, test, gz=colour)
    if fmt == "npz":
        extra = {"class_names": np.array(NAMES)} if colour else {}
        return df.write_npz(folder / "data.npz", train, test, **extra)
    if fmt == "csv":
        (folder / "csv").mkdir()
        df.write_csv(folder / "csv" / "mine_train.csv", *train, header=True)
        df.write_csv(folder / "csv" / "mine_test.csv", *test)
        return folder / "csv"
    return df.write_folder(folder / "pictures", train, test, class_names=NAMES if colour else None)


def combo(window):
    return window.findChild(QComboBox, "datasetBox")


def choose(window, data):
    """Pick the dataset box's entry with ``data``, as a user does."""
    c = combo(window)
    i = c.findData(data)
    assert i >= 0, data
    c.setCurrentIndex(i)
    c.activated.emit(i)


def open_through_box(window, qtbot, path, data_dialogs, timeout=20000):
    data_dialogs.answers["path"] = str(path)
    with qtbot.waitSignal(window.session.data.changed, timeout=timeout):
        choose(window, OPEN)


@pytest.fixture
def small(window):
    """The window with the tiny network and its settings (many epochs)."""
    s = window.session
    s.load_experiment(s.experiment().replace(layer_defs=TINY, name="tiny", epochs=50))
    return window


def adapt(window, qtbot):
    banner = window.build_tab.fit_banner
    assert banner.isVisibleTo(window.build_tab)
    qtbot.mouseClick(banner.button, Qt.LeftButton)
    assert not banner.isVisibleTo(window.build_tab)


def train_batches(window, qtbot, batches=3):
    s = window.session
    seen = s.examples_seen
    losses = []
    s.training.report.connect(lambda r: losses.append(r.get("cost_loss")))
    for _ in range(batches):
        assert s.training.step()
        qtbot.waitUntil(lambda seen=seen: s.examples_seen > seen, timeout=10000)
        seen = s.examples_seen
    s.training.stop()
    assert any(v is not None and np.isfinite(v) for v in losses)
    return seen


@pytest.mark.parametrize("colour", [False, True], ids=["grey", "rgb"])
@pytest.mark.parametrize("fmt", ["idx", "npz", "csv", "folder"])
def test_the_dataset_box_opens_every_format_and_the_network_trains_on_it(small, qtbot, tmp_path, data_dialogs,
                                                                         fmt, colour):
    w, s = small, small.session
    path = write(fmt, tmp_path, colour)
    open_through_box(w, qtbot, path, data_dialogs)
    ds = s.data.dataset
    c = 3 if colour else 1
    assert ds.image_shape == (8, 8, c) and ds.format == fmt and len(ds.train) == 60 and len(ds.test) == 15
    assert s.data.path == str(path) and s.settings.data == str(path)
    # the box shows it, and says what it is
    assert combo(w).currentData() == str(path) and combo(w).currentText() == path.name
    info = w.findChild(type(w.data_box.info), "datasetInfo").text()
    assert f"8x8 {'RGB' if colour else 'grey'}, 3 classes" in info and "60 training + 15 test" in info
    if colour and fmt in ("npz", "folder"):
        assert ds.class_names == (NAMES if fmt == "npz" else sorted(NAMES))
    # a small dataset: a fifth of it held out, shown in the validation box, with the note
    assert s.settings.validation == 12 and w.train_tab.controls.validation.value() == 12
    assert "holding out 12 of the 60 training images" in w.data_box.notes.text()
    # the demo-sized tiny network does not fit 8x8 images of 3 classes: adapt it, then train
    adapt(w, qtbot)
    assert w.doc.layers[0] == {"type": "input", "out_sx": 8, "out_sy": 8, "out_depth": c}
    assert w.doc.layers[-1]["num_classes"] == 3
    assert train_batches(w, qtbot) >= 3  # three batches, each of at least one example


def test_a_load_that_fails_says_why_and_keeps_the_dataset_in_use(small, qtbot, tmp_path, data_dialogs):
    w, s = small, small.session
    mnist, before = s.data.dataset, s.experiment()
    bad = tmp_path / "broken.csv"
    bad.write_text("label,p1,p2,p3,p4\n1,0,0,0,0\n2,0,0,0\n")
    data_dialogs.answers["path"] = str(bad)
    with qtbot.waitSignal(s.data.failed, timeout=10000):
        choose(w, OPEN)
    qtbot.waitUntil(lambda: not s.data.busy, timeout=5000)
    kind, title, text = [d for d in data_dialogs if d[0] == "warn"][-1]
    assert title == "Cannot open dataset" and "broken.csv" in text and "still MNIST" in text
    assert s.data.dataset is mnist and s.experiment() == before and s.data.path is None
    assert combo(w).currentData() == BUNDLED
    assert not w.data_box.progress.isVisible() and w.train_tab.controls.train_button.isEnabled()
    # a path that is not there at all
    data_dialogs.answers["path"] = str(tmp_path / "gone")
    choose(w, OPEN)
    assert "gone: no such file or folder" in data_dialogs[-1][2] and s.data.dataset is mnist


def test_cancel_stops_a_load_and_keeps_the_dataset_in_use(small, qtbot, tmp_path, data_dialogs, monkeypatch):
    w, s = small, small.session
    mnist = s.data.dataset
    path = df.write_folder(tmp_path / "pictures", solid(60))
    gate = threading.Event()
    real = datasets.load

    def held(path, progress=None, cancelled=None):  # the real load, held after its first progress
        def progress_then_wait(done, total):
            progress(done, total)
            gate.wait(10)
        return real(path, progress=progress_then_wait, cancelled=cancelled)

    monkeypatch.setattr(datatasks.datasets, "load", held)
    data_dialogs.answers["path"] = str(path)
    w.tabs.setCurrentWidget(w.train_tab)
    choose(w, OPEN)
    box = w.data_box
    qtbot.waitUntil(lambda: box.progress.isVisible() and box.cancel.isVisible(), timeout=5000)
    assert s.data.busy and "pictures" in box.progress.format()
    assert not w.train_tab.controls.train_button.isEnabled()  # the data it would train on is loading
    with qtbot.waitSignal(s.data.cancelled, timeout=10000):
        qtbot.mouseClick(box.cancel, Qt.LeftButton)
        gate.set()
    qtbot.waitUntil(lambda: not s.data.busy, timeout=5000)
    assert s.data.dataset is mnist and s.data.path is None and combo(w).currentData() == BUNDLED
    assert not box.progress.isVisible() and "cancelled" in box.notes.text()
    assert w.train_tab.controls.train_button.isEnabled()
    assert not [d for d in data_dialogs if d[0] == "warn"]  # a cancel is not a failure


def test_adapting_the_network_is_one_undoable_step(small, qtbot, tmp_path, data_dialogs, monkeypatch):
    w, s = small, small.session
    problems = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: problems.append((title, text)))
    open_through_box(w, qtbot, write("npz", tmp_path, True), data_dialogs)
    w.tabs.setCurrentWidget(w.build_tab)
    banner, panel = w.build_tab.fit_banner, w.build_tab.stack_panel
    assert banner.isVisible()
    assert "does not fit data (8x8 RGB, 3 classes)" in banner.text.text()
    assert "3 channels (RGB)" in banner.text.text() and "outputs 10 classes but the data has 3" in banner.text.text()
    delegate = panel.view.itemDelegate()
    assert set(delegate.notes) == {0, len(TINY) - 1}  # on the input and the loss cards
    assert "does not fit data" in panel.header.text()
    before, depth = list(w.doc.layers), w.doc.undo_stack.count()
    assert not s.training.train()  # training a network that does not fit says why instead
    asked = [d for d in data_dialogs if d[0] == "action"]
    assert asked[-1][1] == "The network does not fit the data" and data_dialogs.actions[-1] == "Adapt the network"
    assert w.doc.layers == before  # Cancel: nothing changed
    adapt(w, qtbot)
    assert w.doc.undo_stack.count() == depth + 1
    assert w.doc.layers[0]["out_depth"] == 3 and w.doc.layers[-1]["num_classes"] == 3
    assert w.doc.layers[1:-1] == before[1:-1]
    assert not delegate.notes and "does not fit" not in panel.header.text()
    w.doc.undo_stack.undo()
    assert w.doc.layers == before and banner.isVisible() and delegate.notes
    w.doc.undo_stack.redo()
    assert w.doc.layers[0]["out_depth"] == 3 and not banner.isVisible()


def test_colour_data_shows_in_colour_with_class_names(small, qtbot, tmp_path, data_dialogs):
    w, s = small, small.session
    open_through_box(w, qtbot, write("npz", tmp_path, True), data_dialogs)
    adapt(w, qtbot)
    train_batches(w, qtbot, 2)
    # the gallery: a test picture in its colour, its bars labelled by class name
    w.tabs.setCurrentWidget(w.train_tab)
    gallery = w.train_tab.gallery
    with qtbot.waitSignal(s.predictions.testPredictions, timeout=10000):
        s.predictions.sample_test_predictions(4)
    img, label, probs = gallery.items[0]
    assert img.shape == (8, 8, 3)
    cards = gallery.cards
    shot = cards.grab().toImage()
    r = cards.card_rect(0)
    px = shot.pixelColor(int(r.center().x() * shot.devicePixelRatio()), int(r.center().y() * shot.devicePixelRatio()))
    expect = img[4, 4]
    assert abs(px.red() - int(expect[0])) < 12 and abs(px.green() - int(expect[1])) < 12 \
        and abs(px.blue() - int(expect[2])) < 12
    assert [t for _, t in cards.bar_labels(probs)] and all(t in NAMES for _, t in cards.bar_labels(probs))
    # Inspect: the input in colour, the first conv's filters as colour pictures, names in the summary
    view = w.network_view
    w.tabs.setCurrentWidget(view)
    view.show_example(("test", 0))
    qtbot.waitUntil(lambda: view.state is not None and view.state["source"] == "test example #0", timeout=10000)
    x = s.data.dataset.test.images[0]
    row = view.rows[0]
    shot = row.act.grab().toImage()
    scale, dpr = row.act.scale, shot.devicePixelRatio()
    for (yy, xx) in ((1, 1), (4, 6)):
        px = shot.pixelColor(int((xx + 0.5) * scale * dpr), int((16 + (yy + 0.5) * scale) * dpr))
        assert (px.red(), px.green(), px.blue()) == pytest.approx(tuple(int(v) for v in x[yy, xx]), abs=2)
    filters = view.rows[1].filters
    assert filters.caption == "filters (colour)" and filters.maps.shape[-1] == 3
    fimg = filters.image
    colours = {(fimg.pixelColor(i, j).red(), fimg.pixelColor(i, j).green(), fimg.pixelColor(i, j).blue())
               for i in range(fimg.width()) for j in range(fimg.height())}
    assert any(len({r_, g_, b_}) == 3 for r_, g_, b_ in colours)  # colour, not grey
    name = NAMES[int(s.data.dataset.test.labels[0])]
    assert f"label {name}" in view.summary.text()
    # Evaluate: the confusion matrix's headers are the names
    w.tabs.setCurrentWidget(w.evaluate)
    with qtbot.waitSignal(s.predictions.evaluated, timeout=10000):
        w.evaluate.evaluate()
    t = w.evaluate.table
    assert [t.horizontalHeaderItem(i).text() for i in range(3)] == NAMES
    assert [t.verticalHeaderItem(i).text() for i in range(3)] == NAMES


def test_draw_offers_pictures_for_colour_data(small, qtbot, tmp_path, data_dialogs):
    from PIL import Image
    w, s = small, small.session
    open_through_box(w, qtbot, write("npz", tmp_path, True), data_dialogs)
    adapt(w, qtbot)
    draw = w.draw_panel
    w.tabs.setCurrentWidget(draw)
    assert not draw.canvas.isVisible() and draw.colour_panel.isVisible()
    assert "in colour" in draw.colour_note.text() and "8x8" in draw.colour_note.text()
    picture = np.zeros((40, 30, 3), np.uint8)
    picture[...] = (30, 200, 40)  # green, any size: read at the data's 8x8
    Image.fromarray(picture).save(tmp_path / "green.png")
    with qtbot.waitSignal(s.predictions.drawingPredicted, timeout=10000) as got:
        assert draw.open_image(str(tmp_path / "green.png"))
    assert "probs" in got.args[0] and len(got.args[0]["probs"]) == 3
    assert draw.bars.class_names == NAMES and draw.bars.probs is not None
    assert s.predictions.drawn.shape == (8, 8, 3)
    shot = draw.picture_view.grab().toImage()
    px = shot.pixelColor(shot.width() // 2, shot.height() // 2)
    assert (px.red(), px.green(), px.blue()) == (30, 200, 40)
    # Inspect shows the picture
    w.tabs.setCurrentWidget(w.network_view)
    w.network_view.show_example(("drawn", 0))
    qtbot.waitUntil(lambda: w.network_view.state is not None
                    and w.network_view.state["source"] == "your picture", timeout=10000)
    # a file that is not a picture: a dialog naming it, nothing changed
    (tmp_path / "notes.png").write_text("not a picture")
    assert not draw.open_image(str(tmp_path / "notes.png"))
    assert "notes.png" in data_dialogs[-1][2] and s.predictions.drawn.shape == (8, 8, 3)


def test_an_experiment_keeps_its_data_and_reopens_it(small, qtbot, tmp_path, data_dialogs):
    w, s = small, small.session
    project = tmp_path / "project"
    project.mkdir()
    path = write("folder", project, True)
    open_through_box(w, qtbot, path, data_dialogs)
    adapt(w, qtbot)
    assert s.settings_modified and w.files.save_as(str(project / "colours.json"))
    assert json.loads((project / "colours.json").read_text())["data"] == "pictures"  # beside the file
    # back to MNIST, then the experiment again: its data loads in the background
    with qtbot.waitSignal(s.data.changed, timeout=20000):
        choose(w, BUNDLED)
    assert s.data.dataset.name == "MNIST" and s.settings.data is None
    with qtbot.waitSignal(s.data.changed, timeout=20000):
        assert w.files.open_experiment(str(project / "colours.json"))
    assert s.data.dataset.name == "pictures" and s.data.path == str(path) and not s.settings_modified
    assert w.doc.layers[0]["out_depth"] == 3 and not w.build_tab.fit_banner.isVisibleTo(w.build_tab)
    # recent datasets are listed in the box
    assert combo(w).findData(str(path)) >= 0 and combo(w).findData(BUNDLED) == 0
    # moved as a whole: still found
    moved = tmp_path / "moved"
    project.rename(moved)
    with qtbot.waitSignal(s.data.changed, timeout=20000):
        choose(w, BUNDLED)
    with qtbot.waitSignal(s.data.changed, timeout=20000):
        assert w.files.open_experiment(str(moved / "colours.json"))
    assert s.data.path == str(moved / "pictures")
    # the data moved away from the experiment: said, with an offer to locate it
    (moved / "pictures").rename(tmp_path / "elsewhere")
    with qtbot.waitSignal(s.data.changed, timeout=20000):
        choose(w, BUNDLED)
    data_dialogs.answers.update(locate=True, path=str(tmp_path / "elsewhere"))
    with qtbot.waitSignal(s.data.changed, timeout=20000):
        assert w.files.open_experiment(str(moved / "colours.json"))
    kind, _, text = [d for d in data_dialogs if d[0] == "locate"][-1]
    assert str(moved / "pictures") in text
    assert s.data.path == str(tmp_path / "elsewhere") and s.data.dataset.image_shape == (8, 8, 3)
    assert w.doc.layers[0]["out_depth"] == 3


def test_the_data_place_shows_the_dataset(small, qtbot, tmp_path, data_dialogs):
    w, s = small, small.session
    open_through_box(w, qtbot, write("folder", tmp_path, True), data_dialogs)
    view = w.dataset_view
    with qtbot.waitSignal(s.data.overview, timeout=10000):
        qtbot.mouseClick(w.data_box.show_button, Qt.LeftButton)
    assert w.tabs.currentWidget() is view
    qtbot.waitUntil(lambda: view.overview is not None, timeout=5000)
    ov = view.overview
    assert view.title.text() == "pictures"
    assert "32x32" not in view.facts.text() and "8x8, 3 channels (RGB)" in view.facts.text()
    assert str(tmp_path / "pictures") in view.facts.text() and "a folder of images per class" in view.facts.text()
    assert view.chart.names == sorted(NAMES) and list(view.chart.train) == [20, 20, 20]
    assert list(view.chart.test) == [5, 5, 5]
    # the mean image of the blue class is blue, and the grid's samples are in colour
    blue = sorted(NAMES).index("blue")
    assert ov["class_means"][blue].mean(axis=(0, 1)) == pytest.approx(COLOURS[2], abs=12)
    grid = view.grid
    shot = grid.grab().toImage()
    r = grid.tile_rect(blue, 1)
    px = shot.pixelColor(int(r.center().x()), int(r.center().y()))
    assert abs(px.red() - 40) < 15 and abs(px.green() - 60) < 15 and abs(px.blue() - 230) < 15
    stats = view.stats.text().splitlines()
    assert stats[0] == "mean ± std, range" and [line.split(":")[0] for line in stats[1:]] == ["red", "green", "blue"]
    mean, std = datasets.pixel_stats(s.data.dataset.train.images)
    assert stats[3] == f"blue: {mean[2]:.1f} ± {std[2]:.1f}, {s.data.dataset.train.images[..., 2].min()}..{s.data.dataset.train.images[..., 2].max()}"


def test_the_tour_puts_the_learners_dataset_aside_and_gives_it_back(small, qtbot, tmp_path, data_dialogs):
    from workbench.tour.tour import Tour
    w, s = small, small.session
    path = write("npz", tmp_path, True)
    open_through_box(w, qtbot, path, data_dialogs)
    adapt(w, qtbot)
    mine, version = s.data.dataset, s.data.version
    tour = w.tour = Tour(w)
    with qtbot.waitSignal(s.data.changed, timeout=20000):
        assert tour.start()  # the lesson is on MNIST: it loads in the background
    assert s.data.dataset.name == "MNIST" and s.data.path is None
    tour.end()
    with qtbot.waitSignal(tour.ended, timeout=5000):
        qtbot.mouseClick(w.findChild(type(w.data_box.cancel), "tourRestore"), Qt.LeftButton)
    assert s.data.dataset is mine and s.data.path == str(path) and s.settings.data == str(path)
    assert s.data.version > version and combo(w).currentData() == str(path)
    assert s.validation_note and "holding out 12" in w.data_box.notes.text()
    assert w.doc.layers[0]["out_depth"] == 3 and not w.build_tab.fit_banner.isVisibleTo(w.build_tab)


@pytest.mark.slow
def test_the_window_stays_responsive_while_10000_png_files_load(qapp, tmp_path_factory):
    """Issue #12: 10,000 PNG files (32x32 RGB) load with the event loop's p99 lateness under 50 ms."""
    import importlib.util
    import pathlib
    spec = importlib.util.spec_from_file_location(
        "dataset_latency", pathlib.Path(__file__).resolve().parents[2] / "tools" / "dataset_latency.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    folder = tool.write_pngs(tmp_path_factory.mktemp("pngs"), 10000)
    out = tool.measure(folder)
    assert out["failed"] is None and out["files"] == 10000
    assert out["load_s"] < 15 and out["progress_signals"] >= 3
    assert out["p99_ms"] < 50, out


def test_names_from_files_are_shown_as_plain_text(small, qtbot, tmp_path, data_dialogs):
    from PySide6.QtWidgets import QLabel
    w, s = small, small.session
    path = df.write_npz(tmp_path / "<i>odd.npz", solid(60), solid(15, seed=1),
                        class_names=np.array(["<b>red</b>", "green", "blue"]))
    open_through_box(w, qtbot, path, data_dialogs)
    assert s.data.dataset.name == "<i>odd"
    for name in ("datasetInfo", "datasetNotes", "datasetTitle", "datasetFacts", "dataFitText", "statusData"):
        label = w.findChild(QLabel, name)
        assert label.textFormat() == Qt.PlainText, name
    assert "<i>odd" in w.findChild(QLabel, "datasetTitle").text()
    assert "&lt;i&gt;odd" in w.evaluate.result.text()
    assert "&lt;i&gt;odd" in w.build_tab.stack_panel.header.text()
    adapt(w, qtbot)
    view = w.network_view
    w.tabs.setCurrentWidget(view)
    view.show_example(("train", int(np.flatnonzero(s.data.dataset.train.labels == 0)[0])))
    qtbot.waitUntil(lambda: view.state is not None and view.state["label"] == 0, timeout=10000)
    assert "label &lt;b&gt;red&lt;/b&gt;" in view.summary.text()


def test_a_snapshot_brings_its_data_back(small, qtbot, tmp_path, data_dialogs):
    w, s = small, small.session
    path = write("csv", tmp_path, True)
    open_through_box(w, qtbot, path, data_dialogs)
    adapt(w, qtbot)
    train_batches(w, qtbot, 1)
    assert w.files.save_weights(str(tmp_path / "weights.json"))
    stored = json.loads((tmp_path / "weights.json").read_text())["workbench"]["experiment"]
    assert stored["data"] == "csv"  # beside the snapshot
    with qtbot.waitSignal(s.data.changed, timeout=20000):
        choose(w, BUNDLED)
    with qtbot.waitSignal(s.data.loading, timeout=20000) as started:
        assert w.files.open_snapshot(str(tmp_path / "weights.json"))
    assert started.args == [True] and "loading csv" in w.data_box.progress.format()
    qtbot.waitUntil(lambda: s.data.path == str(path), timeout=20000)
    assert s.data.dataset.image_shape == (8, 8, 3) and s.trained and w.doc.layers[0]["out_depth"] == 3


def test_the_curves_and_numbers_of_the_old_data_are_put_aside(small, qtbot, tmp_path, data_dialogs):
    w, _s = small, small.session
    loss, c = w.train_tab.loss_plot, w.train_tab.controls
    train_batches(w, qtbot, 2)
    qtbot.waitUntil(lambda: loss.cost_s.n >= 1, timeout=5000)
    assert c.stat_labels["examples"].text() != "–"
    old = len(loss.old_curves) + len(loss.other_data_curves)
    open_through_box(w, qtbot, write("npz", tmp_path, False), data_dialogs)
    # MNIST's curve greyed, put aside with the other data's runs (shown on request, issue #23)
    assert loss.cost_s.n == 0 and len(loss.other_data_curves) == old + 1 and not loss.old_curves
    assert not loss.other_data_curves[-1].isVisible() and loss.other_data.isVisibleTo(loss)
    assert c.stat_labels["examples"].text() == "–" and w.status.accuracy.text() == ""


def test_every_menu_shortcut_is_bound_once(window):
    """A key bound twice is ambiguous, and then neither binding works (the places' Ctrl+N too)."""
    from PySide6.QtGui import QAction
    seen = {}
    for a in window.findChildren(QAction):
        for k in a.shortcuts():
            if not k.isEmpty():
                assert k.toString() not in seen, (k.toString(), a.text(), seen.get(k.toString()))
                seen[k.toString()] = a.text()
    assert seen["Ctrl+7"] == "Show the d&ata" and seen["Ctrl+6"] == "Show the embedding &map"
